package io.github.affinity4j.core.internal;

import io.github.affinity4j.core.ChainKey.Kind;
import io.github.affinity4j.core.ChainKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the response id in a Responses API event stream ({@code text/event-stream}) while the
 * stream passes by. The id comes in the first event:
 *
 * <pre>
 * event: response.created
 * data: {"type":"response.created","response":{"id":"resp_…",…}}
 * </pre>
 *
 * <p>The adapter tees the stream: every chunk the caller reads is also fed here, unchanged, and the
 * caller gets the stream as it came.
 *
 * <pre>{@code
 * SseResponseIdScanner scanner = new SseResponseIdScanner();
 * // in the tee, for each chunk read from the network:
 * if (!scanner.isDone()) {
 *   scanner.feed(chunk, 0, count).ifPresent(id -> registry.bind(id, requestKey, freshToken));
 * }
 * }</pre>
 *
 * <p>It follows the SSE format: lines end with CRLF, LF or CR; {@code data:} lines of one event are
 * joined with LF; lines starting with {@code :} are comments; an event ends with a blank line, and
 * one without data (a keep-alive) is not an event. It looks at the first event only: it reports the
 * id if that event is {@code response.created} (by its {@code type}, or by its {@code event:} name
 * when the data has no type), and then, or if the first event is anything else, it is done. It
 * buffers at most that one event's data, and gives up when the event exceeds the byte bound. An
 * event cut off by the end of the stream is never reported. Bad data gives up quietly (one DEBUG
 * line), never an exception.
 *
 * <p>Not thread-safe: use one instance per stream, fed by one thread at a time.
 */
public final class SseResponseIdScanner {

  /** The default bound on the first event, 1 MiB; a {@code response.created} event is a few KiB. */
  public static final int DEFAULT_MAX_EVENT_BYTES = 1 << 20;

  static final String RESPONSE_CREATED = "response.created";

  private static final Logger logger = LoggerFactory.getLogger(SseResponseIdScanner.class);

  private static final byte[] RESPONSE_CREATED_BYTES =
      RESPONSE_CREATED.getBytes(StandardCharsets.US_ASCII);

  private final int maxEventBytes;
  private final SseParser sse;
  private Optional<ChainKey> found = Optional.empty();

  /** Creates a scanner that gives up on a first event over {@link #DEFAULT_MAX_EVENT_BYTES}. */
  public SseResponseIdScanner() {
    this(DEFAULT_MAX_EVENT_BYTES);
  }

  /**
   * Creates a scanner that gives up on a first event over {@code maxEventBytes} bytes, line ends
   * included.
   *
   * @throws IllegalArgumentException if {@code maxEventBytes} is not positive
   */
  public SseResponseIdScanner(int maxEventBytes) {
    if (maxEventBytes <= 0) {
      throw new IllegalArgumentException(
          "maxEventBytes must be positive, got " + maxEventBytes + "; the default is "
              + DEFAULT_MAX_EVENT_BYTES);
    }
    this.maxEventBytes = maxEventBytes;
    // Every byte up to the first event counts against the bound, so its data never exceeds it.
    this.sse = new SseParser(new FirstEvent(), maxEventBytes, maxEventBytes);
  }

  /**
   * Returns true once the scanner has reported the response id or given up; further bytes are
   * ignored, so the adapter may stop feeding.
   */
  public boolean isDone() {
    return sse.isStopped();
  }

  /**
   * Scans the next bytes of the stream. Returns the response id (a {@link ChainKey.Kind#RESPONSE}
   * key) from the call in which the first event completes as {@code response.created}; empty from
   * every other call.
   *
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code bytes}
   */
  public Optional<ChainKey> feed(byte[] bytes, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, bytes.length);
    if (sse.isStopped()) {
      return Optional.empty();
    }
    sse.feed(bytes, offset, length);
    return found;
  }

  private final class FirstEvent implements SseParser.Handler {

    @Override
    public boolean wantsData() {
      return true; // the last event: line decides, when the event ends
    }

    @Override
    public void endEvent(boolean hasData) {
      if (!hasData) {
        return; // comments and a lone event name are not an event (SSE rules); keep looking
      }
      if (sse.isNamed() && !sse.eventNameIs(RESPONSE_CREATED_BYTES)) {
        logger.debug("First SSE event is not response.created; no response id");
      } else {
        found = fromResponseCreated(sse.data(), 0, sse.dataLength(), sse.isNamed());
        found.ifPresent(k -> logger.debug("Response id {} read from the stream", k.id()));
      }
      sse.stop();
    }

    @Override
    public void tooLarge() {
      logger.debug("First SSE event exceeds {} bytes; response id not read", maxEventBytes);
    }
  }

  /**
   * Reads the data of one SSE event: {@code {"type":"response.created","response":{"id":…}}}.
   * Without a {@code type}, the event's name decides.
   */
  private static Optional<ChainKey> fromResponseCreated(byte[] data, int offset, int length, boolean named) {
    JsonScanner json = new JsonScanner(data, offset, length);
    try {
      if (!json.enterObject()) {
        logger.debug("First SSE event data is not a JSON object; no response id");
        return Optional.empty();
      }
      String type = null;
      ChainKey created = null;
      boolean hasResponse = false;
      while (json.nextField()) {
        if (json.fieldIs("type")) {
          type = json.readString();
          if (type != null && !RESPONSE_CREATED.equals(type)) {
            logger.debug("First SSE event is {}, not response.created; no response id",
                ChainKey.isValidId(type) ? type : Names.describe(type));
            return Optional.empty();
          }
        } else if (json.fieldIs("response") && json.peek() == '{') {
          hasResponse = true;
          int depth = json.depth();
          json.enterObject();
          created = TurnOutput.readObject(json, data, TurnOutput.Items.NONE, Kind.RESPONSE).chain();
          json.leaveTo(depth); // the reading stops once it knows the id
        } else {
          json.skipValue();
        }
        if (type != null && hasResponse) {
          break;
        }
      }
      if (type == null && !named) {
        logger.debug("First SSE event has no type; no response id");
        return Optional.empty();
      }
      if (created == null || created.kind() != Kind.RESPONSE) {
        logger.debug("response.created event has no response id; nothing to bind");
        return Optional.empty();
      }
      return Optional.of(created);
    } catch (IOException e) {
      logger.debug("First SSE event data is not valid JSON ({}); no response id",
          e.getClass().getSimpleName());
      return Optional.empty();
    }
  }
}
