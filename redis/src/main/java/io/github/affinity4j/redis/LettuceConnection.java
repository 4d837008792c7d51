package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandInterruptedException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The one Lettuce connection of a {@link RedisConnector}, with the client and threads under it:
 * opened in the background when made, opened again when asked for after an attempt failed, closed
 * once. To one Redis (standalone, or the master Sentinel names) through a {@link RedisClient}, or to
 * a Redis Cluster through a {@link RedisClusterClient}, which routes each command to the master of
 * its key's slot, follows redirects and refreshes the cluster's topology.
 *
 * <p>Thread-safe: a new attempt starts under a lock; everything else reads volatile fields.
 */
final class LettuceConnection {

  // The pause between connection attempts in await.
  private static final long AWAIT_PAUSE_MILLIS = 100;

  /** The commands of the open connection: to one Redis, or to a cluster (routed by key). */
  record Commands(RedisClusterCommands<String, byte[]> sync, RedisClusterAsyncCommands<String, byte[]> async,
      StatefulConnection<String, byte[]> connection) {}

  private final String address;
  private final Duration commandTimeout;
  private final ClientResources resources;
  private final boolean cluster;
  // One of the two clients, as cluster says.
  private final @Nullable RedisClient client;
  private final @Nullable RedisURI uri;
  private final @Nullable RedisClusterClient clusterClient;

  private final long refreshIntervalNanos;
  private final AtomicLong lastRefresh = new AtomicLong(System.nanoTime());
  private final Object connectLock = new Object();
  private volatile CompletableFuture<Commands> connecting;
  private volatile boolean closed;

  /**
   * Starts connecting to one Redis in the background.
   *
   * @param uri where, with the command timeout set on it
   * @param maxReconnectDelay the longest pause between Lettuce's reconnect attempts
   */
  LettuceConnection(RedisURI uri, ClientOptions options, Duration maxReconnectDelay) {
    this.uri = uri;
    this.address = describe(uri);
    this.commandTimeout = uri.getTimeout();
    this.resources = resources(maxReconnectDelay);
    this.cluster = false;
    this.refreshIntervalNanos = maxReconnectDelay.toNanos();
    this.client = RedisClient.create(resources);
    client.setOptions(options);
    this.clusterClient = null;
    this.connecting = connect();
  }

  /**
   * Starts connecting to a Redis Cluster in the background: reads its topology from the first
   * seed that answers, then connects to its masters as commands need them.
   *
   * @param seeds where to read the topology from, each with the command timeout set on it
   * @param maxReconnectDelay the longest pause between Lettuce's reconnect attempts
   */
  LettuceConnection(List<RedisURI> seeds, ClusterClientOptions options, Duration maxReconnectDelay) {
    this.uri = null;
    this.address = describeCluster(seeds);
    this.commandTimeout = seeds.get(0).getTimeout();
    this.resources = resources(maxReconnectDelay);
    this.cluster = true;
    this.refreshIntervalNanos = maxReconnectDelay.toNanos();
    this.client = null;
    this.clusterClient = RedisClusterClient.create(resources, seeds);
    clusterClient.setOptions(options);
    this.connecting = connect();
  }

  private static ClientResources resources(Duration maxReconnectDelay) {
    // Reconnect soon after Redis comes back: Lettuce's default backs off to 30 seconds.
    return ClientResources.builder()
        .ioThreadPoolSize(2)
        .computationThreadPoolSize(2)
        .reconnectDelay(Delay.exponential(Duration.ofMillis(10), maxReconnectDelay, 2, TimeUnit.MILLISECONDS))
        .build();
  }

  /** True for a Redis Cluster. */
  boolean isCluster() {
    return cluster;
  }

  /**
   * A command failed as if its master were gone: on a cluster, reads the topology again in the
   * background, at most once per retry interval. Lettuce's own triggers miss the usual failover:
   * commands for a dead master's slots wait on its connection and time out, and nothing redirects
   * them, until the topology names the promoted replica.
   */
  void masterMayBeGone() {
    RedisClusterClient cluster = clusterClient;
    if (cluster != null && claimRefresh()) {
      cluster.refreshPartitionsAsync();
    }
  }

  /** True for the one caller per retry interval that may read a cluster's topology again. */
  private boolean claimRefresh() {
    long last = lastRefresh.get();
    long now = System.nanoTime();
    return !closed && now - last >= refreshIntervalNanos && lastRefresh.compareAndSet(last, now);
  }

  /**
   * A command failed as if its master were gone, on a cluster: reads the topology now (at most once
   * per retry interval), waiting for it at most {@code timeout}. Returns true if it names other
   * masters than before (a replica was promoted): the command may be sent once more, to the new
   * master, instead of the operation falling back while the topology was stale.
   */
  boolean mastersChanged(Duration timeout) {
    RedisClusterClient cluster = clusterClient;
    if (cluster == null || !claimRefresh()) {
      return false;
    }
    try {
      String before = masters(cluster.getPartitions());
      cluster.refreshPartitionsAsync().toCompletableFuture().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
      return !before.equals(masters(cluster.getPartitions()));
    } catch (RedisException | ExecutionException | TimeoutException e) {
      return false; // no topology was ever read (refused credentials, say), or none now
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** The ids of the masters of a topology, sorted, as one string. */
  private static String masters(Partitions partitions) {
    List<String> ids = new ArrayList<>();
    for (RedisClusterNode node : partitions) {
      if (node.is(RedisClusterNode.NodeFlag.UPSTREAM) && !node.getSlots().isEmpty()) {
        ids.add(node.getNodeId());
      }
    }
    Collections.sort(ids);
    return String.join(",", ids);
  }

  /** The address without credentials, for messages. */
  String address() {
    return address;
  }

  boolean isClosed() {
    return closed;
  }

  /**
   * Returns the connection, waiting for it at most the command timeout.
   *
   * @throws StillConnecting if it is not open within the command timeout
   * @throws RedisException if it cannot be opened
   */
  Commands get() {
    CompletableFuture<Commands> current = attempt();
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

  /** As {@link RedisConnector#awaitConnection}: tries every 100 ms until connected or the timeout. */
  boolean await(Duration timeout) {
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

  /** Closes the connection and releases the client's threads. */
  void close() {
    closed = true;
    CompletableFuture<Commands> current = connecting;
    current.thenAccept(open -> open.connection().close());
    if (clusterClient != null) {
      clusterClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    } else if (client != null) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    resources.shutdown(0, 2, TimeUnit.SECONDS);
  }

  /** The connection attempt under way or done; a new one if the last failed. */
  private CompletableFuture<Commands> attempt() {
    CompletableFuture<Commands> current = connecting;
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

  private CompletableFuture<Commands> connect() {
    RedisClusterClient cluster = clusterClient;
    if (cluster != null) {
      // The topology first (from the first seed that answers): connectAsync needs it, and reads it
      // only through the blocking connect otherwise.
      return cluster.refreshPartitionsAsync().toCompletableFuture()
          .thenCompose(loaded -> cluster.connectAsync(RedisConnector.CODEC))
          .thenApply(c -> new Commands(c.sync(), c.async(), c));
    }
    return requireNonNull(client).connectAsync(RedisConnector.CODEC, requireNonNull(uri)).toCompletableFuture()
        .thenApply(c -> new Commands(c.sync(), c.async(), c));
  }

  /** The seeds without credentials: scheme, then each host and port. */
  static String describeCluster(List<RedisURI> seeds) {
    StringBuilder s = new StringBuilder(seeds.get(0).isSsl() ? "rediss-cluster://" : "redis-cluster://");
    for (int i = 0; i < seeds.size(); i++) {
      s.append(i == 0 ? "" : ",").append(seeds.get(i).getHost()).append(':').append(seeds.get(i).getPort());
    }
    return s.toString();
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

  /** The first connection is not open yet; not counted as an outage. */
  static final class StillConnecting extends RedisException {
    private static final long serialVersionUID = 1L;

    StillConnecting(String message) {
      super(message);
    }
  }
}
