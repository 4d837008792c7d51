package io.github.affinity4j.testkit;

import java.nio.ByteBuffer;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The {@code encrypted_content} of one backend's reasoning and compaction items, and its check of
 * such content sent back as input. Real deployments seal it with a key of their own resource, so
 * another resource cannot read it ({@code invalid_encrypted_content}); this one seals nothing
 * secret but makes the binding verifiable.
 *
 * <p>A token is laid out as a Fernet token is, which is what the real ones look like
 * ({@code gAAAAAB…==}): version byte {@code 0x80}, eight bytes of Unix seconds, a 16-byte IV, a
 * 64-byte opaque payload, and an HMAC-SHA256 over all of that under a secret drawn once per
 * backend, then URL-safe Base64 with padding. Only the backend that holds the secret verifies
 * it. Thread-safe.
 */
final class EncryptedContent {
  private static final byte VERSION = (byte) 0x80;
  private static final int HEADER = 1 + 8 + 16;
  private static final int PAYLOAD = 64;
  private static final int MAC = 32;
  private static final int LENGTH = HEADER + PAYLOAD + MAC;

  private final byte[] secret;
  private final IdGenerator ids;
  private final Clock clock;

  EncryptedContent(IdGenerator ids, Clock clock) {
    this.ids = ids;
    this.clock = clock;
    this.secret = hex(ids.next("", 64));
  }

  /** A new token only this backend verifies. */
  String seal() {
    ByteBuffer token = ByteBuffer.allocate(LENGTH);
    token.put(VERSION);
    token.putLong(clock.instant().getEpochSecond());
    token.put(hex(ids.next("", 2 * (16 + PAYLOAD))));
    token.put(mac(token.array(), HEADER + PAYLOAD));
    return Base64.getUrlEncoder().encodeToString(token.array());
  }

  /** Whether {@code content} is a token this backend sealed. */
  boolean verify(String content) {
    byte[] token;
    try {
      token = Base64.getUrlDecoder().decode(content);
    } catch (IllegalArgumentException e) {
      return false; // not Base64: nothing anyone sealed
    }
    if (token.length != LENGTH || token[0] != VERSION) {
      return false;
    }
    byte[] expected = mac(token, HEADER + PAYLOAD);
    return MessageDigest.isEqual(expected, Arrays.copyOfRange(token, HEADER + PAYLOAD, LENGTH));
  }

  /** The shortened form the real error message quotes: {@code gAAA...OA==}. */
  static String shorten(String content) {
    return content.length() <= 8 ? content
        : content.substring(0, 4) + "..." + content.substring(content.length() - 4);
  }

  private byte[] mac(byte[] data, int length) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret, "HmacSHA256"));
      mac.update(data, 0, length);
      return mac.doFinal();
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new AssertionError("HmacSHA256 is required on every Java platform", e);
    }
  }

  private static byte[] hex(String hex) {
    byte[] bytes = new byte[hex.length() / 2];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
    }
    return bytes;
  }
}
