package io.github.affinity4j.redis;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.RoutingInfo;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;

/**
 * An {@link AffinityToken} as a few bytes: a version byte, two flag bytes, then the fields that are
 * present as length-prefixed UTF-8 strings and variable-length integers. A typical APIM pin (a
 * 21-character name, a 40-character value, a host, a region) takes about 100 bytes; with the
 * request ids of the response that set it, about 180. Instants and durations are kept to the
 * nanosecond, so a token comes back equal to the one stored.
 */
final class TokenCodec {

  static final byte VERSION = 1;

  private static final int HOST_ONLY = 1;
  private static final int SECURE = 1 << 1;
  private static final int EXPIRES = 1 << 2;
  private static final int PATH = 1 << 3;

  private static final int REGION = 1;
  private static final int REQUEST_ID = 1 << 1;
  private static final int APIM_REQUEST_ID = 1 << 2;
  private static final int REMAINING_REQUESTS = 1 << 3;
  private static final int REMAINING_TOKENS = 1 << 4;
  private static final int RETRY_AFTER = 1 << 5;

  private TokenCodec() {}

  static byte[] encode(AffinityToken token) {
    RoutingInfo routing = token.routing();
    boolean path = !"/".equals(token.path());
    int flags = (token.hostOnly() ? HOST_ONLY : 0) | (token.secure() ? SECURE : 0)
        | (token.expiresAt() != null ? EXPIRES : 0) | (path ? PATH : 0);
    int present = (routing.region() != null ? REGION : 0)
        | (routing.requestId() != null ? REQUEST_ID : 0)
        | (routing.apimRequestId() != null ? APIM_REQUEST_ID : 0)
        | (routing.remainingRequests() != null ? REMAINING_REQUESTS : 0)
        | (routing.remainingTokens() != null ? REMAINING_TOKENS : 0)
        | (routing.retryAfter() != null ? RETRY_AFTER : 0);
    Writer out = new Writer(16 + token.name().length() + token.value().length() + token.domain().length());
    out.put(VERSION);
    out.put(flags);
    out.put(present);
    out.string(token.name());
    out.string(token.value());
    out.string(token.domain());
    if (path) {
      out.string(token.path());
    }
    out.instant(token.seenAt());
    if (token.expiresAt() != null) {
      out.instant(token.expiresAt());
    }
    if (routing.region() != null) {
      out.string(routing.region());
    }
    if (routing.requestId() != null) {
      out.string(routing.requestId());
    }
    if (routing.apimRequestId() != null) {
      out.string(routing.apimRequestId());
    }
    if (routing.remainingRequests() != null) {
      out.varlong(routing.remainingRequests());
    }
    if (routing.remainingTokens() != null) {
      out.varlong(routing.remainingTokens());
    }
    if (routing.retryAfter() != null) {
      out.varlong(zigzag(routing.retryAfter().getSeconds()));
      out.varlong(routing.retryAfter().getNano());
    }
    return out.bytes();
  }

  /**
   * Decodes a token.
   *
   * @throws IllegalArgumentException if the bytes are not a token of a known version; the message
   *     never holds the bytes (they hold the cookie value)
   */
  static AffinityToken decode(byte[] bytes) {
    Reader in = new Reader(bytes);
    int version = in.get();
    if (version != VERSION) {
      throw new IllegalArgumentException("Unknown pin format version " + version + " (this library writes "
          + VERSION + "); a newer affinity4j may share this Redis");
    }
    int flags = in.get();
    int present = in.get();
    String name = in.string();
    String value = in.string();
    String domain = in.string();
    String path = (flags & PATH) != 0 ? in.string() : "/";
    Instant seenAt = in.instant();
    Instant expiresAt = (flags & EXPIRES) != 0 ? in.instant() : null;
    String region = (present & REGION) != 0 ? in.string() : null;
    String requestId = (present & REQUEST_ID) != 0 ? in.string() : null;
    String apimRequestId = (present & APIM_REQUEST_ID) != 0 ? in.string() : null;
    Long remainingRequests = (present & REMAINING_REQUESTS) != 0 ? in.varlong() : null;
    Long remainingTokens = (present & REMAINING_TOKENS) != 0 ? in.varlong() : null;
    Duration retryAfter = (present & RETRY_AFTER) != 0
        ? Duration.ofSeconds(unzigzag(in.varlong()), in.varlong()) : null;
    in.end();
    RoutingInfo routing = new RoutingInfo(region, requestId, apimRequestId, remainingRequests,
        remainingTokens, retryAfter);
    return new AffinityToken(name, value, domain, (flags & HOST_ONLY) != 0, path, expiresAt,
        (flags & SECURE) != 0, seenAt, routing.isEmpty() ? RoutingInfo.EMPTY : routing);
  }

  private static long zigzag(long n) {
    return (n << 1) ^ (n >> 63);
  }

  private static long unzigzag(long n) {
    return (n >>> 1) ^ -(n & 1);
  }

  private static final class Writer {
    private byte[] buf;
    private int size;

    Writer(int capacity) {
      buf = new byte[capacity];
    }

    void put(int b) {
      if (size == buf.length) {
        buf = Arrays.copyOf(buf, buf.length * 2);
      }
      buf[size++] = (byte) b;
    }

    void varlong(long v) {
      while ((v & ~0x7FL) != 0) {
        put((int) ((v & 0x7F) | 0x80));
        v >>>= 7;
      }
      put((int) v);
    }

    void string(String s) {
      byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
      varlong(utf8.length);
      if (size + utf8.length > buf.length) {
        buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + utf8.length));
      }
      System.arraycopy(utf8, 0, buf, size, utf8.length);
      size += utf8.length;
    }

    void instant(Instant instant) {
      varlong(zigzag(instant.getEpochSecond()));
      varlong(instant.getNano());
    }

    byte[] bytes() {
      return Arrays.copyOf(buf, size);
    }
  }

  private static final class Reader {
    private final byte[] buf;
    private int pos;

    Reader(byte[] buf) {
      this.buf = buf;
    }

    int get() {
      if (pos >= buf.length) {
        throw new IllegalArgumentException("Pin record truncated at byte " + pos);
      }
      return buf[pos++] & 0xFF;
    }

    long varlong() {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        int b = get();
        v |= (long) (b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
          return v;
        }
      }
      throw new IllegalArgumentException("Pin record has a malformed number at byte " + pos);
    }

    String string() {
      long length = varlong();
      if (length < 0 || length > buf.length - pos) {
        throw new IllegalArgumentException("Pin record has a bad string length at byte " + pos);
      }
      String s = new String(buf, pos, (int) length, StandardCharsets.UTF_8);
      pos += (int) length;
      return s;
    }

    Instant instant() {
      long seconds = unzigzag(varlong());
      long nanos = varlong();
      return Instant.ofEpochSecond(seconds, nanos);
    }

    void end() {
      if (pos != buf.length) {
        throw new IllegalArgumentException("Pin record has " + (buf.length - pos) + " trailing bytes");
      }
    }
  }
}
