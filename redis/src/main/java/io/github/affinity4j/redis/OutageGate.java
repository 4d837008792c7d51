package io.github.affinity4j.redis;

import static io.github.affinity4j.redis.OncePerInterval.seconds;
import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Ticker;
import io.lettuce.core.RedisException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The outage breaker of a {@link RedisConnector}: whether Redis is available, who tries it during
 * an outage (one caller per retry interval), how many operations fell back, and what an outage
 * tells: its WARNs, the INFO at its end, the {@link RedisListener}'s events, and the tasks run once
 * Redis answers again.
 *
 * <p>Thread-safe: availability flips under a lock; the request path reads volatile fields and
 * compares-and-sets.
 */
final class OutageGate {

  // The connector's category, as before the split: what a user set for RedisConnector still holds.
  private static final Logger logger = LoggerFactory.getLogger(RedisConnector.class);

  private final String address;
  private final Duration retryInterval;
  private final RedisListener listener;
  private final boolean listening;
  private final Ticker ticker;
  private final OncePerInterval tries;
  private final OncePerInterval warnings;

  private final Object lock = new Object();
  private volatile boolean available = true;
  private volatile long downSince;
  private volatile @Nullable String lastFailure;
  private final LongAdder fellBackSinceWarn = new LongAdder();
  private final LongAdder fellBackTotal = new LongAdder();
  // Run once Redis answers again, on the thread that saw it: the store and the journal send what
  // they kept meanwhile.
  private final List<Runnable> whenAvailable = new CopyOnWriteArrayList<>();

  OutageGate(String address, Duration retryInterval, Duration warnInterval, RedisListener listener,
      Ticker ticker) {
    this.address = address;
    this.retryInterval = retryInterval;
    this.listener = listener;
    this.listening = listener != RedisListener.NONE;
    this.ticker = ticker;
    // Both are restarted when an outage starts; until then, the first try may go at once.
    this.tries = new OncePerInterval(retryInterval, -retryInterval.toNanos());
    this.warnings = new OncePerInterval(warnInterval, 0);
  }

  boolean isAvailable() {
    return available;
  }

  long fallbacks() {
    return fellBackTotal.sum();
  }

  void whenAvailable(Runnable task) {
    whenAvailable.add(requireNonNull(task, "task"));
  }

  /** True if an operation may go to Redis now: while it is available, else for one caller per retry interval. */
  boolean mayTry() {
    return available || tries.tryClaim(ticker.read());
  }

  /** Redis did not answer an operation: starts an outage (WARN, listener) or goes on with one; it fell back. */
  void failed(String operation, RedisException e) {
    long now = ticker.read();
    if (wentDown(e, now)) {
      warnings.restart(now);
      fellBackSinceWarn.reset();
      logger.warn("Redis at {} is unavailable ({} on {}: {}); going on without shared state until it"
              + " answers again: pins and turns are kept in this instance's local fallback, if on, and sent"
              + " to Redis once it answers (tried again every {} ms; next warning in {} s at most)", address,
          e.getClass().getSimpleName(), operation, e.getMessage(), retryInterval.toMillis(),
          warnings.intervalSeconds());
      logger.debug("Redis failure on {}", operation, e);
      if (listening) {
        notify("unavailable", () -> listener.unavailable(operation, e));
      }
    }
    fellBack(operation, e);
  }

  /**
   * An operation fell back: counted, told to the listener, and during an outage summed up in a
   * WARN at most once per warn interval.
   *
   * @param cause the failure, or null if Redis was not tried
   */
  void fellBack(String operation, @Nullable RuntimeException cause) {
    fellBackTotal.increment();
    fellBackSinceWarn.increment();
    if (listening) {
      notify("fellBack", () -> listener.fellBack(operation, cause));
    }
    if (!available) {
      warnStillDown();
    }
  }

  /** An operation succeeded: ends the outage, if there is one. */
  void succeeded() {
    if (!available) {
      recovered();
    }
  }

  /** Appends the state, for {@link RedisConnector#toString()}: available, or for how long not and why. */
  void describe(StringBuilder s) {
    if (available) {
      s.append(", available");
      return;
    }
    s.append(", UNAVAILABLE for ").append(seconds(ticker.read() - downSince)).append(" s");
    String failure = lastFailure;
    if (failure != null) {
      s.append(" (").append(failure).append(')');
    }
  }

  /** Records the failure; returns true if it starts an outage. */
  private boolean wentDown(RedisException e, long now) {
    synchronized (lock) {
      lastFailure = e.getClass().getSimpleName();
      tries.restart(now);
      if (!available) {
        return false;
      }
      available = false;
      downSince = now;
      return true;
    }
  }

  private void warnStillDown() {
    long now = ticker.read();
    long sinceWarn = warnings.claim(now);
    if (sinceWarn >= 0) {
      long count = fellBackSinceWarn.sumThenReset();
      logger.warn("Redis at {} still unavailable after {} s ({}); {} operations went without it in the"
          + " last {} s", address, seconds(now - downSince), lastFailure, count, seconds(sinceWarn));
    }
  }

  private void recovered() {
    long now = ticker.read();
    long outage;
    synchronized (lock) {
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
    runWhenAvailable();
  }

  private void runWhenAvailable() {
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
}
