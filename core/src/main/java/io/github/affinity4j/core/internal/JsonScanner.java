package io.github.affinity4j.core.internal;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * The reader of a turn's envelope: the top-level fields of a request or response body, and of a
 * stream's event. It walks an object's fields and skips every value it is not asked for without
 * building it, checking as it goes that the bytes are JSON (RFC 8259's grammar, and UTF-8
 * sequences of the right shape inside strings, as Jackson checks them). What it finds are
 * positions in the bytes, and the few strings asked for (an id, a status). The items inside
 * ({@code input}, {@code output}) are found here and read by Jackson only when a replay or a
 * journal needs them.
 *
 * <pre>{@code
 * JsonScanner json = new JsonScanner(body, 0, body.length);
 * if (json.enterObject()) {
 *   while (json.nextField()) {
 *     if (json.fieldIs(ID)) id = json.readString(); else json.skipValue();
 *   }
 * }
 * }</pre>
 *
 * <p>After {@link #nextField} returns true, the caller takes its value exactly once:
 * {@link #readString}, {@link #skipValue}, or {@link #enterObject} and fields to the end (or
 * {@link #leaveTo} the depth before it); {@link #nextElement} likewise. At most 64 objects and
 * arrays are entered at once (values skipped may nest deeper). Strings
 * are skipped eight bytes at a time. Nesting deeper than {@value #MAX_DEPTH} is malformed. Not
 * thread-safe; one per reading.
 */
final class JsonScanner {

  /** Malformed JSON, where a reading of an untrusted body expects it: no stack trace, no text. */
  static final class MalformedJsonException extends IOException {
    private static final long serialVersionUID = 1L;

    MalformedJsonException() {
      super("malformed JSON");
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  /** The deepest nesting a skipped value may have, as Jackson's default allows. */
  static final int MAX_DEPTH = 1000;

  private static final VarHandle LONGS =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long ONES = 0x0101010101010101L;
  private static final long HIGHS = 0x8080808080808080L;
  private static final long QUOTES = '"' * ONES;
  private static final long BACKSLASHES = '\\' * ONES;
  private static final long SPACES = 0x20 * ONES;

  private final byte[] bytes;
  private final int limit;
  private int pos;
  // Set by enterObject and enterArray: the next field or element is the first, no comma before it.
  private boolean afterOpen;
  // The containers entered and not yet closed: how many, and which of them are arrays (bit i).
  private int depth;
  private long arrays;
  private int nameStart;
  private int nameEnd;
  private boolean nameEscaped;
  private boolean stringEscaped;

  /** Reads {@code length} bytes of {@code bytes} from {@code offset}; the caller checked the range. */
  JsonScanner(byte[] bytes, int offset, int length) {
    this.bytes = bytes;
    this.pos = offset;
    this.limit = offset + length;
  }

  /**
   * Returns the first byte of the value ahead, after whitespace ({@code {}, {@code [}, {@code "},
   * {@code t}, {@code f}, {@code n}, {@code -} or a digit for valid JSON), or -1 at the end.
   */
  int peek() {
    skipWhitespace();
    return pos < limit ? bytes[pos] & 0xFF : -1;
  }

  /** Returns where the value ahead starts, after whitespace. */
  int valueStart() {
    skipWhitespace();
    return pos;
  }

  /** Returns where the last value taken ended: just after it. */
  int position() {
    return pos;
  }

  /** Enters the object ahead and returns true; returns false, taking nothing, if no object is ahead. */
  boolean enterObject() {
    if (peek() != '{') {
      return false;
    }
    enter(false);
    return true;
  }

  /** Enters the array ahead and returns true; returns false, taking nothing, if no array is ahead. */
  boolean enterArray() {
    if (peek() != '[') {
      return false;
    }
    enter(true);
    return true;
  }

  private void enter(boolean array) {
    if (depth == Long.SIZE) {
      throw new IllegalStateException("entered " + Long.SIZE + " levels"); // a caller's bug
    }
    arrays = array ? arrays | 1L << depth : arrays & ~(1L << depth);
    depth++;
    pos++;
    afterOpen = true;
  }

  /** Returns how many objects and arrays were entered and not yet left. */
  int depth() {
    return depth;
  }

  /**
   * Takes the rest of every object and array entered beyond {@code depth}: after a reading that
   * stopped as soon as it knew enough, the scanner is where the caller expects it.
   *
   * @throws MalformedJsonException if the rest is malformed
   */
  void leaveTo(int depth) throws MalformedJsonException {
    while (this.depth > depth) {
      boolean array = (arrays >>> (this.depth - 1) & 1) != 0;
      if (array ? nextElement() : nextField()) {
        skipValue();
      }
    }
  }

  /**
   * Moves to the next element of the array entered last and returns true, the element ahead;
   * returns false after the array's closing bracket.
   *
   * @throws MalformedJsonException if the bytes are not an array's elements
   */
  boolean nextElement() throws MalformedJsonException {
    return next(']');
  }

  /**
   * Moves to the next field of the object entered last and returns true, its name read and its
   * value ahead; returns false after the object's closing brace.
   *
   * @throws MalformedJsonException if the bytes are not an object's fields
   */
  boolean nextField() throws MalformedJsonException {
    if (!next('}')) {
      return false;
    }
    if (peek() != '"') {
      throw malformed();
    }
    nameStart = pos + 1;
    nameEnd = stringEnd(nameStart);
    nameEscaped = stringEscaped;
    pos = nameEnd + 1;
    if (peek() != ':') {
      throw malformed();
    }
    pos++;
    return true;
  }

  /**
   * Moves past the comma before the next member of the container entered last and returns true;
   * returns false after its {@code close}.
   */
  private boolean next(char close) throws MalformedJsonException {
    int c = peek();
    if (c == close) {
      pos++;
      afterOpen = false;
      depth--;
      return false;
    }
    if (!afterOpen) {
      if (c != ',') {
        throw malformed();
      }
      pos++;
    }
    afterOpen = false;
    return true;
  }

  /** Returns true if the field just read is named {@code name}, an ASCII name. */
  boolean fieldIs(String name) {
    if (nameEscaped) {
      return decode(nameStart, nameEnd).equals(name);
    }
    int length = nameEnd - nameStart;
    if (length != name.length()) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      if (bytes[nameStart + i] != name.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Takes the value ahead and returns it if it is a string, decoded; returns null, having skipped
   * it, if it is not.
   *
   * @throws MalformedJsonException if the value is malformed
   */
  @Nullable String readString() throws MalformedJsonException {
    if (peek() != '"') {
      skipValue();
      return null;
    }
    int start = pos + 1;
    int end = stringEnd(start);
    pos = end + 1;
    return stringEscaped ? decode(start, end) : plain(start, end);
  }

  /**
   * Takes the value ahead, whatever it is, checking that it is JSON, and returns where it ended.
   *
   * @throws MalformedJsonException if it is not
   */
  int skipValue() throws MalformedJsonException {
    skip(0);
    return pos;
  }

  private void skip(int depth) throws MalformedJsonException {
    int c = peek();
    switch (c) {
      case '"' -> pos = stringEnd(pos + 1) + 1;
      case '{' -> skipContainer('}', true, depth);
      case '[' -> skipContainer(']', false, depth);
      case 't' -> literal("true");
      case 'f' -> literal("false");
      case 'n' -> literal("null");
      default -> number();
    }
  }

  private void skipContainer(char close, boolean object, int depth) throws MalformedJsonException {
    if (depth >= MAX_DEPTH) {
      throw malformed();
    }
    pos++;
    if (peek() == close) {
      pos++;
      return;
    }
    while (true) {
      if (object) {
        if (peek() != '"') {
          throw malformed();
        }
        pos = stringEnd(pos + 1) + 1;
        if (peek() != ':') {
          throw malformed();
        }
        pos++;
      }
      skip(depth + 1);
      int c = peek();
      pos++;
      if (c == close) {
        return;
      }
      if (c != ',') {
        throw malformed();
      }
    }
  }

  /**
   * Returns where the string that starts at {@code from} (after its opening quote) closes: its
   * closing quote. Control characters are malformed; escapes are checked, and
   * {@link #stringEscaped} says whether there were any.
   */
  private int stringEnd(int from) throws MalformedJsonException {
    int p = from;
    boolean escaped = false;
    while (true) {
      // Eight bytes at a time while none is a quote, a backslash, a control character or not ASCII.
      while (p <= limit - 8 && !special((long) LONGS.get(bytes, p))) {
        p += 8;
      }
      if (p >= limit) {
        throw malformed();
      }
      int c = bytes[p] & 0xFF;
      if (c == '"') {
        stringEscaped = escaped;
        return p;
      } else if (c == '\\') {
        p = afterEscape(p);
        escaped = true;
      } else if (c < 0x20) {
        throw malformed();
      } else if (c >= 0x80) {
        p = afterUtf8(p, c);
      } else {
        p++;
      }
    }
  }

  /** True if a byte of {@code word} is a quote, a backslash, below 0x20, or not ASCII. */
  private static boolean special(long word) {
    long quotes = word ^ QUOTES;
    long backslashes = word ^ BACKSLASHES;
    return ((((quotes - ONES) & ~quotes) | ((backslashes - ONES) & ~backslashes) | (word - SPACES) | word)
        & HIGHS) != 0;
  }

  /**
   * Returns where the UTF-8 sequence that starts with {@code first} at {@code p} ends, having
   * checked its shape as Jackson does: a lead byte of a 2, 3 or 4 byte sequence, then that many
   * continuation bytes.
   */
  private int afterUtf8(int p, int first) throws MalformedJsonException {
    int continuations = (first & 0xE0) == 0xC0 ? 1
        : (first & 0xF0) == 0xE0 ? 2
        : (first & 0xF8) == 0xF0 ? 3
        : -1;
    if (continuations < 0 || p + continuations >= limit) {
      throw malformed();
    }
    for (int i = 1; i <= continuations; i++) {
      if ((bytes[p + i] & 0xC0) != 0x80) {
        throw malformed();
      }
    }
    return p + continuations + 1;
  }

  private int afterEscape(int backslash) throws MalformedJsonException {
    int p = backslash + 1;
    if (p >= limit) {
      throw malformed();
    }
    switch (bytes[p]) {
      case '"', '\\', '/', 'b', 'f', 'n', 'r', 't' -> {
        return p + 1;
      }
      case 'u' -> {
        if (p + 4 >= limit) {
          throw malformed();
        }
        for (int i = 1; i <= 4; i++) {
          if (Character.digit(bytes[p + i], 16) < 0) {
            throw malformed();
          }
        }
        return p + 5;
      }
      default -> throw malformed();
    }
  }

  private void literal(String word) throws MalformedJsonException {
    int length = word.length();
    if (pos + length > limit) {
      throw malformed();
    }
    for (int i = 0; i < length; i++) {
      if (bytes[pos + i] != word.charAt(i)) {
        throw malformed();
      }
    }
    pos += length;
  }

  /** A number: {@code -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?}. */
  private void number() throws MalformedJsonException {
    if (pos < limit && bytes[pos] == '-') {
      pos++;
    }
    if (pos < limit && bytes[pos] == '0') {
      pos++;
    } else if (digits() == 0) {
      throw malformed();
    }
    if (pos < limit && bytes[pos] == '.') {
      pos++;
      if (digits() == 0) {
        throw malformed();
      }
    }
    if (pos < limit && (bytes[pos] == 'e' || bytes[pos] == 'E')) {
      pos++;
      if (pos < limit && (bytes[pos] == '+' || bytes[pos] == '-')) {
        pos++;
      }
      if (digits() == 0) {
        throw malformed();
      }
    }
  }

  private int digits() {
    int start = pos;
    while (pos < limit && bytes[pos] >= '0' && bytes[pos] <= '9') {
      pos++;
    }
    return pos - start;
  }

  private void skipWhitespace() {
    while (pos < limit) {
      byte c = bytes[pos];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        return;
      }
      pos++;
    }
  }

  /** A string without escapes: ASCII (an id, a status) at no cost, else UTF-8. */
  private String plain(int start, int end) {
    for (int i = start; i < end; i++) {
      if (bytes[i] < 0) {
        return new String(bytes, start, end - start, StandardCharsets.UTF_8);
      }
    }
    return new String(bytes, start, end - start, StandardCharsets.ISO_8859_1);
  }

  /** A string with escapes, checked by {@link #stringEnd}: decoded. */
  private String decode(int start, int end) {
    StringBuilder text = new StringBuilder(end - start);
    int run = start;
    for (int p = start; p < end; p++) {
      if (bytes[p] != '\\') {
        continue;
      }
      text.append(plain(run, p));
      char c = (char) bytes[++p];
      switch (c) {
        case 'b' -> text.append('\b');
        case 'f' -> text.append('\f');
        case 'n' -> text.append('\n');
        case 'r' -> text.append('\r');
        case 't' -> text.append('\t');
        case 'u' -> {
          text.append((char) Integer.parseInt(new String(bytes, p + 1, 4, StandardCharsets.US_ASCII), 16));
          p += 4;
        }
        default -> text.append(c); // '"', '\\', '/'
      }
      run = p + 1;
    }
    return text.append(plain(run, end)).toString();
  }

  private static MalformedJsonException malformed() {
    return new MalformedJsonException();
  }
}
