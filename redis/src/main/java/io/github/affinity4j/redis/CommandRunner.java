package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandInterruptedException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a {@link RedisConnector}'s operations, or falls back: asks the {@link OutageGate} whether to
 * try Redis, runs the command on the one connection, and sorts a Lettuce failure into an outage, a
 * refusal, a slow command or a connection still opening, each told to the gate and the warnings.
 *
 * <p>Thread-safe: it keeps no state of its own.
 */
final class CommandRunner {

  // The connector's category, as before the split: what a user set for RedisConnector still holds.
  private static final Logger logger = LoggerFactory.getLogger(RedisConnector.class);

  private final LettuceConnection connection;
  private final OutageGate gate;
  private final OperationWarnings warnings;
  private final Duration commandTimeout;

  CommandRunner(LettuceConnection connection, OutageGate gate, OperationWarnings warnings,
      Duration commandTimeout) {
    this.connection = connection;
    this.gate = gate;
    this.warnings = warnings;
    this.commandTimeout = commandTimeout;
  }

  /**
   * Runs {@code command}, or returns {@code fallback}: if the connector is closed, if Redis is
   * unavailable and it is not this caller's turn to try, or if the command fails. Never throws a
   * Lettuce exception.
   *
   * @param timeoutIsOutage true for a command that takes constant time, whose timeout means Redis
   *     is not answering; false for one that may be slow alone (a page of a history)
   */
  <T> @Nullable T run(String operation, Function<LettuceConnection.Commands, T> command,
      @Nullable T fallback, boolean timeoutIsOutage) {
    if (connection.isClosed()) {
      logger.debug("Redis connector closed; {} falls back", operation);
      return fallback;
    }
    if (!gate.mayTry()) {
      gate.fellBack(operation, null);
      return fallback;
    }
    T result;
    try {
      result = command.apply(connection.get());
    } catch (RedisException e) {
      if (!mayGoToAPromotedReplica(e)) {
        failed(operation, e, timeoutIsOutage);
        return fallback;
      }
      try { // once more, on the topology that names the promoted replica
        result = command.apply(connection.get());
      } catch (RedisException again) {
        failed(operation, again, timeoutIsOutage);
        return fallback;
      }
    }
    gate.succeeded();
    return result;
  }

  /**
   * True if a command that failed as if its master were gone may be sent once more: on a cluster
   * whose topology, read again now, names other masters. Without this, the first command for a
   * failed-over master's slots after its replica was promoted would fall back, and start an outage,
   * only because this instance had not read the topology since.
   */
  private boolean mayGoToAPromotedReplica(RedisException e) {
    return connection.isCluster() && !(e instanceof LettuceConnection.StillConnecting)
        && !(e instanceof RedisCommandExecutionException) && !(e instanceof RedisCommandInterruptedException)
        && connection.mastersChanged(commandTimeout);
  }

  /**
   * Sends a pipelined batch and waits for every reply, at most the command timeout for them all;
   * see {@link RedisConnector#executeBatch}.
   */
  int runBatch(String operation,
      Function<LettuceConnection.Commands, List<? extends Future<?>>> batch) {
    // Never null: await returns an int, and the fallback is -1.
    return requireNonNull(run(operation, c -> await(operation, batch.apply(c)), -1, true));
  }

  void failed(String operation, RedisException e, boolean timeoutIsOutage) {
    if (e instanceof LettuceConnection.StillConnecting) {
      // Not an outage yet: the first connection (a TLS handshake, say) is taking its time.
      logger.debug("{} falls back: {}", operation, e.getMessage());
      gate.fellBack(operation, e);
    } else if (e instanceof RedisCommandExecutionException refusal) {
      refused(operation, refusal);
      connection.masterMayBeGone(); // CLUSTERDOWN, TRYAGAIN: the topology may be changing
    } else if (e instanceof RedisCommandTimeoutException && !timeoutIsOutage && gate.isAvailable()) {
      gate.fellBack(operation, e);
      warnings.slow(operation);
      connection.masterMayBeGone();
    } else {
      gate.failed(operation, e);
      connection.masterMayBeGone();
    }
  }

  private void refused(String operation, RedisCommandExecutionException e) {
    gate.fellBack(operation, e);
    warnings.refused(operation, e);
  }

  /** Waits for a batch's replies; returns how many Redis refused (one refused operation, if any). */
  private int await(String operation, List<? extends Future<?>> futures) {
    long deadline = System.nanoTime() + commandTimeout.toNanos();
    int refused = 0;
    RedisCommandExecutionException first = null;
    for (Future<?> future : futures) {
      RedisCommandExecutionException refusal = await(future, deadline, futures.size());
      if (refusal != null) {
        refused++;
        first = first == null ? refusal : first;
      }
    }
    if (first != null) {
      refused(operation + " (" + refused + " of " + futures.size() + " commands)", first);
    }
    return refused;
  }

  /** Waits for one reply of a batch of {@code size}; returns Redis' refusal, or null if it answered. */
  private @Nullable RedisCommandExecutionException await(Future<?> future, long deadline, int size) {
    try {
      future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      return null;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RedisCommandExecutionException refusal) {
        return refusal;
      }
      throw e.getCause() instanceof RedisException failure ? failure
          : new RedisException("Pipelined command failed", e.getCause());
    } catch (TimeoutException e) {
      throw new RedisCommandTimeoutException("Pipeline of " + size + " commands not answered"
          + " within " + commandTimeout.toMillis() + " ms");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RedisCommandInterruptedException(e);
    }
  }
}
