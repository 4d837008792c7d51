package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.ChainKey;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
  private final ItemSource items;

  /** How much of a response object a reading takes in: for {@link #readObject}. */
  enum Items {
    /** None: reading stops as soon as the chain is known. */
    NONE,
    /**
     * Where the output array is, to be read out when needed: it is skipped over (which checks it
     * is JSON), neither copied nor read item by item; the source is kept.
     */
    LOCATE,
    /** The output array, read and copied now. */
    READ
  }

  private TurnOutput(String responseId, @Nullable String status, ItemSource items) {
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
      throw new IllegalArgumentException("responseId must be a valid id, got " + Names.describe(responseId));
    }
    byte[] copy = requireNonNull(items, "items").clone();
    return new TurnOutput(responseId, status, ItemSource.array(copy, 0, copy.length));
  }

  /**
   * What a JSON response body says, read in one pass: the chain it creates or extends, and for a
   * response object with a valid id and an {@code output} array, its output.
   *
   * @param chain the chain, unscoped: {@code object} {@code response}, {@code conversation} or
   *     {@code thread} names that kind of key for {@code id}; another {@code thread.*} object a
   *     thread key for {@code thread_id}; no {@code object}, the kind the id's prefix names
   *     ({@code resp_}, {@code conv_}, {@code thread_}); anything else (a list, a deleted marker)
   *     none
   * @param output the output, if asked for and present
   */
  public record Read(@Nullable ChainKey chain, @Nullable TurnOutput output) {
    static final Read NOTHING = new Read(null, null);
  }

  /**
   * Reads a JSON response body; never throws for bad data (one DEBUG line says what was missing).
   * Without {@code withOutput}, reading stops as soon as the chain is known: for a response
   * object, after its first two fields.
   *
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code body}
   */
  public static Read read(byte[] body, int offset, int length, boolean withOutput) {
    return read(body, offset, length, withOutput ? Items.READ : Items.NONE);
  }

  /**
   * Reads a JSON response body for a turn that is journaled, as {@link #read} with its output,
   * except that the output is found, not copied: it is read out of {@code body} only if a replay or
   * a journal asks for it ({@link #itemSource()}). {@code body} is kept: the caller must not modify
   * it.
   *
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code body}
   */
  public static Read readLazily(byte[] body, int offset, int length) {
    return read(body, offset, length, Items.LOCATE);
  }

  private static Read read(byte[] body, int offset, int length, Items items) {
    Objects.checkFromIndexSize(offset, length, body.length);
    JsonScanner json = new JsonScanner(body, offset, length);
    try {
      if (!json.enterObject()) {
        json.skipValue(); // what is not JSON at all is said so below
        logger.debug("Response body is not a JSON object; nothing to bind");
        return Read.NOTHING;
      }
      return readObject(json, body, items, null);
    } catch (IOException e) {
      logger.debug("Response body is not valid JSON ({}); nothing to bind", e.getClass().getSimpleName());
      return Read.NOTHING;
    }
  }

  /** The output of a JSON response body, as {@link #read} finds it. */
  public static Optional<TurnOutput> fromResponseBody(byte[] body, int offset, int length) {
    return Optional.ofNullable(read(body, offset, length, true).output());
  }

  /** The chain a JSON response body names, as {@link #read} finds it. */
  public static Optional<ChainKey> chainOf(byte[] body, int offset, int length) {
    return Optional.ofNullable(read(body, offset, length, false).chain());
  }

  /**
   * Reads the rest of an object the parser has just entered, from {@code source} at {@code base}.
   * An object without an {@code object} field is of kind {@code known}, if given (the
   * {@code response} of a stream's event), else of the kind its id's prefix names.
   */
  static Read readObject(JsonScanner json, byte[] source, Items items, ChainKey.@Nullable Kind known)
      throws IOException {
    String id = null;
    String object = null;
    String status = null;
    String threadId = null;
    ItemSource output = null;
    while (json.nextField()) {
      if (items != Items.NONE && json.fieldIs("output") && json.peek() == '[') {
        int start = json.valueStart();
        int end = json.skipValue();
        output = items == Items.READ
            ? ItemSource.array(Arrays.copyOfRange(source, start, end), 0, end - start)
            : ItemSource.array(source, start, end);
      } else if (json.fieldIs("id")) {
        id = json.readString();
      } else if (json.fieldIs("object")) {
        object = json.readString();
      } else if (json.fieldIs("status")) {
        status = json.readString();
      } else if (json.fieldIs("thread_id")) {
        threadId = json.readString();
      } else {
        json.skipValue();
      }
      if (items == Items.NONE && object != null && decided(object, id, threadId)) {
        break;
      }
    }
    ChainKey chain = object == null && known != null ? valid(known, id, "id") : chainKey(object, id, threadId);
    if (items == Items.NONE || chain == null || chain.kind() != ChainKey.Kind.RESPONSE) {
      return new Read(chain, null);
    }
    if (output == null) {
      logger.debug("Response {} has no output array; no output to record", id);
      return new Read(chain, null);
    }
    return new Read(chain, new TurnOutput(chain.id(), status, output));
  }

  /** Returns true once the fields read so far settle the key for this {@code object}. */
  private static boolean decided(String object, @Nullable String id, @Nullable String threadId) {
    return switch (object) {
      case "response", "conversation", "thread" -> id != null;
      default -> !object.startsWith("thread.") || threadId != null;
    };
  }

  private static @Nullable ChainKey chainKey(@Nullable String object, @Nullable String id,
      @Nullable String threadId) {
    if (object == null) {
      ChainKey.Kind kind = id == null ? null
          : id.startsWith("resp_") ? ChainKey.Kind.RESPONSE
          : id.startsWith("conv_") ? ChainKey.Kind.CONVERSATION
          : id.startsWith("thread_") ? ChainKey.Kind.THREAD
          : null;
      return kind == null ? missing("id of a known kind") : valid(kind, id, "id");
    }
    switch (object) {
      case "response":
        return valid(ChainKey.Kind.RESPONSE, id, "id");
      case "conversation":
        return valid(ChainKey.Kind.CONVERSATION, id, "id");
      case "thread":
        return valid(ChainKey.Kind.THREAD, id, "id");
      default:
        return object.startsWith("thread.") ? valid(ChainKey.Kind.THREAD, threadId, "thread_id") : null;
    }
  }

  private static @Nullable ChainKey missing(String field) {
    logger.debug("Response body has no {}; nothing to bind", field);
    return null;
  }

  private static @Nullable ChainKey valid(ChainKey.Kind kind, @Nullable String id, String field) {
    if (id == null) {
      return missing("string " + field);
    }
    Optional<ChainKey> key = ChainKey.parse(kind, id);
    if (key.isEmpty()) {
      logger.debug("Ignored {}: not a valid id ({})", field, Names.describe(id));
    }
    return key.orElse(null);
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

  /**
   * Returns true for a background response not finished yet, status {@code queued} or
   * {@code in_progress}: its output comes later, on a poll of the backend that holds it.
   */
  public boolean isPending() {
    return "queued".equals(status) || "in_progress".equals(status);
  }

  /** Returns the ids of the output items, in order; items without a valid id are skipped. */
  public List<String> itemIds() {
    List<String> ids = new ArrayList<>();
    byte[] array = items.readOwned();
    JsonScanner json = new JsonScanner(array, 0, array.length);
    try {
      if (!json.enterArray()) {
        return ids;
      }
      while (json.nextElement()) {
        if (!json.enterObject()) {
          json.skipValue();
          continue;
        }
        while (json.nextField()) {
          if (json.fieldIs("id")) {
            String id = json.readString();
            if (id != null && ChainKey.isValidId(id)) {
              ids.add(id);
            }
          } else {
            json.skipValue();
          }
        }
      }
    } catch (IOException e) {
      logger.debug("Output items unreadable ({}); their ids not bound", e.getClass().getSimpleName());
    }
    return ids;
  }

  /** Returns the output items as a JSON array: a fresh copy on each call. */
  public byte[] items() {
    return items.read();
  }

  /** Returns where the output items are, to be read when needed. */
  public ItemSource itemSource() {
    return items;
  }

  /** Shows the id, status and size, never the items. */
  @Override
  public String toString() {
    return "TurnOutput[responseId=" + responseId + ", status=" + status + ", bytes=" + items.size() + ']';
  }
}
