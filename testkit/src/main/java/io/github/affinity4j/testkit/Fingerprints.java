package io.github.affinity4j.testkit;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import org.jspecify.annotations.Nullable;

/** Short, non-reversible stand-ins for secret values in {@code toString()} output. */
final class Fingerprints {
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private Fingerprints() {}

  static String of(@Nullable String secret) {
    if (secret == null) {
      return "none";
    }
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
      char[] out = new char[8];
      for (int i = 0; i < 4; i++) {
        out[2 * i] = HEX[(digest[i] >> 4) & 0xf];
        out[2 * i + 1] = HEX[digest[i] & 0xf];
      }
      return "#" + new String(out);
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("SHA-256 is required on every Java platform", e);
    }
  }
}
