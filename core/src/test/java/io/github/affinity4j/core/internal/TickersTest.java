package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.affinity4j.testsupport.MutableClock;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

final class TickersTest {

  @Test
  void systemClock_anyDefaultZone_isTheSystemTicker() {
    assertThat(Tickers.of(Clock.systemUTC())).isSameAs(Ticker.systemTicker());
    assertThat(Tickers.of(Clock.systemDefaultZone())).isSameAs(Ticker.systemTicker());
    assertThat(Tickers.of(Clock.system(ZoneOffset.UTC))).isSameAs(Ticker.systemTicker());
  }

  @Test
  void fixedClock_readsItsInstantInNanos() {
    Ticker ticker = Tickers.of(Clock.fixed(Instant.ofEpochSecond(3, 5), ZoneOffset.UTC));

    assertThat(ticker).isNotSameAs(Ticker.systemTicker());
    assertThat(ticker.read()).isEqualTo(3_000_000_005L);
  }

  @Test
  void testClock_advanced_tickerMovesByTheSameTime() {
    MutableClock clock = new MutableClock();
    Ticker ticker = Tickers.of(clock);
    long before = ticker.read();

    clock.advance(Duration.ofMillis(1500));

    assertThat(ticker.read() - before).isEqualTo(1_500_000_000L);
  }

  @Test
  void nullClock_throws() {
    assertThatThrownBy(() -> Tickers.of(null)).isInstanceOf(NullPointerException.class);
  }
}
