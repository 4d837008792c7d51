package io.github.affinity4j.testsupport;

import static java.util.Objects.requireNonNull;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A UTC clock that stands still until a test advances it: the fake time source for the builders'
 * {@code clock(Clock)} test hook, so expiry and intervals are driven, never waited for.
 *
 * <pre>{@code
 * MutableClock clock = new MutableClock();
 * AffinityStore store = CaffeineAffinityStore.builder().clock(clock).executor(Runnable::run).build();
 * clock.advance(Duration.ofHours(2));
 * }</pre>
 *
 * <p>Thread-safe: a test thread may advance it while the code under test reads it.
 */
public final class MutableClock extends Clock {

  private final AtomicReference<Instant> now;

  /** A clock at 2026-01-01T00:00:00Z. */
  public MutableClock() {
    this(Instant.parse("2026-01-01T00:00:00Z"));
  }

  /** A clock at {@code start}. */
  public MutableClock(Instant start) {
    this.now = new AtomicReference<>(requireNonNull(start, "start"));
  }

  /** Moves the clock forward by {@code duration} (back, if negative). */
  public void advance(Duration duration) {
    requireNonNull(duration, "duration");
    now.updateAndGet(instant -> instant.plus(duration));
  }

  @Override
  public Instant instant() {
    return now.get();
  }

  @Override
  public ZoneId getZone() {
    return ZoneOffset.UTC;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    throw new UnsupportedOperationException("a test clock has one zone, UTC");
  }
}
