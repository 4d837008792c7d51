package io.github.affinity4j.testkit;

import java.util.Random;

/** Makes OpenAI-like ids ({@code resp_…}, {@code msg_…}) and opaque tokens from one source. */
final class IdGenerator {
  private static final char[] HEX = "0123456789abcdef".toCharArray();
  private final Random random;

  IdGenerator(Random random) {
    this.random = random;
  }

  String next(String prefix, int hexDigits) {
    StringBuilder out = new StringBuilder(prefix.length() + hexDigits).append(prefix);
    synchronized (random) {
      for (int i = 0; i < hexDigits; i++) {
        out.append(HEX[random.nextInt(16)]);
      }
    }
    return out.toString();
  }

  String uuid() {
    String hex = next("", 32);
    return hex.substring(0, 8) + '-' + hex.substring(8, 12) + '-' + hex.substring(12, 16) + '-'
        + hex.substring(16, 20) + '-' + hex.substring(20);
  }
}
