package io.github.affinity4j.core;

import static java.nio.charset.StandardCharsets.ISO_8859_1;

import com.github.benmanes.caffeine.cache.Interner;
import java.time.Instant;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * How {@link CaffeineAffinityStore} holds an entry in few bytes: a store of 100 000 chains keeps
 * 100 000 response ids and, with APIM's per-session cookies, as many cookie values. Ids and values
 * are printable ASCII (checked by {@link ChainKey} and {@link AffinityToken}), so each is kept as
 * its bytes alone, without a {@code String} around them; the time a pin was seen as two numbers,
 * without an {@code Instant}; and what chains share (cookie name, domain, path, flags, region) as
 * one interned {@link Shape}. An entry is turned back into its {@code ChainKey} or
 * {@code AffinityToken} when it is read: equal to what was put.
 */
final class Compact {
  private static final Interner<Shape> SHAPES = Interner.newWeakInterner();

  private Compact() {}

  /** A key: kind, id bytes, scope (shared). */
  static final class Key {
    private final ChainKey.Kind kind;
    private final byte[] id;
    private final ChainScope scope;

    private Key(ChainKey.Kind kind, byte[] id, ChainScope scope) {
      this.kind = kind;
      this.id = id;
      this.scope = scope;
    }

    static Key of(ChainKey key) {
      return new Key(key.kind(), key.id().getBytes(ISO_8859_1), key.scope());
    }

    @Override
    public boolean equals(@Nullable Object other) {
      return other instanceof Key that && kind == that.kind && Arrays.equals(id, that.id)
          && scope.equals(that.scope);
    }

    @Override
    public int hashCode() {
      return (31 * kind.hashCode() + Arrays.hashCode(id)) * 31 + scope.hashCode();
    }

    @Override
    public String toString() {
      return kind + ":" + new String(id, ISO_8859_1);
    }
  }

  /** What the tokens of one gateway share: all but the value and the times. */
  private record Shape(String name, String domain, boolean hostOnly, String path, boolean secure,
      RoutingInfo routing) {}

  /** A token: its shape (shared), value bytes, and times. */
  static final class Pin {
    private final Shape shape;
    private final byte[] value;
    private final @Nullable Instant expiresAt; // null for a session cookie, as APIM's are
    private final long seenAtSecond;
    private final int seenAtNano;

    private Pin(Shape shape, byte[] value, @Nullable Instant expiresAt, Instant seenAt) {
      this.shape = shape;
      this.value = value;
      this.expiresAt = expiresAt;
      this.seenAtSecond = seenAt.getEpochSecond();
      this.seenAtNano = seenAt.getNano();
    }

    static Pin of(AffinityToken token) {
      Shape shape = SHAPES.intern(new Shape(token.name(), token.domain(), token.hostOnly(), token.path(),
          token.secure(), token.routing()));
      return new Pin(shape, token.value().getBytes(ISO_8859_1), token.expiresAt(), token.seenAt());
    }

    AffinityToken token() {
      return new AffinityToken(shape.name(), new String(value, ISO_8859_1), shape.domain(), shape.hostOnly(),
          shape.path(), expiresAt, shape.secure(), Instant.ofEpochSecond(seenAtSecond, seenAtNano),
          shape.routing());
    }
  }

  /** A thread's last read: the token made from an entry, and that entry. */
  static final class Read {
    private @Nullable AffinityToken token;
    private @Nullable Pin pin;

    void set(AffinityToken token, Pin pin) {
      this.token = token;
      this.pin = pin;
    }

    /** The token made from {@code pin}, if it is the entry read last; else null. */
    @Nullable AffinityToken tokenOf(Pin pin) {
      return pin == this.pin ? token : null;
    }

    /** The entry {@code token} was read from, if it is the token read last; else null. */
    @Nullable Pin pinOf(AffinityToken token) {
      return token == this.token ? pin : null;
    }
  }
}
