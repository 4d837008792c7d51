package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Ticker;
import java.time.Clock;
import java.time.Instant;

/**
 * Adapts the {@link Clock} that builders take to the {@link Ticker} Caffeine reads, so that users
 * see one time abstraction and no Caffeine type. Not API, may change in any release.
 *
 * <pre>{@code
 * Caffeine.newBuilder().ticker(Tickers.of(builder.clock))
 * }</pre>
 *
 * <p>Thread-safe if the clock is.
 */
public final class Tickers {

  private Tickers() {}

  /**
   * Returns a ticker that follows {@code clock}: {@link Ticker#systemTicker()} for the system
   * clock, so production code keeps {@code System.nanoTime()}, monotonic and cheap; otherwise the
   * clock's instant in nanoseconds since the epoch, read on every tick (a test clock that a test
   * advances).
   *
   * @throws NullPointerException if {@code clock} is null
   */
  public static Ticker of(Clock clock) {
    requireNonNull(clock, "clock");
    // The zone does not change the instant: the UTC and the default-zone system clocks both tick
    // with System.nanoTime(). Equals runs on the JDK's clock, never the caller's.
    if (Clock.systemUTC().equals(clock) || Clock.systemDefaultZone().equals(clock)) {
      return Ticker.systemTicker();
    }
    return () -> nanos(clock.instant());
  }

  /**
   * Nanoseconds since the epoch. Overflows in the year 2262; Caffeine and the adapters only
   * subtract two ticks, which stays right across the overflow.
   */
  private static long nanos(Instant instant) {
    return instant.getEpochSecond() * 1_000_000_000L + instant.getNano();
  }
}
