package io.github.affinity4j.testsupport;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Makes bad input from good: seeded mutations of valid bytes and text, in the ways that break
 * parsers (cut short, bytes flipped, inserted, deleted or repeated, line ends and JSON and SSE
 * punctuation spliced in, control and non-ASCII characters, deep nesting, huge values). For the
 * {@code …FuzzTest} suites with {@link FuzzSuite}; the same {@link Random} gives the same input.
 *
 * <pre>{@code
 * byte[] body = BadInput.mutate(random, "{\"previous_response_id\":\"resp_1\"}".getBytes(UTF_8));
 * String header = BadInput.mutate(random, "APIM-Backend-Affinity=abc; Path=/; Secure");
 * }</pre>
 *
 * <p>Stateless and thread-safe (each {@link Random} belongs to its caller).
 */
public final class BadInput {

  private static final List<String> SPLICES = List.of(
      "\r", "\n", "\r\n", "\n\n", "\r\r", ":", ": ", "data:", "data: ", "event:", "event: response.created\n",
      "id:", "retry:", ":comment\n", "{", "}", "[", "]", "\"", "\\", "\\u0000", "\\ud800", ",", ",,",
      "null", "true", "1e999999", "-0", "123456789012345678901234567890", "\"id\":", "\"resp_",
      "\"type\":\"response.created\"", "\"output\":[", "\"error\":{", "\"code\":",
      "previous_response_not_found", "'", "resp_", "conv_", ";", "=", "; Domain=", "; Path=", "; Secure",
      "; Expires=", "; Max-Age=", "; HttpOnly", "Domain=.", "..", "/", "\u0000", "\u007f", "\u00ff",
      "\u20ac", "\ud83d\ude00", "\ufeff", "\t", " ", "%00", "%2F", "\u2028");

  private BadInput() {}

  /** Returns one of {@code choices}. */
  @SafeVarargs
  public static <T> T oneOf(Random random, T... choices) {
    return choices[random.nextInt(choices.length)];
  }

  /** Returns one of {@code choices}. */
  public static <T> T oneOf(Random random, List<T> choices) {
    return choices.get(random.nextInt(choices.size()));
  }

  /** Returns {@code length} random bytes. */
  public static byte[] bytes(Random random, int length) {
    byte[] bytes = new byte[length];
    random.nextBytes(bytes);
    return bytes;
  }

  /**
   * Returns text of up to {@code maxLength} characters drawn from printable ASCII, punctuation that
   * matters to HTTP, JSON and SSE, control characters and non-ASCII ones.
   */
  public static String text(Random random, int maxLength) {
    int length = random.nextInt(maxLength + 1);
    StringBuilder out = new StringBuilder(length);
    while (out.length() < length) {
      int kind = random.nextInt(10);
      if (kind < 6) {
        out.append((char) (0x20 + random.nextInt(0x5F)));
      } else if (kind < 8) {
        out.append(oneOf(random, SPLICES));
      } else if (kind < 9) {
        out.append((char) random.nextInt(0x20));
      } else {
        out.append((char) (0x80 + random.nextInt(0xFF80)));
      }
    }
    return out.toString();
  }

  /** Returns {@code seed} mutated one to four times, as text. */
  public static String mutate(Random random, String seed) {
    return new String(mutate(random, seed.getBytes(StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
  }

  /**
   * Returns a mutated copy of {@code seed}: one to four of truncation, bit flips, random bytes
   * inserted, bytes deleted, a range repeated, a splice of parser punctuation, two halves swapped,
   * or deep nesting and huge strings. Never modifies {@code seed}.
   */
  public static byte[] mutate(Random random, byte[] seed) {
    byte[] out = seed.clone();
    int rounds = 1 + random.nextInt(4);
    for (int r = 0; r < rounds; r++) {
      out = mutateOnce(random, out);
    }
    return out;
  }

  private static byte[] mutateOnce(Random random, byte[] in) {
    int at = in.length == 0 ? 0 : random.nextInt(in.length + 1);
    switch (random.nextInt(10)) {
      case 0: // cut short
        return Arrays.copyOf(in, at);
      case 1: { // flip bits
        byte[] out = in.clone();
        for (int i = 0; i < 1 + random.nextInt(4) && out.length > 0; i++) {
          out[random.nextInt(out.length)] ^= (byte) (1 << random.nextInt(8));
        }
        return out;
      }
      case 2: // insert random bytes
        return insert(in, at, bytes(random, 1 + random.nextInt(16)));
      case 3: { // delete a range
        int end = Math.min(in.length, at + 1 + random.nextInt(32));
        byte[] out = new byte[in.length - (end - at)];
        System.arraycopy(in, 0, out, 0, at);
        System.arraycopy(in, end, out, at, in.length - end);
        return out;
      }
      case 4: { // repeat a range
        int end = Math.min(in.length, at + 1 + random.nextInt(64));
        byte[] range = Arrays.copyOfRange(in, at, end);
        int times = 1 + random.nextInt(8);
        byte[] repeated = new byte[range.length * times];
        for (int i = 0; i < times; i++) {
          System.arraycopy(range, 0, repeated, i * range.length, range.length);
        }
        return insert(in, end, repeated);
      }
      case 5: // swap halves
        return concat(Arrays.copyOfRange(in, at, in.length), Arrays.copyOf(in, at));
      case 6: { // deep nesting or a huge token
        String open = oneOf(random, "[", "{\"a\":", "[{\"x\":");
        StringBuilder deep = new StringBuilder();
        int depth = oneOf(random, 10, 600, 2_000);
        for (int i = 0; i < depth; i++) {
          deep.append(open);
        }
        if (random.nextBoolean()) {
          deep.setLength(0);
          deep.append('"').append("x".repeat(oneOf(random, 300, 70_000))).append('"');
        }
        return insert(in, at, deep.toString().getBytes(StandardCharsets.UTF_8));
      }
      default: // splice in punctuation
        return insert(in, at, oneOf(random, SPLICES).getBytes(StandardCharsets.UTF_8));
    }
  }

  private static byte[] insert(byte[] in, int at, byte[] extra) {
    byte[] out = new byte[in.length + extra.length];
    System.arraycopy(in, 0, out, 0, at);
    System.arraycopy(extra, 0, out, at, extra.length);
    System.arraycopy(in, at, out, at + extra.length, in.length - at);
    return out;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
