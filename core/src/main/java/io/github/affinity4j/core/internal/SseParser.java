package io.github.affinity4j.core.internal;

import java.util.Arrays;

/**
 * Splits a {@code text/event-stream} into events while it passes by, for the scanners that read a
 * Responses API stream ({@link SseResponseIdScanner}, {@link SseCompletedScanner}).
 *
 * <p>It follows the SSE format: lines end with CRLF, LF or CR (a CRLF may be split across feeds);
 * a line starting with {@code :} is a comment; a line without a colon is a field with an empty
 * value; one space after the colon is dropped; the {@code data:} lines of an event are joined with
 * LF; its last {@code event:} line names it; other fields ({@code id:}, {@code retry:}, unknown
 * ones) are ignored; a blank line ends the event. An event cut off by the end of the stream never
 * ends, so it is never handed on.
 *
 * <p>The {@link Handler} decides, at each {@code event:} line, whether the event's data is worth
 * buffering; the parser holds one event's data at a time and stops at a bound rather than grow
 * further. Nothing is allocated per byte: the data buffer doubles as needed, and one grown large by
 * an event is dropped after it so a long stream does not keep it.
 *
 * <pre>{@code
 * SseParser sse = new SseParser(handler, maxDataBytes, Long.MAX_VALUE);
 * // for each chunk of the stream, until sse.isStopped():
 * sse.feed(chunk, 0, count); // calls handler.endEvent(...) at each blank line
 * }</pre>
 *
 * <p>Not thread-safe: one instance per stream, fed by one thread at a time.
 */
final class SseParser {

  /** What a scanner does with the stream's events; called from {@link SseParser#feed}. */
  interface Handler {

    /**
     * Called when an {@code event:} line ends; {@link SseParser#eventNameIs} reads the name it
     * gave. Returns whether to buffer the event's data. Once it returns false for an event, the
     * data buffered so far is dropped and the rest skipped up to the blank line, whatever later
     * {@code event:} lines of the event say.
     */
    boolean wantsData();

    /**
     * Called at the blank line that ends an event. {@code hasData} is false when the event had no
     * {@code data:} line: a keep-alive, which by the SSE rules is not an event. The event's name
     * and data ({@link SseParser#data()}, {@link SseParser#isSkipped()}) may be read until this
     * returns; then, unless {@link SseParser#stop()} was called, the parser starts on the next
     * event.
     */
    void endEvent(boolean hasData);

    /** Called once when an event exceeds a bound; the parser has stopped. */
    void tooLarge();
  }

  private static final byte[] DATA = {'d', 'a', 't', 'a'};
  private static final byte[] EVENT = {'e', 'v', 'e', 'n', 't'};
  private static final byte[] LF = {'\n'};
  // Event names are kept up to this length; a longer one keeps its length, so it matches no name.
  private static final int EVENT_NAME_CAPACITY = 32;
  private static final int INITIAL_BUFFER = 256;
  // A buffer grown past this by one event is dropped after it, so it is not held all stream.
  private static final int KEPT_BUFFER = 64 * 1024;
  // What a stopped parser holds instead of its buffer.
  private static final byte[] NO_DATA = {};

  private enum State { LINE_START, NAME, VALUE_START, VALUE, COMMENT }

  private enum Field { DATA, EVENT, OTHER }

  private final Handler handler;
  private final int maxDataBytes;
  private final long maxEventBytes;

  private State state = State.LINE_START;
  private boolean afterCr;
  private boolean stopped;
  private long eventBytes;

  // Field names longer than "event" are fields the parser ignores.
  private final byte[] fieldName = new byte[EVENT.length];
  private int fieldNameLength;
  private Field field = Field.OTHER;

  private byte[] data;
  private int dataLength;
  private boolean dataSeen;
  private boolean skipping;

  private final byte[] eventName = new byte[EVENT_NAME_CAPACITY];
  private int eventNameLength;
  private boolean named;

  /**
   * Creates a parser that stops (calling {@link Handler#tooLarge()}) when an event's buffered data
   * would exceed {@code maxDataBytes}, or when an event takes more than {@code maxEventBytes} bytes
   * of the stream: every byte since the blank line that ended the previous event, buffered or not,
   * line ends included ({@link Long#MAX_VALUE} for no such bound).
   */
  SseParser(Handler handler, int maxDataBytes, long maxEventBytes) {
    this.handler = handler;
    this.maxDataBytes = maxDataBytes;
    this.maxEventBytes = maxEventBytes;
    this.data = new byte[Math.min(INITIAL_BUFFER, maxDataBytes)];
  }

  /** Parses the next bytes of the stream, calling the handler; does nothing once stopped. */
  void feed(byte[] bytes, int offset, int length) {
    // Counting costs a sixth of the parse of a whole stream, so it is done only under a bound.
    boolean counting = maxEventBytes != Long.MAX_VALUE;
    for (int i = offset, end = offset + length; i < end && !stopped; i++) {
      byte b = bytes[i];
      if (counting && ++eventBytes > maxEventBytes) {
        tooLarge();
        return;
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
          endEvent();
        } else {
          if (state == State.NAME) {
            startValue(); // a line without a colon is a field with an empty value
          }
          endLine();
        }
        state = State.LINE_START;
        continue;
      }
      if (state == State.VALUE_START) {
        state = State.VALUE;
        if (b == ' ') {
          continue; // the one space after the colon is dropped
        }
      }
      if (state == State.VALUE || state == State.COMMENT) {
        // The rest of the line at once, up to its end: most of a stream is values, and a byte at a
        // time cost most of the parse.
        int lineEnd = lineEnd(bytes, i + 1, end);
        if (counting && (eventBytes += lineEnd - i - 1) > maxEventBytes) {
          tooLarge();
          return;
        }
        if (state == State.VALUE) {
          appendValue(bytes, i, lineEnd - i);
        }
        i = lineEnd - 1;
        continue;
      }
      switch (state) {
        case LINE_START -> {
          if (b == ':') {
            state = State.COMMENT;
          } else {
            fieldNameLength = 0;
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
        default -> throw new AssertionError(state); // the others are taken a line at a time above
      }
    }
  }

  /** Stops the parser and frees its buffer; further bytes are ignored. */
  void stop() {
    stopped = true;
    data = NO_DATA;
  }

  boolean isStopped() {
    return stopped;
  }

  /** Whether the current event has an {@code event:} line. */
  boolean isNamed() {
    return named;
  }

  /**
   * Whether the current event's last {@code event:} line gave exactly {@code name} (ASCII bytes, at
   * most 32 of them).
   */
  boolean eventNameIs(byte[] name) {
    if (name.length > eventName.length) {
      throw new IllegalArgumentException("event names are kept up to " + eventName.length
          + " bytes; raise EVENT_NAME_CAPACITY to match one of " + name.length);
    }
    return matches(eventName, eventNameLength, name);
  }

  /** Whether the handler declined the current event's data, so {@link #data()} holds none of it. */
  boolean isSkipped() {
    return skipping;
  }

  /** The buffer holding the current event's data in its first {@link #dataLength()} bytes. */
  byte[] data() {
    return data;
  }

  int dataLength() {
    return dataLength;
  }

  private void appendName(byte b) {
    if (fieldNameLength < fieldName.length) {
      fieldName[fieldNameLength] = b;
    }
    fieldNameLength++;
  }

  private void startValue() {
    if (matches(fieldName, fieldNameLength, DATA)) {
      field = Field.DATA;
      if (dataSeen) {
        appendData(LF, 0, 1);
      }
      dataSeen = true;
    } else if (matches(fieldName, fieldNameLength, EVENT)) {
      field = Field.EVENT;
      eventNameLength = 0;
      named = true;
    } else {
      field = Field.OTHER;
    }
  }

  /** Appends {@code length} bytes of a value, none of them a line end. */
  private void appendValue(byte[] bytes, int from, int length) {
    if (field == Field.DATA) {
      appendData(bytes, from, length);
    } else if (field == Field.EVENT) {
      int kept = Math.min(length, eventName.length - eventNameLength);
      if (kept > 0) {
        System.arraycopy(bytes, from, eventName, eventNameLength, kept);
      }
      eventNameLength += length; // a longer name keeps its length, so it matches no name
    }
  }

  private void appendData(byte[] bytes, int from, int length) {
    if (skipping) {
      return;
    }
    int needed = dataLength + length;
    if (needed > data.length) {
      if (needed > maxDataBytes) {
        tooLarge();
        return;
      }
      long grown = Math.max(data.length, 1);
      while (grown < needed) {
        grown *= 2; // doubling, as a byte at a time would: the same buffers for the same stream
      }
      data = Arrays.copyOf(data, (int) Math.min(grown, maxDataBytes));
    }
    System.arraycopy(bytes, from, data, dataLength, length);
    dataLength = needed;
  }

  /** Where the line that goes on at {@code from} ends: its CR or LF, or {@code end} if not in sight. */
  private static int lineEnd(byte[] bytes, int from, int end) {
    for (int i = from; i < end; i++) {
      byte b = bytes[i];
      if (b == '\r' || b == '\n') {
        return i;
      }
    }
    return end;
  }

  private void endLine() {
    // Asked at every event: line, even when already skipping: the handler may note each name.
    if (field == Field.EVENT && !handler.wantsData()) {
      skipping = true;
      dataLength = 0;
    }
    field = Field.OTHER;
  }

  private void endEvent() {
    handler.endEvent(dataSeen);
    if (stopped) {
      return;
    }
    dataLength = 0;
    dataSeen = false;
    skipping = false;
    named = false;
    eventNameLength = 0;
    eventBytes = 0;
    if (data.length > KEPT_BUFFER) {
      data = new byte[Math.min(INITIAL_BUFFER, maxDataBytes)];
    }
  }

  private void tooLarge() {
    stop();
    handler.tooLarge();
  }

  private static boolean matches(byte[] buffer, int length, byte[] expected) {
    return length == expected.length && Arrays.equals(buffer, 0, length, expected, 0, length);
  }
}
