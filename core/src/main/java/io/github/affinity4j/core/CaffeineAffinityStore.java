package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.affinity4j.core.internal.Tickers;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * The default {@link AffinityStore}: an in-memory Caffeine cache bounded in size and expiring
 * entries that are not used.
 *
 * <pre>{@code
 * AffinityStore store = CaffeineAffinityStore.builder()
 *     .maximumSize(200_000)
 *     .expireAfterAccess(Duration.ofHours(4))
 *     .build();
 * }</pre>
 *
 * <p>Defaults, and why:
 *
 * <ul>
 *   <li>{@link #DEFAULT_MAXIMUM_SIZE} = 100,000 keys. A key is one response id (or conversation or
 *       thread id); a six-turn conversation uses six, so this holds about 16,000 live
 *       conversations. Measured on a 64-bit JVM ({@code memory} benchmark), a chain's first key
 *       costs about 290 bytes with its own pin, and each later link about 200 (the links share
 *       their pin's bytes), so the bound caps the store at 20 to 30 MiB. A pin evicted early costs one repair, not a conversation.
 *   <li>{@link #DEFAULT_EXPIRE_AFTER_ACCESS} = 1 hour. OpenAI keeps stored responses for 30 days,
 *       but a pin is only worth what the gateway still honours: backend pools change with deploys,
 *       circuit breakers and scaling, and gateways that keep sticky sessions on their side forget
 *       them within hours. Turns of a live conversation follow within seconds (agents) or minutes
 *       (people); a chain idle for an hour is likely abandoned, and if it comes back, repair
 *       replays it. A short expiry also keeps the live set under the size bound, where eviction
 *       would start dropping the newest links. Raise it for workloads that pause longer between
 *       turns.
 * </ul>
 *
 * <p>Thread-safe.
 */
public final class CaffeineAffinityStore implements AffinityStore {

  /** The default size bound, in keys. */
  public static final long DEFAULT_MAXIMUM_SIZE = 100_000;

  /** The default time after which a key that was neither read nor written is dropped. */
  public static final Duration DEFAULT_EXPIRE_AFTER_ACCESS = Duration.ofHours(1);

  private final long maximumSize;
  private final Duration expireAfterAccess;
  // Entries in their compact form (see Compact): a chain's pin in about 290 bytes instead of 370.
  private final Cache<Compact.Key, Compact.Pin> cache;
  // The token each thread read last, with its entry: a chain's next link inherits the token it
  // read, and shares its entry's bytes instead of a copy.
  private final ThreadLocal<Compact.Read> lastRead = ThreadLocal.withInitial(Compact.Read::new);

  private CaffeineAffinityStore(Builder builder) {
    this.maximumSize = builder.maximumSize;
    this.expireAfterAccess = builder.expireAfterAccess;
    this.cache = Caffeine.newBuilder()
        .maximumSize(maximumSize)
        .expireAfterAccess(expireAfterAccess)
        .ticker(Tickers.of(builder.clock))
        .executor(builder.executor)
        .build();
  }

  /** Returns a builder with the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the size bound, in keys. */
  public long maximumSize() {
    return maximumSize;
  }

  /** Returns the time after which an unused key is dropped. */
  public Duration expireAfterAccess() {
    return expireAfterAccess;
  }

  @Override
  public Optional<AffinityToken> get(ChainKey key) {
    Compact.Pin pin = cache.getIfPresent(cacheKey(key));
    if (pin == null) {
      return Optional.empty();
    }
    Compact.Read read = lastRead.get();
    AffinityToken token = read.tokenOf(pin); // a turn reads its chain's entry twice: pin, then bind
    if (token == null) {
      token = pin.token();
      read.set(token, pin);
    }
    return Optional.of(token);
  }

  @Override
  public void put(ChainKey key, AffinityToken token) {
    requireNonNull(token, "token");
    Compact.Pin read = lastRead.get().pinOf(token);
    cache.put(cacheKey(key), read != null ? read : Compact.Pin.of(token));
  }

  @Override
  public void remove(ChainKey key) {
    cache.invalidate(cacheKey(key));
  }

  @Override
  public long estimatedSize() {
    return cache.estimatedSize();
  }

  /**
   * The whole key, scope included: keying by the id alone would let one scope's id reach another
   * scope's pin.
   */
  private static Compact.Key cacheKey(ChainKey key) {
    return Compact.Key.of(requireNonNull(key, "key"));
  }

  void cleanUp() {
    cache.cleanUp();
  }

  @Override
  public String toString() {
    return "CaffeineAffinityStore[maximumSize=" + maximumSize
        + ", expireAfterAccess=" + expireAfterAccess
        + ", estimatedSize=" + cache.estimatedSize() + ']';
  }

  /** Builds a {@link CaffeineAffinityStore}. Not thread-safe. */
  public static final class Builder {
    private long maximumSize = DEFAULT_MAXIMUM_SIZE;
    private Duration expireAfterAccess = DEFAULT_EXPIRE_AFTER_ACCESS;
    private Clock clock = Clock.systemUTC();
    private Executor executor = Runnable::run;

    private Builder() {}

    /**
     * Sets how many keys the store holds at most; default 100,000.
     *
     * @throws IllegalArgumentException if {@code maximumSize} is not positive
     */
    public Builder maximumSize(long maximumSize) {
      if (maximumSize <= 0) {
        throw new IllegalArgumentException("maximumSize must be positive, got " + maximumSize
            + "; to turn affinity off, do not install the interceptor");
      }
      this.maximumSize = maximumSize;
      return this;
    }

    /**
     * Sets how long a key may go unread and unwritten before it is dropped; default 1 hour.
     *
     * @throws IllegalArgumentException if {@code expireAfterAccess} is zero or negative
     */
    public Builder expireAfterAccess(Duration expireAfterAccess) {
      requireNonNull(expireAfterAccess, "expireAfterAccess");
      if (expireAfterAccess.isNegative() || expireAfterAccess.isZero()) {
        throw new IllegalArgumentException("expireAfterAccess must be positive, got "
            + expireAfterAccess + "; e.g. Duration.ofHours(1)");
      }
      this.expireAfterAccess = expireAfterAccess;
      return this;
    }

    /** Sets the time source for expiry; for tests; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets the executor for maintenance (eviction, expiry, removal of collected entries). Default:
     * {@code Runnable::run}: the thread that wrote does it, a few microseconds after its write.
     * Handing it to the common fork-join pool instead wakes another thread per write (measured: more
     * CPU per turn, not less) and depends on a pool the application may keep busy.
     */
    public Builder executor(Executor executor) {
      this.executor = requireNonNull(executor, "executor");
      return this;
    }

    /** Builds the store. */
    public CaffeineAffinityStore build() {
      return new CaffeineAffinityStore(this);
    }
  }
}
