package io.github.affinity4j.redis;

import com.github.benmanes.caffeine.cache.Ticker;
import io.lettuce.core.RedisException;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the writes of a {@link RedisConnector} (a bind, a journaled turn) without waiting for their
 * replies: the command goes on the one connection, pipelined behind every command sent before it,
 * and its reply is handled when it comes, on Lettuce's I/O thread. At most
 * {@code maxWritesInFlight} writes are sent and not answered yet; a write past it is dropped and
 * counted, never waited for.
 *
 * <p>A failed write is told to the {@link OutageGate} as a synchronous one would be, after the
 * caller's {@link Reply#failed} kept it for later, so that a write made after the outage starts is
 * queued behind it. Whatever blocks (the tasks run once Redis answers again, a resend) runs on one
 * thread of its own, never on the I/O thread.
 *
 * <p>Thread-safe.
 */
final class WriteSender {

  // The connector's category, as before the split: what a user set for RedisConnector still holds.
  private static final Logger logger = LoggerFactory.getLogger(RedisConnector.class);

  /** What became of a write. */
  enum Outcome {
    /** On the wire; its reply goes to the {@link Reply}. */
    SENT,
    /** Not sent: Redis is unavailable or the connector closed; the caller falls back as before. */
    NOT_SENT,
    /** Not sent: Redis was tried and failed (the connection not open, a read made first); keep it for later. */
    FELL_BACK,
    /** Not sent: too many writes wait for their replies; dropped and counted. */
    DROPPED
  }

  /** What to do with a write's reply, on Lettuce's I/O thread: never block there. */
  interface Reply<T> {
    void answered(T value);

    /** Redis failed the write, or did not answer it within the command timeout. */
    void failed();
  }

  private final LettuceConnection connection;
  private final OutageGate gate;
  private final CommandRunner runner;
  private final int maxInFlight;
  private final Ticker ticker;
  private final OncePerInterval dropWarnings;
  private final AtomicInteger inFlight = new AtomicInteger();
  // Set by a journal with waitForReplicas: every write waits for its reply, binds too, so that no pin
  // in Redis points another instance at a turn that is not there yet.
  private volatile boolean awaitEveryWrite;
  private final LongAdder dropped = new LongAdder();
  private final ExecutorService background = Executors.newSingleThreadExecutor(r -> {
    Thread thread = new Thread(r, "affinity4j-redis-writes");
    thread.setDaemon(true);
    return thread;
  });

  WriteSender(LettuceConnection connection, OutageGate gate, CommandRunner runner, int maxInFlight,
      Duration warnInterval, Ticker ticker) {
    this.connection = connection;
    this.gate = gate;
    this.runner = runner;
    this.maxInFlight = maxInFlight;
    this.ticker = ticker;
    this.dropWarnings = new OncePerInterval(warnInterval, ticker.read() - warnInterval.toNanos());
  }

  /** From now on, every write waits for its reply (a journal with {@code waitForReplicas} shares the connector). */
  void awaitEveryWrite() {
    awaitEveryWrite = true;
  }

  int maxInFlight() {
    return maxInFlight;
  }

  int inFlight() {
    return inFlight.get();
  }

  long dropped() {
    return dropped.sum();
  }

  /**
   * Sends {@code write} and returns without its reply, if Redis is available and fewer than the
   * bound are in flight. A Lettuce failure while sending (the connection not open, a read made
   * first) is handled as a synchronous command's and returns {@link Outcome#FELL_BACK}.
   */
  <T> Outcome send(String operation,
      Function<LettuceConnection.Commands, ? extends CompletionStage<? extends T>> write, Reply<T> reply) {
    if (awaitEveryWrite || connection.isClosed() || !gate.isAvailable()) {
      return Outcome.NOT_SENT;
    }
    if (inFlight.incrementAndGet() > maxInFlight) {
      inFlight.decrementAndGet();
      drop(operation);
      return Outcome.DROPPED;
    }
    CompletionStage<? extends T> sent;
    try {
      sent = write.apply(connection.get());
    } catch (RedisException e) {
      inFlight.decrementAndGet();
      runner.failed(operation, e, true);
      return Outcome.FELL_BACK;
    }
    sent.whenComplete((value, failure) -> {
      inFlight.decrementAndGet();
      if (failure == null) {
        reply.answered(value);
        succeeded();
      } else {
        reply.failed(); // kept first: a write made once the gate says unavailable queues behind it
        failed(operation, failure);
      }
    });
    return Outcome.SENT;
  }

  /** Runs {@code task} on this sender's own thread: for work that blocks, asked for from the I/O thread. */
  void inBackground(Runnable task) {
    try {
      background.execute(() -> {
        try {
          task.run();
        } catch (RuntimeException e) {
          logger.warn("Sending what was kept for Redis failed; it is tried again with the next operation", e);
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      logger.debug("Redis connector closed; {} not run", task);
    }
  }

  /** Waits until no write waits for its reply, at most {@code timeout}; true if none does. */
  boolean await(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (inFlight.get() > 0) {
      if (System.nanoTime() - deadline >= 0) {
        return false;
      }
      try {
        TimeUnit.MILLISECONDS.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  void close() {
    background.shutdown();
  }

  private void succeeded() {
    if (!gate.isAvailable()) {
      // Ending an outage runs the tasks that send what was kept meanwhile, which wait for Redis.
      inBackground(gate::succeeded);
    }
  }

  private void failed(String operation, Throwable failure) {
    Throwable cause = failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
    RedisException e = cause instanceof RedisException redis ? redis
        : new RedisException("Write failed: " + cause.getClass().getSimpleName(), cause);
    runner.failed(operation, e, true);
  }

  private void drop(String operation) {
    dropped.increment();
    long sinceWarn = dropWarnings.claim(ticker.read());
    if (sinceWarn >= 0) {
      logger.warn("Redis at {} has {} writes unanswered, the bound (maxWritesInFlight); {} dropped, {} in"
          + " all so far: Redis is slow, and those pins and turns are not shared (logged every {} s at most)",
          connection.address(), maxInFlight, operation, dropped.sum(), dropWarnings.intervalSeconds());
    } else {
      logger.debug("{} dropped: {} writes unanswered", operation, maxInFlight);
    }
  }

  @Override
  public String toString() {
    return "WriteSender[" + inFlight.get() + " in flight, " + dropped.sum() + " dropped]";
  }
}
