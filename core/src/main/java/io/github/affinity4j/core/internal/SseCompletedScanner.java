package io.github.affinity4j.core.internal;

import io.github.affinity4j.core.ChainKey;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the finished response in a Responses API event stream ({@code text/event-stream}) while the
 * stream passes by: the {@code response.completed} event (or {@code response.incomplete}), whose
 * {@code response} carries the id and every output item.
 *
 * <pre>
 * event: response.completed
 * data: {"type":"response.completed","response":{"id":"resp_…","status":"completed","output":[…],…}}
 * </pre>
 *
 * <p>The adapter tees the stream, as for {@link SseResponseIdScanner}; both scanners may be fed the
 * same chunks.
 *
 * <pre>{@code
 * SseCompletedScanner completed = new SseCompletedScanner();
 * // in the tee, for each chunk read from the network:
 * if (!completed.isDone()) {
 *   completed.feed(chunk, 0, count).ifPresent(turn::record);
 * }
 * }</pre>
 *
 * <p>It follows the SSE format as {@link SseResponseIdScanner} does (CRLF, LF or CR line ends;
 * {@code data:} lines joined with LF; comments; a blank line ends an event). It never buffers the
 * stream: an event whose {@code event:} name is anything else (the deltas, which are most of a
 * stream) is skipped without buffering its data; only an event named {@code response.completed}
 * or {@code response.incomplete}, or one without a name, is buffered, up to the byte bound, and
 * its type is then read from the data. It reports the first terminal event and is then done; it
 * is also done after a {@code response.failed} or {@code error} event (named or typed so), and
 * gives up (one DEBUG line) when
 * a buffered event exceeds the bound. An event cut off by the end of the stream is never reported.
 * Bad data never throws.
 *
 * <p>Not thread-safe: use one instance per stream, fed by one thread at a time.
 */
public final class SseCompletedScanner {

  /**
   * The default bound on a buffered event, 8 MiB: a {@code response.completed} event carries the
   * whole response (every output item, and the request's instructions and tools echoed), so it
   * gets the same bound as a request body the interceptor reads.
   */
  public static final int DEFAULT_MAX_EVENT_BYTES = 8 << 20;

  static final String COMPLETED = "response.completed";
  static final String INCOMPLETE = "response.incomplete";

  private static final Logger logger = LoggerFactory.getLogger(SseCompletedScanner.class);

  private static final byte[] COMPLETED_BYTES = COMPLETED.getBytes(StandardCharsets.US_ASCII);
  private static final byte[] INCOMPLETE_BYTES = INCOMPLETE.getBytes(StandardCharsets.US_ASCII);
  private static final byte[] FAILED_BYTES = "response.failed".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] ERROR_BYTES = {'e', 'r', 'r', 'o', 'r'};

  private final int maxEventBytes;
  private final SseParser sse;
  private @Nullable TurnOutput output;
  // True once an event: line named response.failed or error: the stream ends with this event.
  private boolean ending;

  /** Creates a scanner that gives up on a buffered event over {@link #DEFAULT_MAX_EVENT_BYTES}. */
  public SseCompletedScanner() {
    this(DEFAULT_MAX_EVENT_BYTES);
  }

  /**
   * Creates a scanner that gives up on a buffered event whose data exceeds {@code maxEventBytes}.
   *
   * @throws IllegalArgumentException if {@code maxEventBytes} is not positive
   */
  public SseCompletedScanner(int maxEventBytes) {
    if (maxEventBytes <= 0) {
      throw new IllegalArgumentException("maxEventBytes must be positive, got " + maxEventBytes
          + "; the default is " + DEFAULT_MAX_EVENT_BYTES);
    }
    this.maxEventBytes = maxEventBytes;
    // Only buffered data counts against the bound: the skipped deltas may be any size.
    this.sse = new SseParser(new TerminalEvent(), maxEventBytes, Long.MAX_VALUE);
  }

  /** Returns true once the scanner has reported the response or given up; stop feeding then. */
  public boolean isDone() {
    return sse.isStopped();
  }

  /**
   * Scans the next bytes of the stream. Returns the finished response from the call in which its
   * event completes; empty from every other call.
   *
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code bytes}
   */
  public Optional<TurnOutput> feed(byte[] bytes, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, bytes.length);
    if (sse.isStopped()) {
      return Optional.empty();
    }
    sse.feed(bytes, offset, length);
    return Optional.ofNullable(output); // set only as the scanner stops
  }

  private final class TerminalEvent implements SseParser.Handler {

    @Override
    public boolean wantsData() {
      if (isTerminalName()) {
        return true;
      }
      ending = sse.eventNameIs(FAILED_BYTES) || sse.eventNameIs(ERROR_BYTES);
      return false;
    }

    @Override
    public void endEvent(boolean hasData) {
      if (hasData && ending) {
        sse.stop();
        logger.debug("Stream ended with a failure event; no output to record");
      } else if (hasData && !sse.isSkipped()) {
        output = read();
      }
      ending = false;
    }

    @Override
    public void tooLarge() {
      logger.debug("SSE event exceeds {} bytes; response output not read", maxEventBytes);
    }
  }

  private @Nullable TurnOutput read() {
    JsonScanner json = new JsonScanner(sse.data(), 0, sse.dataLength());
    try {
      if (!json.enterObject()) {
        return notRead("event data is not a JSON object");
      }
      String type = null;
      TurnOutput response = null;
      while (json.nextField()) {
        if (json.fieldIs("type")) {
          type = json.readString();
          if (type != null && !sse.isNamed() && !COMPLETED.equals(type) && !INCOMPLETE.equals(type)) {
            return ended(type); // an unnamed event of another type: no need to read on
          }
        } else if (json.fieldIs("response") && json.enterObject()) {
          response = TurnOutput.readObject(json, sse.data(), TurnOutput.Items.READ, ChainKey.Kind.RESPONSE)
              .output();
        } else {
          json.skipValue();
        }
      }
      if (type != null && !COMPLETED.equals(type) && !INCOMPLETE.equals(type)) {
        return ended(type); // the name said terminal, the type says otherwise: trust neither
      }
      if (type == null && !sse.isNamed()) {
        return notRead("unnamed event without a type");
      }
      sse.stop();
      if (response == null) {
        logger.debug("Terminal SSE event without a usable response; no output to record");
        return null;
      }
      logger.debug("Response {} output read from the stream ({} bytes)", response.responseId(),
          response.itemSource().size());
      return response;
    } catch (IOException e) {
      return notRead("event data is not valid JSON (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** An event that is not the terminal one; {@code response.failed} and {@code error} end the stream. */
  private @Nullable TurnOutput ended(String type) {
    if ("response.failed".equals(type) || "error".equals(type)) {
      sse.stop();
      logger.debug("Stream ended with {}; no output to record", type);
    }
    return null;
  }

  private @Nullable TurnOutput notRead(String why) {
    if (sse.isNamed()) {
      sse.stop(); // it was named terminal: there is no other
      logger.debug("Terminal SSE event not read: {}", why);
    }
    return null;
  }

  private boolean isTerminalName() {
    return sse.eventNameIs(COMPLETED_BYTES) || sse.eventNameIs(INCOMPLETE_BYTES);
  }
}
