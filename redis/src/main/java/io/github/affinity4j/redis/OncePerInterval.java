package io.github.affinity4j.redis;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Lets one caller through per interval: the one rate limit behind a {@link RedisConnector}'s tries
 * during an outage and the WARNs it repeats (an outage going on, a refusal, a slow command, an
 * unreadable record). Times are ticker nanoseconds.
 *
 * <p>Thread-safe and lock-free: of the callers that find the interval passed, one wins.
 */
final class OncePerInterval {

  private final long intervalNanos;
  private final AtomicLong last;

  /**
   * @param interval the least time between two callers let through
   * @param last when the last one was let through; {@code now - interval} lets the next through
   */
  OncePerInterval(Duration interval, long last) {
    this.intervalNanos = interval.toNanos();
    this.last = new AtomicLong(last);
  }

  /** Returns true for one caller once the interval has passed, and makes {@code now} the last time. */
  boolean tryClaim(long now) {
    return claim(now) >= 0;
  }

  /** As {@link #tryClaim}, returning the nanoseconds since the last time, or -1 for the others. */
  long claim(long now) {
    long previous = last.get();
    return now - previous >= intervalNanos && last.compareAndSet(previous, now) ? now - previous : -1;
  }

  /** Makes {@code now} the last time, so that the next caller goes through one interval later. */
  void restart(long now) {
    last.set(now);
  }

  /** The interval in whole seconds, for the messages that quote it. */
  long intervalSeconds() {
    return seconds(intervalNanos);
  }

  /** Whole seconds of {@code nanos}, 0 if negative: what the log lines show. */
  static long seconds(long nanos) {
    return TimeUnit.NANOSECONDS.toSeconds(Math.max(0, nanos));
  }
}
