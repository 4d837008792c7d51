package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.lettuce.core.GetExArgs;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.time.DateTimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>Each key is one Redis string, {@code <prefix>pin:<r|c|t>:<scope>:<id>} (r for a response, c
 * for a conversation, t for a thread; {@code <scope>} the key's {@link ChainScope#key()}, empty for
 * {@link ChainScope#NONE}), holding the token in a compact binary form (about 100 bytes for an APIM
 * pin, 180 with the request ids of the response that set it). A key of one scope is never read or
 * written for another, so the same response id from another gateway or credential finds no pin and
 * never replaces this one; only the scope's key, a fingerprint, is stored. Pins written before
 * scopes existed ({@code pin:r:<id>}) are not read: this is a 0.x layout change, without migration;
 * such pins expire within the hour. Every key has an expiry:
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
 * <p><b>Redis is the source.</b> While it answers, every lookup is one {@code GETEX}: a local copy
 * would not restart the key's expiry in Redis, and a conversation's pin, which moves with the
 * conversation, would go stale on the other instances.
 *
 * <p><b>Local fallback, for while Redis is unavailable.</b> The store also keeps, in this process,
 * the pins it bound or found in Redis recently ({@value #DEFAULT_LOCAL_FALLBACK_MAXIMUM_SIZE} pins
 * and 4 MiB by default, expiring as Redis' keys do): while Redis is unavailable lookups are answered
 * from it and changes are kept, then sent to Redis, pipelined, by the operation that finds it back.
 * During an outage each instance sees only its own pins. Turn it off with
 * {@code localFallbackMaximumSize(0)}; see docs/redis.md, "Consistency, outages".
 *
 * <p><b>Off the request path:</b> a bind or a removal is sent and not waited for (see {@link #put});
 * a lookup sent after it on this instance sees it, since one connection carries both in order.
 *
 * <p><b>Concurrency:</b> a bind is one {@code SET}: two instances binding the same key concurrently
 * leave the last writer's token, which for a response key is the same pin (one response, one
 * backend). Nothing here throws for Redis' sake; see {@link RedisConnector} for the logging and the
 * events of an outage.
 *
 * <p>Thread-safe. Pins hold cookie values: they are never logged, but they are stored in Redis as
 * they are, so protect Redis as you protect the gateway's cookies (TLS, a password, a private
 * network).
 */
public final class RedisAffinityStore implements AffinityStore {

  /** The default bound on the local fallback, in pins: 10,000. */
  public static final long DEFAULT_LOCAL_FALLBACK_MAXIMUM_SIZE = 10_000;

  /**
   * The default bound on the local fallback's memory: 4 MiB, about 10,000 pins with their keys
   * (a pin of 100 to 180 bytes, a key of about 100 characters, and the objects around them).
   */
  public static final long DEFAULT_LOCAL_FALLBACK_MAXIMUM_BYTES = 4L << 20;

  // Changes sent to Redis per pipeline once it answers again.
  private static final int SEND_BATCH = 256;

  private static final Logger logger = LoggerFactory.getLogger(RedisAffinityStore.class);

  // Marks a lookup that fell back; a value from Redis is never this instance.
  private static final byte[] FELL_BACK = new byte[0];

  private final RedisConnector connector;
  private final String prefix;
  private final Duration expireAfterAccess;
  private final long expireMillis;
  private final long localFallbackMaximumSize;
  private final long localFallbackMaximumBytes;
  private final @Nullable FallbackStore local;
  private final ReentrantLock sending = new ReentrantLock();
  private final AtomicBoolean overflowWarned = new AtomicBoolean();
  private final LongAdder dropped = new LongAdder();
  // The latest write of each key sent and not answered yet: a failed write is kept for later only
  // if it is still its key's latest (replies come in the order the writes were sent).
  private final Map<String, Object> latest = new ConcurrentHashMap<>();

  private RedisAffinityStore(Builder builder, RedisConnector connector) {
    this.connector = connector;
    this.prefix = connector.keyPrefix();
    this.expireAfterAccess = builder.expireAfterAccess;
    this.expireMillis = expireAfterAccess.toMillis();
    this.localFallbackMaximumSize = builder.localFallbackMaximumSize;
    this.localFallbackMaximumBytes = builder.localFallbackMaximumBytes;
    this.local = localFallbackMaximumSize == 0 ? null
        : new FallbackStore(localFallbackMaximumSize, localFallbackMaximumBytes, expireAfterAccess);
    if (local != null) {
      connector.whenAvailable(this::sendPending);
    }
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

  /** Returns the bound on the local fallback, in pins; 0 if it is off. */
  public long localFallbackMaximumSize() {
    return localFallbackMaximumSize;
  }

  /** Returns the bound on the local fallback's memory, in bytes. */
  public long localFallbackMaximumBytes() {
    return localFallbackMaximumBytes;
  }

  /**
   * {@inheritDoc}
   *
   * <p>One {@code GETEX}, which restarts the key's expiry. On a cluster with a
   * {@link RedisHistoryJournal} on the same connector, the chain's root pointer is read beside it
   * (pipelined, on its own master, not waited for) unless known here, so that recording the turn
   * that continues {@code key} needs no read of its own. If Redis is unavailable, the pin kept
   * locally, if any. Empty if the record cannot be read.
   *
   * @throws NullPointerException if {@code key} is null
   */
  @Override
  public Optional<AffinityToken> get(ChainKey key) {
    String redisKey = RedisKeys.pin(prefix, requireNonNull(key, "key"));
    sendPending();
    ChainRoots roots = connector.roots();
    byte[] bytes = connector.executeWith("store get", commands -> {
      // On a cluster, the chain's root is read beside the pin (on its own master), not waited for.
      RedisFuture<byte[]> root = roots == null ? null : roots.readAhead(commands.async(), key);
      byte[] pin = commands.sync().getex(redisKey, GetExArgs.Builder.px(expireMillis));
      if (roots != null && root != null) {
        roots.whenRead(key, root);
      }
      return pin;
    }, FELL_BACK);
    Optional<AffinityToken> token = resolve(key, redisKey, bytes);
    if (local != null) {
      sendPending(); // Redis may have just come back
    }
    return token;
  }

  /**
   * {@inheritDoc}
   *
   * <p>One {@code GETEX} per key, pipelined: one round trip for them all, waiting at most the
   * command timeout. If Redis is unavailable, the pins kept locally.
   *
   * @throws NullPointerException if {@code keys} or a key is null
   */
  @Override
  public Map<ChainKey, AffinityToken> getAll(Collection<ChainKey> keys) {
    List<ChainKey> asked = List.copyOf(keys);
    if (asked.isEmpty()) {
      return Map.of();
    }
    List<String> redisKeys = asked.stream().map(key -> RedisKeys.pin(prefix, key)).toList();
    sendPending();
    List<byte[]> values = connector.executeWith("store getAll", commands -> {
      List<RedisFuture<byte[]>> replies = new ArrayList<>(redisKeys.size());
      for (String redisKey : redisKeys) {
        replies.add(commands.async().getex(redisKey, GetExArgs.Builder.px(expireMillis)));
      }
      long deadline = System.nanoTime() + connector.commandTimeout().toNanos();
      List<byte[]> read = new ArrayList<>(replies.size());
      for (RedisFuture<byte[]> reply : replies) {
        read.add(LettuceFutures.awaitOrCancel(reply, Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
      }
      return read;
    }, null);
    Map<ChainKey, AffinityToken> found = new HashMap<>();
    for (int i = 0; i < asked.size(); i++) {
      ChainKey key = asked.get(i);
      resolve(key, redisKeys.get(i), values == null ? FELL_BACK : values.get(i)).ifPresent(t -> found.put(key, t));
    }
    if (local != null) {
      sendPending(); // Redis may have just come back
    }
    return found;
  }

  /**
   * The pin of {@code key} from what Redis answered ({@link #FELL_BACK} if it could not be asked):
   * the local copy while Redis is unavailable or has not been sent this key's latest change yet.
   */
  private Optional<AffinityToken> resolve(ChainKey key, String redisKey, byte @Nullable [] answered) {
    byte[] bytes = answered == FELL_BACK ? null : answered;
    if (local != null && (answered == FELL_BACK || local.isPending(redisKey))) {
      bytes = local.get(redisKey); // this one is newer
    } else if (local != null) {
      local.mirror(redisKey, bytes);
    }
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
   * <p>One {@code SET … PX}, <b>sent without waiting for its reply</b>: it returns once the command
   * is on the connection, behind every command this instance sent before it, so this instance's
   * later lookups see it. If Redis fails it, or is unavailable, kept locally and sent once it
   * answers; if the connector's {@code maxWritesInFlight} writes wait for replies, dropped and
   * counted ({@link #droppedWrites()}).
   *
   * @throws NullPointerException if an argument is null
   */
  @Override
  public void put(ChainKey key, AffinityToken token) {
    String redisKey = RedisKeys.pin(prefix, requireNonNull(key, "key"));
    byte[] bytes = TokenCodec.encode(requireNonNull(token, "token"));
    change(redisKey, bytes, "store put", commands -> commands.set(redisKey, bytes, SetArgs.Builder.px(expireMillis)),
        commands -> commands.set(redisKey, bytes, SetArgs.Builder.px(expireMillis)) != null);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One {@code DEL}, sent without waiting for its reply, as {@link #put}. If Redis is
   * unavailable, removed locally, and from Redis once it answers.
   *
   * @throws NullPointerException if {@code key} is null
   */
  @Override
  public void remove(ChainKey key) {
    String redisKey = RedisKeys.pin(prefix, requireNonNull(key, "key"));
    change(redisKey, null, "store remove", commands -> commands.del(redisKey),
        commands -> commands.del(redisKey) != null);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Counts this prefix's pins with {@code SCAN}: one round trip per 1,000 keys of the whole
   * database, for statistics now and then, never on a request path. If Redis is unavailable, the
   * number of pins kept locally.
   */
  @Override
  public long estimatedSize() {
    String pattern = RedisKeys.pattern(prefix, RedisKeys.PIN);
    Long count = connector.execute("store size", commands -> KeyScan.count(commands, pattern), null);
    return count != null ? count : local == null ? 0 : local.size();
  }

  /**
   * Returns how many binds and removals were not sent to Redis because the connector's
   * {@link RedisConnector.Builder#maxWritesInFlight maxWritesInFlight} writes were waiting for
   * replies (Redis slow). A dropped bind is kept in the local fallback only.
   */
  public long droppedWrites() {
    return dropped.sum();
  }

  /** How many changes made while Redis was unavailable wait to be sent to it. */
  long waitingForRedis() {
    return local == null ? 0 : local.pendingCount();
  }

  @Override
  public String toString() {
    return "RedisAffinityStore[expireAfterAccess=" + expireAfterAccess
        + (local == null ? ", localFallback=off" : ", localFallback=" + local.size() + " pins, "
            + local.pendingCount() + " waiting for Redis")
        + ", " + connector + ']';
  }

  /**
   * Sends a bind or a removal without waiting for its reply, if Redis is available (dropped and
   * counted if too many writes wait for replies); else as before: waits, or keeps it locally.
   */
  private void change(String redisKey, byte @Nullable [] value, String operation,
      Function<RedisClusterAsyncCommands<String, byte[]>, RedisFuture<?>> write,
      Function<RedisClusterCommands<String, byte[]>, Boolean> now) {
    sendPending();
    Object token = new Object();
    // Marks this write the key's latest, before it is sent: an older one's failure must not undo it.
    latest.put(redisKey, token);
    if (local != null) {
      local.mirror(redisKey, value); // what Redis will hold once it takes the write
    }
    WriteSender.Outcome outcome = connector.writes().send(operation, commands -> write.apply(commands.async()),
        new WriteSender.Reply<Object>() {
          @Override
          public void answered(Object reply) {
            latest.remove(redisKey, token);
          }

          @Override
          public void failed() {
            if (latest.remove(redisKey, token)) { // else a later write of the key carries its state
              keep(redisKey, value);
            }
          }
        });
    if (outcome == WriteSender.Outcome.SENT) {
      return;
    }
    latest.remove(redisKey, token);
    if (outcome == WriteSender.Outcome.DROPPED) {
      dropped.increment();
      return;
    }
    if (outcome == WriteSender.Outcome.FELL_BACK) {
      keep(redisKey, value);
      return;
    }
    // Redis unavailable: tried as any operation is during an outage, waiting for the reply; else kept.
    // Never null: the command answers whether Redis replied, and the fallback is FALSE.
    boolean done = requireNonNull(connector.execute(operation, now, Boolean.FALSE));
    if (local == null) {
      return;
    }
    if (done) {
      sendPending(); // Redis may have just come back
    } else {
      keep(redisKey, value);
    }
  }

  /** Keeps a change Redis did not take, to send once it answers. May run on Lettuce's I/O thread. */
  private void keep(String redisKey, byte @Nullable [] value) {
    if (local != null && !local.keep(redisKey, value) && overflowWarned.compareAndSet(false, true)) {
      logger.warn("RedisAffinityStore's local fallback holds {} changes waiting for Redis, its bound;"
          + " later ones are kept here only, and Redis will not have them", localFallbackMaximumSize);
    }
  }

  /**
   * Sends the changes made while Redis was unavailable, if any and if Redis is available: before an
   * operation's own command, or right after the one that found Redis back. One thread sends; the
   * others go on.
   */
  private void sendPending() {
    FallbackStore local = this.local;
    if (local == null || !local.hasPending() || !connector.isAvailable()
        || sending.isHeldByCurrentThread() || !sending.tryLock()) {
      return;
    }
    try {
      while (local.hasPending()) {
        List<Map.Entry<String, FallbackStore.Change>> batch = local.pending(SEND_BATCH);
        if (connector.executeBatch("store send", connection -> send(connection.async(), batch, local)) < 0) {
          return; // still unavailable: kept for the next operation
        }
        for (Map.Entry<String, FallbackStore.Change> change : batch) {
          local.sent(change.getKey(), change.getValue());
        }
      }
      overflowWarned.set(false);
    } finally {
      sending.unlock();
    }
  }

  private List<Future<?>> send(RedisClusterAsyncCommands<String, byte[]> commands,
      List<Map.Entry<String, FallbackStore.Change>> batch, FallbackStore local) {
    List<Future<?>> futures = new ArrayList<>(batch.size());
    for (Map.Entry<String, FallbackStore.Change> change : batch) {
      String key = change.getKey();
      if (!change.getValue().bound) {
        futures.add(commands.del(key));
        continue;
      }
      byte[] value = local.peek(key);
      if (value != null) { // else evicted here since: nothing to send
        futures.add(commands.set(key, value, SetArgs.Builder.px(expireMillis)));
      }
    }
    return futures;
  }

  /** Builds a {@link RedisAffinityStore}. Not thread-safe. */
  public static final class Builder {
    private @Nullable RedisConnector connector;
    private Duration expireAfterAccess = CaffeineAffinityStore.DEFAULT_EXPIRE_AFTER_ACCESS;
    private long localFallbackMaximumSize = DEFAULT_LOCAL_FALLBACK_MAXIMUM_SIZE;
    private long localFallbackMaximumBytes = DEFAULT_LOCAL_FALLBACK_MAXIMUM_BYTES;

    private Builder() {}

    /** Sets the connection to Redis (required); share one with a {@link RedisHistoryJournal}. */
    public Builder connector(RedisConnector connector) {
      this.connector = requireNonNull(connector, "connector");
      return this;
    }

    /**
     * Sets how long a key may go unread and unwritten before Redis drops it; default 1 hour, as
     * {@link CaffeineAffinityStore}. The local fallback's pins expire likewise.
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
     * Sets how many pins this process keeps for while Redis is unavailable, and how many changes
     * made meanwhile it keeps to send; default 10,000. 0 turns the local fallback off: while Redis
     * is unavailable, lookups find no pin and binds are lost.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder localFallbackMaximumSize(long localFallbackMaximumSize) {
      if (localFallbackMaximumSize < 0) {
        throw new IllegalArgumentException("localFallbackMaximumSize must not be negative, got "
            + localFallbackMaximumSize + "; 0 turns the local fallback off");
      }
      this.localFallbackMaximumSize = localFallbackMaximumSize;
      return this;
    }

    /**
     * Sets about how much memory the local fallback takes at most, in bytes; default 4 MiB.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder localFallbackMaximumBytes(long localFallbackMaximumBytes) {
      if (localFallbackMaximumBytes <= 0) {
        throw new IllegalArgumentException("localFallbackMaximumBytes must be positive, got "
            + localFallbackMaximumBytes + "; e.g. 4L << 20 for 4 MiB");
      }
      this.localFallbackMaximumBytes = localFallbackMaximumBytes;
      return this;
    }

    /**
     * Builds the store.
     *
     * @throws NullPointerException if {@code connector} was not set
     */
    public RedisAffinityStore build() {
      RedisConnector connector =
          requireNonNull(this.connector, "connector is required; build one with RedisConnector.builder().uri(...)");
      return new RedisAffinityStore(this, connector);
    }
  }
}
