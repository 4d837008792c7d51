package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.lettuce.core.GetExArgs;
import io.lettuce.core.SetArgs;
import java.time.DateTimeException;
import java.time.Duration;
import java.util.Optional;

/**
 * An {@link AffinityStore} in Redis, so that every instance of an application behind its own load
 * balancer finds the pin of a chain that another instance started.
 *
 * <pre>{@code
 * RedisConnector redis = RedisConnector.builder().uri("redis://cache.internal:6379").build();
 * AffinityStore store = RedisAffinityStore.builder().connector(redis).build();
 * AffinityInterceptor affinity = AffinityInterceptor.builder().store(store).build();
 * }</pre>
 *
 * <p>Each key is one Redis string, {@code <prefix>pin:<r|c|t>:<id>} (r for a response, c for a
 * conversation, t for a thread), holding the token in a compact binary form (about 100 bytes for
 * an APIM pin, 180 with the request ids of the response that set it). Every key has an expiry:
 *
 * <ul>
 *   <li><b>Expire after access</b>, {@link CaffeineAffinityStore#DEFAULT_EXPIRE_AFTER_ACCESS} (1
 *       hour) by default, as the in-memory store: a lookup is {@code GETEX … PX}, which reads the
 *       pin and restarts its expiry in one round trip; a bind is {@code SET … PX}.
 *   <li><b>Size</b> is bounded by the expiry and by the server: give it a {@code maxmemory} with an
 *       eviction policy such as {@code volatile-lru} or {@code allkeys-lru} (every key written here
 *       has an expiry). A pin evicted early costs one repair, not a conversation. There is no key
 *       count bound of our own: counting keys across instances would cost a round trip per bind.
 * </ul>
 *
 * <p>No local cache sits in front: it would save the round trip of a lookup, but a lookup served
 * from it would not restart the key's expiry in Redis (so a busy chain could expire there while in
 * use), and a conversation's pin, which moves when the conversation does, would go stale on the
 * other instances. One {@code GETEX} per lookup, pipelined with the other requests' commands on the
 * connector's single connection, costs about what a Caffeine lookup does next to an HTTP request
 * (see the README's benchmark).
 *
 * <p><b>Concurrency:</b> a bind is one {@code SET}: two instances binding the same key concurrently
 * leave the last writer's token, which for a response key is the same pin (one response, one
 * backend). <b>While Redis is down</b>, {@link #get} answers empty ("no pin": the request goes out
 * unpinned and the chain may need a repair) and {@link #put} and {@link #remove} do nothing; see
 * {@link RedisConnector} for the logging and the events. Nothing here throws for Redis' sake.
 *
 * <p>Thread-safe. Pins hold cookie values: they are never logged, but they are stored in Redis as
 * they are, so protect Redis as you protect the gateway's cookies (TLS, a password, a private
 * network).
 */
public final class RedisAffinityStore implements AffinityStore {

  private final RedisConnector connector;
  private final String prefix;
  private final Duration expireAfterAccess;
  private final long expireMillis;

  private RedisAffinityStore(Builder builder) {
    this.connector = builder.connector;
    this.prefix = connector.keyPrefix();
    this.expireAfterAccess = builder.expireAfterAccess;
    this.expireMillis = expireAfterAccess.toMillis();
  }

  /** Returns a builder; {@code connector} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the connector this store talks to Redis through. */
  public RedisConnector connector() {
    return connector;
  }

  /** Returns the time after which a key that was neither read nor written is dropped. */
  public Duration expireAfterAccess() {
    return expireAfterAccess;
  }

  /**
   * {@inheritDoc}
   *
   * <p>One {@code GETEX}, which restarts the key's expiry. Empty if Redis is unavailable or the
   * record cannot be read.
   *
   * @throws NullPointerException if {@code key} is null
   */
  @Override
  public Optional<AffinityToken> get(ChainKey key) {
    String redisKey = RedisKeys.pin(prefix, requireNonNull(key, "key"));
    byte[] bytes = connector.execute("store get",
        commands -> commands.getex(redisKey, GetExArgs.Builder.px(expireMillis)), null);
    if (bytes == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(TokenCodec.decode(bytes));
    } catch (IllegalArgumentException | DateTimeException e) {
      connector.unreadable("pin", key, e);
      return Optional.empty();
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>One {@code SET … PX}. Does nothing if Redis is unavailable.
   *
   * @throws NullPointerException if an argument is null
   */
  @Override
  public void put(ChainKey key, AffinityToken token) {
    String redisKey = RedisKeys.pin(prefix, requireNonNull(key, "key"));
    byte[] bytes = TokenCodec.encode(requireNonNull(token, "token"));
    connector.execute("store put",
        commands -> commands.set(redisKey, bytes, SetArgs.Builder.px(expireMillis)), null);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One {@code DEL}. Does nothing if Redis is unavailable.
   *
   * @throws NullPointerException if {@code key} is null
   */
  @Override
  public void remove(ChainKey key) {
    String redisKey = RedisKeys.pin(prefix, requireNonNull(key, "key"));
    connector.execute("store remove", commands -> commands.del(redisKey), null);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Counts this prefix's pins with {@code SCAN}: one round trip per 1,000 keys of the whole
   * database, for statistics now and then, never on a request path. 0 if Redis is unavailable.
   */
  @Override
  public long estimatedSize() {
    String pattern = RedisKeys.pattern(prefix, RedisKeys.PIN);
    return connector.execute("store size", commands -> RedisConnector.count(commands, pattern), 0L);
  }

  @Override
  public String toString() {
    return "RedisAffinityStore[expireAfterAccess=" + expireAfterAccess + ", " + connector + ']';
  }

  /** Builds a {@link RedisAffinityStore}. Not thread-safe. */
  public static final class Builder {
    private RedisConnector connector;
    private Duration expireAfterAccess = CaffeineAffinityStore.DEFAULT_EXPIRE_AFTER_ACCESS;

    private Builder() {}

    /** Sets the connection to Redis (required); share one with a {@link RedisHistoryJournal}. */
    public Builder connector(RedisConnector connector) {
      this.connector = requireNonNull(connector, "connector");
      return this;
    }

    /**
     * Sets how long a key may go unread and unwritten before Redis drops it; default 1 hour, as
     * {@link CaffeineAffinityStore}.
     *
     * @throws IllegalArgumentException if shorter than a millisecond
     */
    public Builder expireAfterAccess(Duration expireAfterAccess) {
      requireNonNull(expireAfterAccess, "expireAfterAccess");
      if (expireAfterAccess.toMillis() < 1) {
        throw new IllegalArgumentException("expireAfterAccess must be at least 1 ms, got "
            + expireAfterAccess + "; e.g. Duration.ofHours(1)");
      }
      this.expireAfterAccess = expireAfterAccess;
      return this;
    }

    /**
     * Builds the store.
     *
     * @throws NullPointerException if {@code connector} was not set
     */
    public RedisAffinityStore build() {
      requireNonNull(connector, "connector is required; build one with RedisConnector.builder().uri(...)");
      return new RedisAffinityStore(this);
    }
  }
}
