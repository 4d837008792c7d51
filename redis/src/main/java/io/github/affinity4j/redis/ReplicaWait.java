package io.github.affinity4j.redis;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A journal's {@code waitForReplicas}: after a turn is recorded, Redis {@code WAIT}s until that many
 * replicas of the master that took it have every write of the connection, at most half the command
 * timeout (so the command itself never times out), before the turn is acknowledged. Redis
 * replicates asynchronously; without this, a turn recorded just before its master dies may be
 * missing from the promoted replica.
 *
 * <p>{@code WAIT} counts the writes of the connection it is sent on: on a cluster, a write waited for
 * is sent on the connection of its slot's master, not routed. Thread-safe.
 */
final class ReplicaWait {

  private static final Logger logger = LoggerFactory.getLogger(RedisHistoryJournal.class);

  private final int replicas;
  private final long timeoutMillis;
  private final OncePerInterval warnings = new OncePerInterval(Duration.ofMinutes(1), System.nanoTime()
      - Duration.ofMinutes(1).toNanos());

  ReplicaWait(int replicas, Duration commandTimeout) {
    this.replicas = replicas;
    this.timeoutMillis = Math.max(1, commandTimeout.toMillis() / 2);
  }

  boolean isOn() {
    return replicas > 0;
  }

  /**
   * The commands to send a write on so that a {@code WAIT} after it counts it: on a cluster, those of
   * the connection to {@code key}'s master; on one node, the one connection's.
   */
  static LettuceConnection.Commands masterOf(LettuceConnection.Commands commands, String key) {
    if (!(commands.connection() instanceof StatefulRedisClusterConnection<String, byte[]> cluster)) {
      return commands;
    }
    RedisClusterNode master = cluster.getPartitions().getMasterBySlot(SlotHash.getSlot(key));
    if (master == null) {
      return commands; // no master for the slot: the routed command fails as it would
    }
    StatefulRedisConnection<String, byte[]> node = cluster.getConnection(master.getNodeId());
    return new LettuceConnection.Commands(node.sync(), node.async(), node);
  }

  /** Sends a {@code WAIT} after the writes sent on {@code master}, without waiting for it. */
  RedisFuture<Long> send(RedisClusterAsyncCommands<String, byte[]> master) {
    return master.waitForReplication(replicas, timeoutMillis);
  }

  /** Waits for the replicas after the writes sent on {@code master}; WARNs (rate-limited) if too few. */
  void after(RedisClusterCommands<String, byte[]> master) {
    check(master.waitForReplication(replicas, timeoutMillis));
  }

  /** WARNs (at most once a minute) if fewer replicas than asked for acknowledged. */
  void check(@Nullable Long acknowledged) {
    if ((acknowledged == null || acknowledged < replicas) && warnings.tryClaim(System.nanoTime())) {
      logger.warn("A journaled turn reached {} of the {} replicas asked for within {} ms: a failover now could"
          + " lose it (waitForReplicas; this warning at most once a minute)", acknowledged, replicas, timeoutMillis);
    }
  }
}
