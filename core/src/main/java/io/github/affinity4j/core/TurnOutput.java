package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a successful Responses API response says about its turn: its id and the output items it
 * returned. Read from a JSON body with {@link #fromResponseBody}, or from a stream with an
 * {@link SseCompletedScanner}.
 *
 * <pre>{@code
 * TurnOutput.fromResponseBody(bytes, 0, bytes.length).ifPresent(turn::record);
 * }</pre>
 *
 * <p>Output items are held as one JSON array in bytes, as the response sent them. Only a response
 * whose {@link #status()} is {@code completed} or {@code incomplete} (or absent) can be continued
 * with its full output; see {@link #isContinuable()}. Immutable and thread-safe.
 */
public final class TurnOutput {

  private static final Logger logger = LoggerFactory.getLogger(TurnOutput.class);

  private final String responseId;
  private final @Nullable String status;
  private final byte[] items;

  private TurnOutput(String responseId, @Nullable String status, byte[] items) {
    this.responseId = responseId;
    this.status = status;
    this.items = items;
  }

  /**
   * Returns a turn output; for tests and for adapters that read responses their own way.
   *
   * @param responseId the response id
   * @param status the response status, or null if unknown
   * @param items the output items as a JSON array; copied
   * @throws IllegalArgumentException if {@code responseId} is not a valid id
   * @throws NullPointerException if {@code items} is null
   */
  public static TurnOutput of(String responseId, @Nullable String status, byte[] items) {
    if (!ChainKey.isValidId(responseId)) {
      throw new IllegalArgumentException("responseId must be a valid id, got " + ChainKey.describe(responseId));
    }
    return new TurnOutput(responseId, status, requireNonNull(items, "items").clone());
  }

  /**
   * Reads a JSON response body: its top-level {@code id}, {@code status} and {@code output}. Returns
   * empty, with one DEBUG line and never an exception, if the body is not a JSON object, has an
   * {@code object} other than {@code response}, or lacks a valid {@code id} or an {@code output}
   * array.
   *
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code body}
   */
  public static Optional<TurnOutput> fromResponseBody(byte[] body, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, body.length);
    try (JsonParser parser = Json.FACTORY.createParser(body, offset, length)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        logger.debug("Response body is not a JSON object; no output to record");
        return Optional.empty();
      }
      return Optional.ofNullable(readResponse(parser, body, offset));
    } catch (IOException e) {
      logger.debug("Response body is not valid JSON ({}); no output to record", e.getClass().getSimpleName());
      return Optional.empty();
    }
  }

  /**
   * Reads the rest of a response object the parser has just entered; null (with one DEBUG line)
   * if it is not a usable response. The parser reads {@code source} from {@code base}.
   */
  static @Nullable TurnOutput readResponse(JsonParser parser, byte[] source, int base) throws IOException {
    String id = null;
    String object = null;
    String status = null;
    byte[] output = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String field = parser.currentName();
      JsonToken value = parser.nextToken();
      if ("output".equals(field) && value == JsonToken.START_ARRAY) {
        output = Json.rawValue(parser, source, base);
      } else if (value == JsonToken.VALUE_STRING && "id".equals(field)) {
        id = parser.getText();
      } else if (value == JsonToken.VALUE_STRING && "object".equals(field)) {
        object = parser.getText();
      } else if (value == JsonToken.VALUE_STRING && "status".equals(field)) {
        status = parser.getText();
      } else {
        parser.skipChildren();
      }
    }
    if (object != null && !"response".equals(object)) {
      logger.debug("Body is not a response object; no output to record");
      return null;
    }
    if (id == null || !ChainKey.isValidId(id)) {
      logger.debug("Response has no valid id ({}); no output to record", ChainKey.describe(id));
      return null;
    }
    if (output == null) {
      logger.debug("Response {} has no output array; no output to record", id);
      return null;
    }
    return new TurnOutput(id, status, output);
  }

  /** Returns the response id. */
  public String responseId() {
    return responseId;
  }

  /** Returns the response status ({@code completed}, {@code incomplete}, {@code queued}, …), if given. */
  public Optional<String> status() {
    return Optional.ofNullable(status);
  }

  /**
   * Returns true if the output is final, so the turn can be journaled: status {@code completed},
   * {@code incomplete} (cut short, e.g. by {@code max_output_tokens}, but stored and continuable)
   * or absent. A {@code queued} or {@code in_progress} background response has no output yet, and
   * a {@code failed} or {@code cancelled} one is not a turn to build on.
   */
  public boolean isContinuable() {
    return status == null || "completed".equals(status) || "incomplete".equals(status);
  }

  /** Returns the output items as a JSON array: a fresh copy on each call. */
  public byte[] items() {
    return items.clone();
  }

  /** The items without copying; the engine never modifies them. */
  byte[] itemBytes() {
    return items;
  }

  /** Shows the id, status and size, never the items. */
  @Override
  public String toString() {
    return "TurnOutput[responseId=" + responseId + ", status=" + status + ", bytes=" + items.length + ']';
  }
}
