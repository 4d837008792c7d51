package io.github.affinity4j.core.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Jackson plumbing shared by the journal and repair classes. Stateless and thread-safe. */
public final class Json {

  /** Thread-safe once configured; its factory serves the streaming parsers too. */
  public static final ObjectMapper MAPPER = new ObjectMapper();

  public static final JsonFactory FACTORY = MAPPER.getFactory();

  public static final byte[] EMPTY_ARRAY = {'[', ']'};

  private Json() {}

  private static final byte[] USER_MESSAGE_START =
      "[{\"type\":\"message\",\"role\":\"user\",\"content\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] USER_MESSAGE_END = {'}', ']'};

  /**
   * Returns {@code [{"type":"message","role":"user","content":text}]}, how the API reads a string
   * input, with the string copied as sent: no decoding, no re-encoding.
   *
   * @param source the bytes the string is in
   * @param start where the string's opening quote is
   * @param next where the token after it starts: the string ends before it, and before any
   *     whitespace and comma between them
   * @throws IOException if no closing quote is found there
   */
  public static byte[] userMessage(byte[] source, int start, int next) throws IOException {
    int end = next;
    while (end > start + 1 && (isWhitespace(source[end - 1]) || source[end - 1] == ',')) {
      end--;
    }
    if (end <= start + 1 || source[end - 1] != '"') {
      throw new IOException("string end not found");
    }
    int length = end - start;
    byte[] items = new byte[USER_MESSAGE_START.length + length + USER_MESSAGE_END.length];
    System.arraycopy(USER_MESSAGE_START, 0, items, 0, USER_MESSAGE_START.length);
    System.arraycopy(source, start, items, USER_MESSAGE_START.length, length);
    System.arraycopy(USER_MESSAGE_END, 0, items, items.length - USER_MESSAGE_END.length, USER_MESSAGE_END.length);
    return items;
  }

  /** How many bytes {@link #userMessage} adds around the string it wraps. */
  static int userMessageWrapper() {
    return USER_MESSAGE_START.length + USER_MESSAGE_END.length;
  }

  /**
   * Copies the array or object the parser is on, with its children, as sent: the bytes from its
   * opening bracket to its closing one. The parser reads it to the end, so malformed JSON still
   * throws; whitespace inside is kept.
   *
   * @param source the bytes the parser reads, {@code base} being where its input starts
   * @throws IOException if the JSON is malformed
   */
  public static byte[] rawValue(JsonParser parser, byte[] source, int base) throws IOException {
    int start = start(parser, base);
    parser.skipChildren();
    return Arrays.copyOfRange(source, start, end(parser, base));
  }

  /** Where the token the parser is on starts in {@code source}. */
  public static int start(JsonParser parser, int base) {
    return base + (int) parser.currentTokenLocation().getByteOffset();
  }

  /** Where the token the parser has just read ends in {@code source}: after a closing bracket. */
  public static int end(JsonParser parser, int base) {
    return base + (int) parser.currentLocation().getByteOffset();
  }

  private static boolean isWhitespace(byte b) {
    return b == ' ' || b == '\n' || b == '\r' || b == '\t';
  }
}
