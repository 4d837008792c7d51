package io.github.affinity4j.core;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
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
  private static final byte[] DATA = {'d', 'a', 't', 'a'};
  private static final byte[] EVENT = {'e', 'v', 'e', 'n', 't'};
  private static final int INITIAL_BUFFER = 256;
  // A buffer grown past this by an unnamed event is dropped after it, so it is not held all stream.
  private static final int KEPT_BUFFER = 64 * 1024;

  private enum State { LINE_START, NAME, VALUE_START, VALUE, COMMENT }

  private enum Field { DATA, EVENT, OTHER }

  private final int maxEventBytes;

  private State state = State.LINE_START;
  private boolean afterCr;
  private boolean done;

  private final byte[] name = new byte[EVENT.length];
  private int nameLength;
  private Field field = Field.OTHER;

  private byte[] data;
  private int dataLength;
  private boolean dataSeen;
  // True once an event: line named anything but a terminal event: its data is not buffered.
  private boolean skipping;
  // True once an event: line named response.failed or error: the stream ends with this event.
  private boolean ending;

  private final byte[] eventName = new byte[INCOMPLETE_BYTES.length];
  private int eventNameLength;
  private boolean eventSeen;

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
    this.data = new byte[Math.min(INITIAL_BUFFER, maxEventBytes)];
  }

  /** Returns true once the scanner has reported the response or given up; stop feeding then. */
  public boolean isDone() {
    return done;
  }

  /**
   * Scans the next bytes of the stream. Returns the finished response from the call in which its
   * event completes; empty from every other call.
   *
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code bytes}
   */
  public Optional<TurnOutput> feed(byte[] bytes, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, bytes.length);
    for (int i = offset, end = offset + length; i < end && !done; i++) {
      byte b = bytes[i];
      if (afterCr) {
        afterCr = false;
        if (b == '\n') {
          continue; // the LF of a CRLF
        }
      }
      if (b == '\r' || b == '\n') {
        afterCr = b == '\r';
        if (state == State.LINE_START) {
          TurnOutput output = dispatch();
          if (output != null) {
            return Optional.of(output);
          }
        } else {
          if (state == State.NAME) {
            startValue(); // a line without a colon is a field with an empty value
          }
          endLine();
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
      if (eventNameLength < eventName.length) {
        eventName[eventNameLength] = b;
      }
      eventNameLength++; // a longer name overflows the length, so it matches no terminal name
    }
  }

  private void endLine() {
    if (field == Field.EVENT && !isTerminalName()) {
      skipping = true;
      dataLength = 0;
      ending = matches(eventName, eventNameLength, FAILED_BYTES)
          || matches(eventName, eventNameLength, ERROR_BYTES);
    }
    field = Field.OTHER;
  }

  private void appendData(byte b) {
    if (skipping || done) {
      return;
    }
    if (dataLength == data.length) {
      if (dataLength >= maxEventBytes) {
        giveUp();
        return;
      }
      data = Arrays.copyOf(data, (int) Math.min((long) data.length * 2, maxEventBytes));
    }
    data[dataLength++] = b;
  }

  /** Ends an event at a blank line; returns the response if it was the terminal event. */
  private TurnOutput dispatch() {
    TurnOutput output = null;
    if (dataSeen && ending) {
      done = true;
      data = null;
      logger.debug("Stream ended with a failure event; no output to record");
      return null;
    }
    if (dataSeen && !skipping) {
      output = read();
    }
    if (!done) {
      resetEvent();
    }
    return output;
  }

  private TurnOutput read() {
    try (JsonParser parser = Json.FACTORY.createParser(data, 0, dataLength)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return notRead("event data is not a JSON object");
      }
      String type = null;
      TurnOutput response = null;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String fieldName = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("type".equals(fieldName) && value == JsonToken.VALUE_STRING) {
          type = parser.getText();
          if (!eventSeen && !COMPLETED.equals(type) && !INCOMPLETE.equals(type)) {
            return ended(type); // an unnamed event of another type: no need to read on
          }
        } else if ("response".equals(fieldName) && value == JsonToken.START_OBJECT) {
          response = TurnOutput.readResponse(parser);
        } else {
          parser.skipChildren();
        }
      }
      if (type != null && !COMPLETED.equals(type) && !INCOMPLETE.equals(type)) {
        return ended(type); // the name said terminal, the type says otherwise: trust neither
      }
      if (type == null && !eventSeen) {
        return notRead("unnamed event without a type");
      }
      done = true;
      data = null;
      if (response == null) {
        logger.debug("Terminal SSE event without a usable response; no output to record");
        return null;
      }
      logger.debug("Response {} output read from the stream ({} bytes)", response.responseId(),
          response.itemBytes().length);
      return response;
    } catch (IOException e) {
      return notRead("event data is not valid JSON (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** An event that is not the terminal one; {@code response.failed} and {@code error} end the stream. */
  private TurnOutput ended(String type) {
    if ("response.failed".equals(type) || "error".equals(type)) {
      done = true;
      data = null;
      logger.debug("Stream ended with {}; no output to record", type);
    }
    return null;
  }

  private TurnOutput notRead(String why) {
    if (eventSeen) {
      done = true; // it was named terminal: there is no other
      data = null;
      logger.debug("Terminal SSE event not read: {}", why);
    }
    return null;
  }

  private void resetEvent() {
    dataLength = 0;
    dataSeen = false;
    skipping = false;
    ending = false;
    eventSeen = false;
    eventNameLength = 0;
    if (data.length > KEPT_BUFFER) {
      data = new byte[Math.min(INITIAL_BUFFER, maxEventBytes)];
    }
  }

  private boolean isTerminalName() {
    return matches(eventName, eventNameLength, COMPLETED_BYTES)
        || matches(eventName, eventNameLength, INCOMPLETE_BYTES);
  }

  private void giveUp() {
    done = true;
    data = null;
    logger.debug("SSE event exceeds {} bytes; response output not read", maxEventBytes);
  }

  private static boolean matches(byte[] buffer, int length, byte[] expected) {
    return length == expected.length && Arrays.equals(buffer, 0, length, expected, 0, length);
  }
}
