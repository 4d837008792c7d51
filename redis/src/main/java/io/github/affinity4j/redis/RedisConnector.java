package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.affinity4j.core.internal.Tickers;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Future;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

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
 * and their commands are pipelined on it. Writes (binds, journaled turns) are sent without waiting
 * for their replies, at most {@link Builder#maxWritesInFlight maxWritesInFlight} at once; a lookup
 * waits, behind every write sent before it (docs/redis.md). The connection is opened in the background at
 * {@link Builder#build()}, so an application starts even while Redis is down; Lettuce reconnects by
 * itself after a connection is lost, and commands issued while it is disconnected fail at once
 * instead of queueing.
 *
 * <p><b>While Redis is unavailable</b> (a connection failure, a constant-time command timing out),
 * operations fall back to what this instance kept locally (see each one's "local fallback"), send
 * it to Redis once it answers, and requests still go out. The first failure is logged at WARN and
 * reported to {@link RedisListener#unavailable}; then Redis is tried once per
 * {@link Builder#retryInterval retryInterval} while other operations fall back at once, and the
 * first success ends the outage ({@link RedisListener#available}). A command Redis refuses
 * ({@code OOM}, say) or a slow page of a history falls back alone: not an outage. See
 * docs/redis.md, "Consistency, outages".
 *
 * <p>Thread-safe. {@link #toString()} and every log line show the address, never the password.
 */
public final class RedisConnector implements AutoCloseable {
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

  /** The default bound on writes sent and not answered yet: 10,000 (about 100 ms of a busy instance's turns). */
  public static final int DEFAULT_MAX_WRITES_IN_FLIGHT = 10_000;

  static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  private final String keyPrefix;
  private final Duration commandTimeout;
  private final String address;
  private final boolean tls;
  private final LettuceConnection connection;
  private final OutageGate gate;
  private final OperationWarnings warnings;
  private final CommandRunner runner;
  private final WriteSender writes;
  private volatile @Nullable ChainRoots roots; // the journal's, on a cluster

  private RedisConnector(Builder builder) {
    this.keyPrefix = builder.keyPrefix;
    this.commandTimeout = builder.commandTimeout;
    LettuceSettings settings = new LettuceSettings(builder.username, builder.password, builder.tlsSetting,
        builder.verifyPeer, builder.trustedCertificates, builder.database, builder.clientName,
        builder.connectTimeout, builder.commandTimeout, builder.retryInterval);
    if (builder.seeds != null) {
      List<RedisURI> seeds = settings.seedUris(builder.seeds);
      this.tls = seeds.get(0).isSsl();
      this.connection = new LettuceConnection(seeds, settings.clusterOptions(), builder.retryInterval);
    } else {
      RedisURI uri = settings.redisUri(requireNonNull(builder.uriText));
      this.tls = uri.isSsl();
      this.connection = new LettuceConnection(uri, settings.clientOptions(), builder.retryInterval);
    }
    this.address = connection.address();
    Ticker ticker = Tickers.of(builder.clock);
    this.gate = new OutageGate(address, builder.retryInterval, builder.warnInterval, builder.listener, ticker);
    this.warnings = new OperationWarnings(address, commandTimeout, builder.warnInterval, ticker);
    this.runner = new CommandRunner(connection, gate, warnings, commandTimeout);
    this.writes = new WriteSender(connection, gate, runner, builder.maxWritesInFlight, builder.warnInterval, ticker);
  }

  /** Returns a builder; {@code uri} or {@code cluster} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the prefix of every key written. */
  public String keyPrefix() {
    return keyPrefix;
  }

  /** Returns the command timeout. */
  public Duration commandTimeout() {
    return commandTimeout;
  }

  /** Returns true if this connector talks to a Redis Cluster ({@link Builder#cluster}). */
  public boolean isCluster() {
    return connection.isCluster();
  }

  /** Returns false from the first failed operation of an outage until the next successful one; starts true. */
  public boolean isAvailable() {
    return gate.isAvailable();
  }

  /** Returns how many operations fell back (failed, or skipped during an outage) since it was built. */
  public long fallbacks() {
    return gate.fallbacks();
  }

  /**
   * Waits until the connection is open, at most {@code timeout}: for a readiness check at startup.
   * A failed attempt is made again every 100 ms until the timeout. Operations meanwhile wait for
   * the connection at most the command timeout and then fall back.
   *
   * @return true if connected; false if the timeout passed, the connector was closed, or the
   *     thread was interrupted
   * @throws NullPointerException if {@code timeout} is null
   */
  public boolean awaitConnection(Duration timeout) {
    return connection.await(requireNonNull(timeout, "timeout"));
  }

  /**
   * Returns how many writes (binds, journaled turns) were dropped unsent since it was built, because
   * {@link Builder#maxWritesInFlight maxWritesInFlight} writes were waiting for Redis' replies.
   */
  public long droppedWrites() {
    return writes.dropped();
  }

  /** Returns how many writes were sent to Redis and wait for its reply now. */
  public int writesInFlight() {
    return writes.inFlight();
  }

  /**
   * Waits until every write sent so far has its reply (taken, or kept locally if Redis failed it),
   * at most {@code timeout}; for a shutdown or a test. Returns true if none waits.
   */
  public boolean awaitWrites(Duration timeout) {
    return writes.await(requireNonNull(timeout, "timeout"));
  }

  /** Waits for the writes' replies (at most the command timeout), closes the connection; later operations fall back. */
  @Override
  public void close() {
    writes.await(commandTimeout);
    writes.close();
    connection.close();
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("RedisConnector[").append(address)
        .append(", tls=").append(tls)
        .append(", keyPrefix=").append(keyPrefix);
    if (connection.isClosed()) {
      s.append(", CLOSED");
    } else {
      gate.describe(s);
    }
    return s.append(']').toString();
  }

  // --- for the store and the journal ---

  /**
   * Runs one Redis operation, or falls back: returns {@code fallback} if Redis is unavailable and
   * it is not time to try again, or if the operation fails. Never throws a Lettuce exception. For
   * commands that take constant time: one that times out means Redis is not answering, an outage.
   */
  <T> @Nullable T execute(String operation, Function<RedisClusterCommands<String, byte[]>, T> command,
      @Nullable T fallback) {
    return runner.run(operation, c -> command.apply(c.sync()), fallback, true);
  }

  /** As {@link #execute}, with both the connection's synchronous and asynchronous commands, to pipeline. */
  <T> @Nullable T executeWith(String operation, Function<LettuceConnection.Commands, T> command,
      @Nullable T fallback) {
    return runner.run(operation, command, fallback, true);
  }

  /**
   * As {@link #execute}, for a command whose run time grows with the data it reads (a page of a
   * history): if it times out, that operation falls back alone, and Redis stays available for the
   * others. One slow command is not an outage; a connection failure still is.
   */
  <T> @Nullable T executeSlow(String operation, Function<RedisClusterCommands<String, byte[]>, T> command,
      @Nullable T fallback) {
    return runner.run(operation, c -> command.apply(c.sync()), fallback, false);
  }

  /** Set by a journal on a cluster, so that the store's pin lookups read their chain's root for it. */
  void roots(ChainRoots roots) {
    this.roots = roots;
  }

  @Nullable ChainRoots roots() {
    return roots;
  }

  /** The sender of writes not waited for: binds and journaled turns. */
  WriteSender writes() {
    return writes;
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
      Function<LettuceConnection.Commands, List<? extends Future<?>>> batch) {
    return runner.runBatch(operation, batch);
  }

  /** Runs {@code task} each time Redis answers again, after the operation that found it back (a throw: WARN). */
  void whenAvailable(Runnable task) {
    gate.whenAvailable(task);
  }

  /** Logs a record that cannot be read (a newer format, or not ours), at most once per warnInterval. */
  void unreadable(String what, Object key, RuntimeException e) {
    warnings.unreadable(what, key, e);
  }

  /** Builds a {@link RedisConnector}. Not thread-safe. */
  public static final class Builder {
    private @Nullable String uriText;
    private @Nullable List<String> seeds;
    private @Nullable String username;
    private char @Nullable [] password;
    private @Nullable Boolean tlsSetting;
    private boolean verifyPeer = true;
    private @Nullable Path trustedCertificates;
    private @Nullable Integer database;
    private String clientName = "affinity4j";
    private String keyPrefix = DEFAULT_KEY_PREFIX;
    private Duration connectTimeout = DEFAULT_CONNECT_TIMEOUT;
    private Duration commandTimeout = DEFAULT_COMMAND_TIMEOUT;
    private Duration retryInterval = DEFAULT_RETRY_INTERVAL;
    private Duration warnInterval = DEFAULT_WARN_INTERVAL;
    private RedisListener listener = RedisListener.NONE;
    private Clock clock = Clock.systemUTC();
    private int maxWritesInFlight = DEFAULT_MAX_WRITES_IN_FLIGHT;

    private Builder() {}

    /**
     * Sets where Redis is (required), in Lettuce's URI syntax: {@code redis://host:port/db},
     * {@code rediss://host:port} for TLS, {@code redis-sentinel://host:26379,host2:26379/0#mymaster}
     * for Sentinel, {@code redis-socket:///path/to/socket}. Credentials may be in the URI
     * ({@code redis://user:password@host}), but {@link #password(char[])} keeps them out of
     * configuration strings. For a Redis Cluster, use {@link #cluster} instead.
     *
     * @throws IllegalArgumentException if it is not a Redis URI
     */
    public Builder uri(String uri) {
      LettuceSettings.parse(requireNonNull(uri, "uri"));
      this.uriText = uri;
      return this;
    }

    /**
     * Sets the nodes of a Redis Cluster to read its topology from (at least one; a few, so that
     * one being down does not stop a start), instead of {@link #uri}: {@code redis://host:port} or
     * {@code rediss://host:port} for TLS. The connector then reaches every master of the cluster:
     * each command goes to the master of its key's slot, {@code MOVED} and {@code ASK} redirects
     * are followed, and the topology is read again when a node is lost or a slot moves (and every
     * minute), so a replica promoted by a failover takes over. Password, user name, TLS and the
     * other settings apply to every node; the database is always 0. Azure Managed Redis with the
     * OSS cluster policy is one such cluster: give its endpoint, port 10000.
     *
     * <pre>{@code
     * RedisConnector redis = RedisConnector.builder()
     *     .cluster("rediss://my-cache.westeurope.redis.azure.net:10000")
     *     .password(System.getenv("REDIS_KEY").toCharArray())
     *     .build();
     * }</pre>
     *
     * @throws IllegalArgumentException if none is given, or one is not a {@code redis://} or
     *     {@code rediss://} URI
     */
    public Builder cluster(String... seedUris) {
      requireNonNull(seedUris, "seedUris");
      if (seedUris.length == 0) {
        throw new IllegalArgumentException("cluster needs at least one seed URI; e.g. redis://10.0.0.5:6379");
      }
      for (String seed : seedUris) {
        LettuceSettings.checkSeed(requireNonNull(seed, "seed URI"));
      }
      this.seeds = List.of(seedUris);
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
      RedisKeys.checkPrefix(requireNonNull(keyPrefix, "keyPrefix"));
      this.keyPrefix = keyPrefix;
      return this;
    }

    /**
     * Sets how long connecting may take; default 2 seconds.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = LettuceSettings.positive(connectTimeout, "connectTimeout", "Duration.ofSeconds(2)");
      return this;
    }

    /**
     * Sets how long one command may take before it falls back; default 500 ms.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = LettuceSettings.positive(commandTimeout, "commandTimeout", "Duration.ofMillis(500)");
      return this;
    }

    /**
     * Sets how often Redis is tried while unavailable (other operations fall back at once), and
     * the longest pause between reconnect attempts; default 1 second.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder retryInterval(Duration retryInterval) {
      this.retryInterval = LettuceSettings.positive(retryInterval, "retryInterval", "Duration.ofSeconds(1)");
      return this;
    }

    /**
     * Sets the least time between two WARN lines about an outage or a refusal; default 1 minute.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder warnInterval(Duration warnInterval) {
      this.warnInterval = LettuceSettings.positive(warnInterval, "warnInterval", "Duration.ofMinutes(1)");
      return this;
    }

    /**
     * Sets how many writes may wait for Redis' replies at once; default 10,000. A bind or a
     * journaled turn is sent without waiting for its reply; past this bound (Redis slow), one is
     * dropped, counted in {@link RedisConnector#droppedWrites()} and the store's and journal's
     * {@code droppedWrites()}, and logged at WARN once per warn interval, never waited for.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder maxWritesInFlight(int maxWritesInFlight) {
      if (maxWritesInFlight <= 0) {
        throw new IllegalArgumentException("maxWritesInFlight must be positive, got " + maxWritesInFlight
            + "; e.g. 10_000");
      }
      this.maxWritesInFlight = maxWritesInFlight;
      return this;
    }

    /** Sets the listener for outages; default {@link RedisListener#NONE}. */
    public Builder listener(RedisListener listener) {
      this.listener = requireNonNull(listener, "listener");
      return this;
    }

    /** Sets the time source for retry and warning intervals; for tests; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Builds the connector and starts connecting in the background; does not wait for Redis.
     *
     * @throws NullPointerException if neither {@code uri} nor {@code cluster} was set
     * @throws IllegalStateException if both were set, or a database other than 0 for a cluster
     */
    public RedisConnector build() {
      LettuceSettings.checkTarget(uriText, seeds, database, keyPrefix);
      return new RedisConnector(this);
    }
  }
}
