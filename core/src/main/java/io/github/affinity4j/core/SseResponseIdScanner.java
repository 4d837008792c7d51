package io.github.affinity4j.core;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
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
  private static final byte[] DATA = {'d', 'a', 't', 'a'};
  private static final byte[] EVENT = {'e', 'v', 'e', 'n', 't'};

  private enum State { LINE_START, NAME, VALUE_START, VALUE, COMMENT }

  private enum Field { DATA, EVENT, OTHER }

  private final int maxEventBytes;

  private State state = State.LINE_START;
  private boolean afterCr;
  private boolean done;
  private int eventBytes;

  // Field names longer than "event" are fields this scanner ignores.
  private final byte[] name = new byte[EVENT.length];
  private int nameLength;
  private Field field = Field.OTHER;

  private byte[] data;
  private int dataLength;
  private boolean dataSeen;

  private final byte[] eventName = new byte[RESPONSE_CREATED_BYTES.length];
  private int eventNameLength;
  private boolean eventSeen;

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
    this.data = new byte[Math.min(256, maxEventBytes)];
  }

  /**
   * Returns true once the scanner has reported the response id or given up; further bytes are
   * ignored, so the adapter may stop feeding.
   */
  public boolean isDone() {
    return done;
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
    for (int i = offset, end = offset + length; i < end && !done; i++) {
      byte b = bytes[i];
      if (++eventBytes > maxEventBytes) {
        giveUp();
        return Optional.empty();
      }
      if (afterCr) {
        afterCr = false;
        if (b == '\n') {
          continue; // the LF of a CRLF
        }
      }
      if (b == '\r' || b == '\n') {
        afterCr = b == '\r';
        if (state == State.LINE_START) {
          Optional<ChainKey> key = dispatch();
          if (done) {
            return key;
          }
        } else if (state == State.NAME) {
          startValue(); // a line without a colon is a field with an empty value
        }
        state = State.LINE_START;
        continue;
      }
      switch (state) {
        case LINE_START -> {
          if (b == ':') {
            state = State.COMMENT;
          } else {
            nameLength = 0;
            appendName(b);
            state = State.NAME;
          }
        }
        case NAME -> {
          if (b == ':') {
            startValue();
            state = State.VALUE_START;
          } else {
            appendName(b);
          }
        }
        case VALUE_START -> {
          state = State.VALUE;
          if (b != ' ') {
            appendValue(b);
          }
        }
        case VALUE -> appendValue(b);
        case COMMENT -> { }
      }
    }
    return Optional.empty();
  }

  private void appendName(byte b) {
    if (nameLength < name.length) {
      name[nameLength] = b;
    }
    nameLength++;
  }

  private void startValue() {
    if (matches(name, nameLength, DATA)) {
      field = Field.DATA;
      if (dataSeen) {
        appendData((byte) '\n');
      }
      dataSeen = true;
    } else if (matches(name, nameLength, EVENT)) {
      field = Field.EVENT;
      eventNameLength = 0;
      eventSeen = true;
    } else {
      field = Field.OTHER;
    }
  }

  private void appendValue(byte b) {
    if (field == Field.DATA) {
      appendData(b);
    } else if (field == Field.EVENT) {
      // A name longer than the buffer cannot be response.created; the overflowing length says so.
      if (eventNameLength < eventName.length) {
        eventName[eventNameLength] = b;
      }
      eventNameLength++;
    }
  }

  private void appendData(byte b) {
    // Cannot overflow the bound: every data byte, and every LF joining lines, was counted in
    // eventBytes, which is at most maxEventBytes.
    if (dataLength == data.length) {
      data = Arrays.copyOf(data, Math.min(data.length * 2, maxEventBytes));
    }
    data[dataLength++] = b;
  }

  /** Ends an event at a blank line; reports on the first event that has data. */
  private Optional<ChainKey> dispatch() {
    if (!dataSeen) {
      // Comments and a lone event name are not an event (SSE dispatch rules); keep looking.
      eventSeen = false;
      eventNameLength = 0;
      eventBytes = 0;
      return Optional.empty();
    }
    done = true;
    Optional<ChainKey> key;
    if (eventSeen && !matches(eventName, eventNameLength, RESPONSE_CREATED_BYTES)) {
      logger.debug("First SSE event is not response.created; no response id");
      key = Optional.empty();
    } else {
      key = ChainKeys.fromResponseCreated(data, 0, dataLength, eventSeen);
      key.ifPresent(k -> logger.debug("Response id {} read from the stream", k.id()));
    }
    data = null;
    return key;
  }

  private void giveUp() {
    done = true;
    data = null;
    logger.debug("First SSE event exceeds {} bytes; response id not read", maxEventBytes);
  }

  private static boolean matches(byte[] buffer, int length, byte[] expected) {
    return length == expected.length && Arrays.equals(buffer, 0, length, expected, 0, length);
  }
}
