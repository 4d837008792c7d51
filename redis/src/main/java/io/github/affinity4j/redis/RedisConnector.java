package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Ticker;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandInterruptedException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.SslOptions;
import io.lettuce.core.SslVerifyMode;
import io.lettuce.core.StaticCredentialsProvider;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to the Redis that a {@link RedisAffinityStore} and a {@link RedisHistoryJournal}
 * share, with the settings that matter on a request path: address, TLS, authentication, timeouts,
 * the key prefix, and what to do while Redis is down.
 *
 * <pre>{@code
 * RedisConnector redis = RedisConnector.builder()
 *     .uri("rediss://my-cache.redis.cache.windows.net:6380")   // rediss: TLS
 *     .password(System.getenv("REDIS_KEY").toCharArray())
 *     .build();
 * AffinityInterceptor affinity = AffinityInterceptor.builder()
 *     .store(RedisAffinityStore.builder().connector(redis).build())
 *     .journal(RedisHistoryJournal.builder().connector(redis).build())
 *     .build();
 * // at shutdown
 * redis.close();
 * }</pre>
 *
 * <p>It holds one Lettuce connection: thread-safe and multiplexed, so concurrent requests share it
 * and their commands are pipelined on it. The connection is opened in the background at
 * {@link Builder#build()}, so an application starts even while Redis is down; Lettuce reconnects by
 * itself after a connection is lost, and commands issued while it is disconnected fail at once
 * instead of queueing.
 *
 * <p><b>While Redis is unavailable</b> (a connection failure, a command timeout), operations fall
 * back to what this instance kept locally: the store answers with the pins this instance bound or
 * looked up recently, the journal keeps turns in memory and replays the chains this instance
 * recorded whole (else it answers that it could not be read,
 * {@link io.github.affinity4j.core.ChainHistory.Status#UNAVAILABLE}), both send what they kept to
 * Redis once it answers, and requests still go out (see each one's "local fallback"). The first
 * failure is logged at WARN and reported to
 * {@link RedisListener#unavailable}; after that, Redis is tried at most once per
 * {@link Builder#retryInterval retryInterval} (every other operation falls back at once, without
 * waiting for a timeout), and a WARN says how many operations fell back at most once per
 * {@link Builder#warnInterval warnInterval}. The first success ends the outage: one INFO line and
 * {@link RedisListener#available}. A command Redis refuses (for example {@code OOM} under
 * {@code maxmemory} with {@code noeviction}) is not an outage: it falls back and is logged at WARN
 * with the same rate limit. Nor is one slow command: a page of a history read whose reply does not
 * come within the command timeout falls back alone, so a long chain never takes Redis away from the
 * other chains; a constant-time command (a lookup, a bind, a record) that times out means Redis
 * itself is not answering, and that is an outage.
 *
 * <p>Thread-safe. {@link #toString()} and every log line show the address, never the password.
 */
public final class RedisConnector implements AutoCloseable {
  // The pause between connection attempts in awaitConnection.
  private static final long AWAIT_PAUSE_MILLIS = 100;

  /** The prefix of every key written, unless another is set. */
  public static final String DEFAULT_KEY_PREFIX = "affinity4j:";

  /**
   * The default command timeout: 500 ms. A lookup runs on the request path; Redis answers on a
   * LAN in about a millisecond, so anything near this means it is in trouble, and waiting longer
   * only slows the requests that must go on without it.
   */
  public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofMillis(500);

  /** The default connect timeout: 2 seconds. Connecting happens in the background. */
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);

  /** The default interval between tries while Redis is unavailable: 1 second. */
  public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofSeconds(1);

  /** The default interval between WARN lines while Redis is unavailable: 1 minute. */
  public static final Duration DEFAULT_WARN_INTERVAL = Duration.ofMinutes(1);

  static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  private static final Logger logger = LoggerFactory.getLogger(RedisConnector.class);

  private final String keyPrefix;
  private final Duration commandTimeout;
  private final Duration retryInterval;
  private final Duration warnInterval;
  private final RedisListener listener;
  private final boolean listening;
  private final Ticker ticker;
  private final String address;
  private final boolean tls;
  private final RedisURI uri;
  private final ClientResources resources;
  private final RedisClient client;

  private final Object connectLock = new Object();
  private volatile CompletableFuture<StatefulRedisConnection<String, byte[]>> connecting;
  private volatile boolean closed;

  // Outage state. available flips under outageLock; the rest is lock-free on the request path.
  private final Object outageLock = new Object();
  private volatile boolean available = true;
  private volatile long downSince;
  private volatile String lastFailure;
  private final AtomicLong nextTry = new AtomicLong();
  private final AtomicLong lastWarn = new AtomicLong();
  private final AtomicLong lastRefusalWarn;
  private final LongAdder fellBackSinceWarn = new LongAdder();
  private final LongAdder fellBackTotal = new LongAdder();
  // Run once Redis answers again, on the thread that saw it: the store and the journal send what
  // they kept meanwhile.
  private final List<Runnable> whenAvailable = new CopyOnWriteArrayList<>();

  private RedisConnector(Builder builder) {
    this.keyPrefix = builder.keyPrefix;
    this.commandTimeout = builder.commandTimeout;
    this.retryInterval = builder.retryInterval;
    this.warnInterval = builder.warnInterval;
    this.listener = builder.listener;
    this.listening = listener != RedisListener.NONE;
    this.ticker = builder.ticker;
    this.lastRefusalWarn = new AtomicLong(ticker.read() - warnInterval.toNanos());
    this.uri = builder.redisUri();
    this.tls = uri.isSsl();
    this.address = describe(uri);
    // Reconnect soon after Redis comes back: Lettuce's default backs off to 30 seconds.
    this.resources = ClientResources.builder()
        .ioThreadPoolSize(2)
        .computationThreadPoolSize(2)
        .reconnectDelay(Delay.exponential(Duration.ofMillis(10), retryInterval, 2, TimeUnit.MILLISECONDS))
        .build();
    this.client = RedisClient.create(resources);
    ClientOptions.Builder options = ClientOptions.builder()
        .autoReconnect(true)
        // Fail at once while disconnected: a queued command would hold a request for the timeout.
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .socketOptions(SocketOptions.builder().connectTimeout(builder.connectTimeout).keepAlive(true).build())
        .timeoutOptions(TimeoutOptions.enabled(commandTimeout));
    if (builder.trustedCertificates != null) {
      options.sslOptions(SslOptions.builder().jdkSslProvider()
          .trustManager(builder.trustedCertificates.toFile()).build());
    }
    client.setOptions(options.build());
    this.connecting = connect();
  }

  /** Returns a builder; {@code uri} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the prefix of every key the store and the journal write. */
  public String keyPrefix() {
    return keyPrefix;
  }

  /** Returns the command timeout. */
  public Duration commandTimeout() {
    return commandTimeout;
  }

  /**
   * Returns false from the first failed operation of an outage until the next successful one.
   * Starts true: a connector that never reached Redis learns it on its first operation.
   */
  public boolean isAvailable() {
    return available;
  }

  /** Returns how many operations fell back (failed, or skipped during an outage) since it was built. */
  public long fallbacks() {
    return fellBackTotal.sum();
  }

  /**
   * Waits until the connection is open, at most {@code timeout}: for a readiness check at startup.
   * An attempt that fails (Redis not up yet, a handshake slower than the connect timeout) is made
   * again, every 100 ms, until the timeout. Operations meanwhile wait for
   * the connection at most the command timeout and then fall back.
   *
   * @return true if connected; false if the timeout passed, the connector was closed, or the
   *     thread was interrupted
   * @throws NullPointerException if {@code timeout} is null
   */
  public boolean awaitConnection(Duration timeout) {
    requireNonNull(timeout, "timeout");
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (!closed) {
        long left = deadline - System.nanoTime();
        try {
          attempt().get(Math.max(0, left), TimeUnit.NANOSECONDS);
          return true;
        } catch (ExecutionException e) {
          long pause = Math.min(TimeUnit.MILLISECONDS.toNanos(AWAIT_PAUSE_MILLIS), deadline - System.nanoTime());
          if (pause <= 0) {
            return false;
          }
          TimeUnit.NANOSECONDS.sleep(pause);
        }
      }
      return false;
    } catch (TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Closes the connection and releases the client's threads. Operations after it fall back. */
  @Override
  public void close() {
    closed = true;
    CompletableFuture<StatefulRedisConnection<String, byte[]>> current = connecting;
    current.thenAccept(StatefulRedisConnection::close);
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    resources.shutdown(0, 2, TimeUnit.SECONDS);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("RedisConnector[").append(address)
        .append(", tls=").append(tls)
        .append(", keyPrefix=").append(keyPrefix);
    if (closed) {
      s.append(", CLOSED");
    } else if (!available) {
      s.append(", UNAVAILABLE for ").append(seconds(ticker.read() - downSince)).append(" s");
      String failure = lastFailure;
      if (failure != null) {
        s.append(" (").append(failure).append(')');
      }
    } else {
      s.append(", available");
    }
    return s.append(']').toString();
  }

  // --- for the store and the journal ---

  /**
   * Runs one Redis operation, or falls back: returns {@code fallback} if Redis is unavailable and
   * it is not time to try again, or if the operation fails. Never throws a Lettuce exception. For
   * commands that take constant time: one that times out means Redis is not answering, an outage.
   */
  <T> T execute(String operation, Function<RedisCommands<String, byte[]>, T> command, T fallback) {
    return run(operation, connection -> command.apply(connection.sync()), fallback, true);
  }

  /**
   * As {@link #execute}, for a command whose run time grows with the data it reads (a page of a
   * history): if it times out, that operation falls back alone, and Redis stays available for the
   * others. One slow command is not an outage; a connection failure still is.
   */
  <T> T executeSlow(String operation, Function<RedisCommands<String, byte[]>, T> command, T fallback) {
    return run(operation, connection -> command.apply(connection.sync()), fallback, false);
  }

  /**
   * Sends a batch of commands pipelined on the one connection (so Redis runs them in order, before
   * any command sent after them) and waits for every reply, at most the command timeout for them
   * all. A command Redis refuses does not stop the others.
   *
   * @return how many commands Redis refused (logged at WARN, rate-limited), or -1 if the batch fell
   *     back: Redis unavailable, a connection failure or a timeout (an outage, as for
   *     {@link #execute}); then some commands may have run
   */
  int executeBatch(String operation,
      Function<StatefulRedisConnection<String, byte[]>, List<? extends Future<?>>> batch) {
    return run(operation, connection -> await(operation, batch.apply(connection)), -1, true);
  }

  private int await(String operation, List<? extends Future<?>> futures) {
    long deadline = System.nanoTime() + commandTimeout.toNanos();
    int refused = 0;
    RedisCommandExecutionException first = null;
    for (Future<?> future : futures) {
      try {
        future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof RedisCommandExecutionException refusal) {
          refused++;
          first = first == null ? refusal : first;
        } else if (e.getCause() instanceof RedisException failure) {
          throw failure;
        } else {
          throw new RedisException("Pipelined command failed", e.getCause());
        }
      } catch (TimeoutException e) {
        throw new RedisCommandTimeoutException("Pipeline of " + futures.size() + " commands not answered"
            + " within " + commandTimeout.toMillis() + " ms");
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RedisCommandInterruptedException(e);
      }
    }
    if (first != null) {
      refused(operation + " (" + refused + " of " + futures.size() + " commands)", first);
    }
    return refused;
  }

  private <T> T run(String operation, Function<StatefulRedisConnection<String, byte[]>, T> command,
      T fallback, boolean timeoutIsOutage) {
    if (closed) {
      logger.debug("Redis connector closed; {} falls back", operation);
      return fallback;
    }
    if (!available && !mayTry()) {
      fellBack(operation, null);
      return fallback;
    }
    T result;
    try {
      result = command.apply(connection());
    } catch (StillConnecting e) {
      // Not an outage yet: the first connection (a TLS handshake, say) is taking its time.
      logger.debug("{} falls back: {}", operation, e.getMessage());
      fellBack(operation, e);
      return fallback;
    } catch (RedisCommandExecutionException e) {
      refused(operation, e);
      return fallback;
    } catch (RedisCommandTimeoutException e) {
      if (timeoutIsOutage || !available) {
        failed(operation, e);
      } else {
        slow(operation, e);
      }
      return fallback;
    } catch (RedisException e) {
      failed(operation, e);
      return fallback;
    }
    if (!available) {
      recovered();
    }
    return result;
  }

  /**
   * Runs {@code task} each time Redis answers again after an outage, right after the operation
   * that found it back, on that operation's thread. A task that throws is logged at WARN.
   */
  void whenAvailable(Runnable task) {
    whenAvailable.add(requireNonNull(task, "task"));
  }

  /** Counts the keys matching {@code pattern}, one SCAN page per round trip. */
  static long count(RedisCommands<String, byte[]> commands, String pattern) {
    ScanArgs args = ScanArgs.Builder.matches(pattern).limit(1000);
    KeyScanCursor<String> cursor = commands.scan(args);
    long count = cursor.getKeys().size();
    while (!cursor.isFinished()) {
      cursor = commands.scan(cursor, args);
      count += cursor.getKeys().size();
    }
    return count;
  }

  /** Unlinks the keys matching {@code pattern}, one SCAN page per round trip; returns how many. */
  static long unlink(RedisCommands<String, byte[]> commands, String pattern) {
    ScanArgs args = ScanArgs.Builder.matches(pattern).limit(1000);
    KeyScanCursor<String> cursor = null;
    long count = 0;
    do {
      cursor = cursor == null ? commands.scan(args) : commands.scan(cursor, args);
      if (!cursor.getKeys().isEmpty()) {
        count += commands.unlink(cursor.getKeys().toArray(new String[0]));
      }
    } while (!cursor.isFinished());
    return count;
  }

  /** Logs a record that cannot be read (a newer format, or not ours), at most once per warnInterval. */
  void unreadable(String what, Object key, RuntimeException e) {
    long now = ticker.read();
    long last = lastRefusalWarn.get();
    if (now - last >= warnInterval.toNanos() && lastRefusalWarn.compareAndSet(last, now)) {
      logger.warn("Cannot read the {} of {} in Redis at {} ({}: {}); treated as absent (logged every {} s"
          + " at most)", what, key, address, e.getClass().getSimpleName(), e.getMessage(),
          seconds(warnInterval.toNanos()));
    } else {
      logger.debug("Cannot read the {} of {} ({})", what, key, e.getClass().getSimpleName());
    }
  }

  /** The connection attempt under way or done; a new one if the last failed. */
  private CompletableFuture<StatefulRedisConnection<String, byte[]>> attempt() {
    CompletableFuture<StatefulRedisConnection<String, byte[]>> current = connecting;
    if (current.isCompletedExceptionally()) {
      synchronized (connectLock) {
        if (connecting == current && !closed) {
          connecting = connect();
        }
        current = connecting;
      }
    }
    return current;
  }

  private StatefulRedisConnection<String, byte[]> connection() {
    CompletableFuture<StatefulRedisConnection<String, byte[]>> current = attempt();
    try {
      return current.get(commandTimeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      throw new StillConnecting("still connecting to " + address + " after " + commandTimeout.toMillis() + " ms");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw cause instanceof RedisException redis ? redis
          : new RedisConnectionException("Cannot connect to " + address, cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RedisCommandInterruptedException(e);
    }
  }

  private CompletableFuture<StatefulRedisConnection<String, byte[]>> connect() {
    return client.connectAsync(CODEC, uri).toCompletableFuture();
  }

  /** During an outage: true for one caller per retry interval, which then tries Redis. */
  private boolean mayTry() {
    long now = ticker.read();
    long next = nextTry.get();
    return now - next >= 0 && nextTry.compareAndSet(next, now + retryInterval.toNanos());
  }

  private void failed(String operation, RedisException e) {
    long now = ticker.read();
    boolean started = false;
    synchronized (outageLock) {
      lastFailure = e.getClass().getSimpleName();
      nextTry.set(now + retryInterval.toNanos());
      if (available) {
        available = false;
        downSince = now;
        started = true;
      }
    }
    if (started) {
      lastWarn.set(now);
      fellBackSinceWarn.reset();
      logger.warn("Redis at {} is unavailable ({} on {}: {}); going on without shared state until it"
              + " answers again: pins and turns are kept in this instance's local fallback, if on, and sent"
              + " to Redis once it answers (tried again every {} ms; next warning in {} s at most)", address,
          e.getClass().getSimpleName(), operation, e.getMessage(), retryInterval.toMillis(),
          seconds(warnInterval.toNanos()));
      logger.debug("Redis failure on {}", operation, e);
      if (listening) {
        notify("unavailable", () -> listener.unavailable(operation, e));
      }
    }
    fellBack(operation, e);
  }

  private void refused(String operation, RedisCommandExecutionException e) {
    fellBack(operation, e);
    long now = ticker.read();
    long last = lastRefusalWarn.get();
    if (now - last >= warnInterval.toNanos() && lastRefusalWarn.compareAndSet(last, now)) {
      logger.warn("Redis at {} refused {}: {}; it fell back (refusals logged every {} s at most)",
          address, operation, e.getMessage(), seconds(warnInterval.toNanos()));
    }
  }

  private void slow(String operation, RedisCommandTimeoutException e) {
    fellBack(operation, e);
    long now = ticker.read();
    long last = lastRefusalWarn.get();
    if (now - last >= warnInterval.toNanos() && lastRefusalWarn.compareAndSet(last, now)) {
      logger.warn("Redis at {} did not answer {} within {} ms; that operation fell back, the others go on"
          + " (logged every {} s at most)", address, operation, commandTimeout.toMillis(),
          seconds(warnInterval.toNanos()));
    } else {
      logger.debug("Redis did not answer {} within {} ms; it fell back", operation, commandTimeout.toMillis());
    }
  }

  private void fellBack(String operation, RuntimeException cause) {
    fellBackTotal.increment();
    fellBackSinceWarn.increment();
    if (listening) {
      notify("fellBack", () -> listener.fellBack(operation, cause));
    }
    if (available) {
      return;
    }
    long now = ticker.read();
    long last = lastWarn.get();
    if (now - last >= warnInterval.toNanos() && lastWarn.compareAndSet(last, now)) {
      long count = fellBackSinceWarn.sumThenReset();
      logger.warn("Redis at {} still unavailable after {} s ({}); {} operations went without it in the"
          + " last {} s", address, seconds(now - downSince), lastFailure, count, seconds(now - last));
    }
  }

  private void recovered() {
    long now = ticker.read();
    long outage;
    synchronized (outageLock) {
      if (available) {
        return;
      }
      available = true;
      outage = now - downSince;
    }
    logger.info("Redis at {} available again after {} s; {} operations went without it", address,
        seconds(outage), fellBackSinceWarn.sumThenReset());
    if (listening) {
      Duration duration = Duration.ofNanos(Math.max(0, outage));
      notify("available", () -> listener.available(duration));
    }
    for (Runnable task : whenAvailable) {
      try {
        task.run();
      } catch (RuntimeException e) {
        logger.warn("Sending what was kept while Redis was unavailable failed; it is tried again with the"
            + " next operation", e);
      }
    }
  }

  private void notify(String event, Runnable call) {
    try {
      call.run();
    } catch (RuntimeException e) {
      logger.warn("RedisListener {} threw in {}; ignored", listener.getClass().getName(), event, e);
    }
  }

  private static long seconds(long nanos) {
    return TimeUnit.NANOSECONDS.toSeconds(Math.max(0, nanos));
  }

  /** The first connection is not open yet; not counted as an outage. */
  private static final class StillConnecting extends RedisException {
    private static final long serialVersionUID = 1L;

    StillConnecting(String message) {
      super(message);
    }
  }

  /** The address without credentials: scheme, hosts, port, database. */
  static String describe(RedisURI uri) {
    if (uri.getSocket() != null) {
      return "redis-socket://" + uri.getSocket();
    }
    if (!uri.getSentinels().isEmpty()) {
      StringBuilder s = new StringBuilder(uri.isSsl() ? "rediss-sentinel://" : "redis-sentinel://");
      for (int i = 0; i < uri.getSentinels().size(); i++) {
        RedisURI sentinel = uri.getSentinels().get(i);
        s.append(i == 0 ? "" : ",").append(sentinel.getHost()).append(':').append(sentinel.getPort());
      }
      return s.append('/').append(uri.getDatabase()).append('#').append(uri.getSentinelMasterId()).toString();
    }
    return (uri.isSsl() ? "rediss://" : "redis://") + uri.getHost() + ':' + uri.getPort() + '/'
        + uri.getDatabase();
  }

  /** Builds a {@link RedisConnector}. Not thread-safe. */
  public static final class Builder {
    private String uriText;
    private String username;
    private char[] password;
    private Boolean tlsSetting;
    private boolean verifyPeer = true;
    private Path trustedCertificates;
    private Integer database;
    private String clientName = "affinity4j";
    private String keyPrefix = DEFAULT_KEY_PREFIX;
    private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    private Duration retryInterval = DEFAULT_RETRY_INTERVAL;
    private Duration warnInterval = DEFAULT_WARN_INTERVAL;
    private RedisListener listener = RedisListener.NONE;
    private Ticker ticker = Ticker.systemTicker();

    private Builder() {}

    /**
     * Sets where Redis is (required), in Lettuce's URI syntax: {@code redis://host:port/db},
     * {@code rediss://host:port} for TLS, {@code redis-sentinel://host:26379,host2:26379/0#mymaster}
     * for Sentinel, {@code redis-socket:///path/to/socket}. Credentials may be in the URI
     * ({@code redis://user:password@host}), but {@link #password(char[])} keeps them out of
     * configuration strings. Redis Cluster is not supported (see the README).
     *
     * @throws IllegalArgumentException if it is not a Redis URI
     */
    public Builder uri(String uri) {
      requireNonNull(uri, "uri");
      try {
        RedisURI.create(uri);
      } catch (RuntimeException e) {
        // Lettuce's message may echo the URI, password included.
        throw new IllegalArgumentException("Not a Redis URI (" + e.getClass().getSimpleName()
            + "); use e.g. redis://localhost:6379 or rediss://host:6380 for TLS");
      }
      this.uriText = uri;
      return this;
    }

    /** Sets the ACL user name (Redis 6+); default none: the {@code default} user. */
    public Builder username(String username) {
      this.username = requireNonNull(username, "username");
      return this;
    }

    /**
     * Sets the password (or access key); default none. Copied; never logged. Overrides one in the
     * URI.
     */
    public Builder password(char[] password) {
      this.password = requireNonNull(password, "password").clone();
      return this;
    }

    /**
     * Sets whether to connect over TLS; default as the URI says ({@code rediss://} is TLS).
     * Azure Cache for Redis accepts only TLS on port 6380.
     */
    public Builder tls(boolean tls) {
      this.tlsSetting = tls;
      return this;
    }

    /**
     * Sets whether a TLS server's certificate and host name are checked; default true. Turn it
     * off only for a test server.
     */
    public Builder verifyPeer(boolean verifyPeer) {
      this.verifyPeer = verifyPeer;
      return this;
    }

    /**
     * Sets a PEM file of CA certificates to trust for TLS, for a server whose certificate the
     * JVM's default trust store does not know; default: the JVM's trust store.
     *
     * @throws IllegalArgumentException if the file is not readable
     */
    public Builder trustedCertificates(Path pemFile) {
      requireNonNull(pemFile, "pemFile");
      if (!Files.isReadable(pemFile)) {
        throw new IllegalArgumentException("trustedCertificates: cannot read " + pemFile
            + "; pass a PEM file of CA certificates");
      }
      this.trustedCertificates = pemFile;
      return this;
    }

    /**
     * Sets the database number; default as the URI says, else 0.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder database(int database) {
      if (database < 0) {
        throw new IllegalArgumentException("database must not be negative, got " + database);
      }
      this.database = database;
      return this;
    }

    /** Sets the connection's {@code CLIENT SETNAME}; default {@code affinity4j}. */
    public Builder clientName(String clientName) {
      this.clientName = requireNonNull(clientName, "clientName");
      return this;
    }

    /**
     * Sets the prefix of every key, to share a database with other applications or keep
     * environments apart; default {@value RedisConnector#DEFAULT_KEY_PREFIX}. Every instance that
     * shares chains must use the same prefix.
     *
     * @throws IllegalArgumentException if it holds a space or a control character
     */
    public Builder keyPrefix(String keyPrefix) {
      requireNonNull(keyPrefix, "keyPrefix");
      for (int i = 0; i < keyPrefix.length(); i++) {
        char c = keyPrefix.charAt(i);
        if (c <= ' ' || c == 0x7F) {
          throw new IllegalArgumentException("keyPrefix must not hold spaces or control characters; e.g."
              + " \"affinity4j:prod:\"");
        }
      }
      this.keyPrefix = keyPrefix;
      return this;
    }

    /**
     * Sets how long connecting may take; default 2 seconds.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = positive(connectTimeout, "connectTimeout", "Duration.ofSeconds(2)");
      return this;
    }

    /**
     * Sets how long one command may take before it falls back; default 500 ms.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = positive(commandTimeout, "commandTimeout", "Duration.ofMillis(500)");
      return this;
    }

    /**
     * Sets how often Redis is tried while unavailable (other operations fall back at once), and
     * the longest pause between reconnect attempts; default 1 second.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder retryInterval(Duration retryInterval) {
      this.retryInterval = positive(retryInterval, "retryInterval", "Duration.ofSeconds(1)");
      return this;
    }

    /**
     * Sets the least time between two WARN lines about an outage or a refusal; default 1 minute.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder warnInterval(Duration warnInterval) {
      this.warnInterval = positive(warnInterval, "warnInterval", "Duration.ofMinutes(1)");
      return this;
    }

    /** Sets the listener for outages; default {@link RedisListener#NONE}. */
    public Builder listener(RedisListener listener) {
      this.listener = requireNonNull(listener, "listener");
      return this;
    }

    /** Sets the time source for retry and warning intervals; for tests. */
    public Builder ticker(Ticker ticker) {
      this.ticker = requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * Builds the connector and starts connecting in the background; does not wait for Redis.
     *
     * @throws NullPointerException if {@code uri} was not set
     */
    public RedisConnector build() {
      requireNonNull(uriText, "uri is required; e.g. redis://localhost:6379");
      return new RedisConnector(this);
    }

    private RedisURI redisUri() {
      RedisURI uri = RedisURI.create(uriText);
      if (tlsSetting != null) {
        uri.setSsl(tlsSetting);
      }
      uri.setVerifyPeer(verifyPeer ? SslVerifyMode.FULL : SslVerifyMode.NONE);
      if (database != null) {
        uri.setDatabase(database);
      }
      uri.setClientName(clientName);
      uri.setTimeout(commandTimeout);
      if (password != null || username != null) {
        String user = username;
        char[] secret = password == null ? null : Arrays.copyOf(password, password.length);
        if (uri.getCredentialsProvider() instanceof StaticCredentialsProvider given) {
          RedisCredentials inUri = given.resolveCredentialsNow();
          user = user != null ? user : inUri.getUsername();
          secret = secret != null ? secret : inUri.getPassword();
        }
        uri.setCredentialsProvider(new StaticCredentialsProvider(user, secret));
      }
      return uri;
    }

    private static Duration positive(Duration value, String name, String example) {
      requireNonNull(value, name);
      if (value.isNegative() || value.isZero()) {
        throw new IllegalArgumentException(name + " must be positive, got " + value + "; e.g. " + example);
      }
      return value;
    }
  }
}
