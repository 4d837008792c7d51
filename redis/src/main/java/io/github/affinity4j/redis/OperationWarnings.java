package io.github.affinity4j.redis;

import com.github.benmanes.caffeine.cache.Ticker;
import io.lettuce.core.RedisCommandExecutionException;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WARNs of a {@link RedisConnector} about single operations that fall back while Redis stays
 * available: a command Redis refused, a slow command, a record that cannot be read. One WARN per
 * warn interval for them all together, DEBUG otherwise (none for a refusal).
 *
 * <p>Thread-safe and lock-free.
 */
final class OperationWarnings {

  // The connector's category, as before the split: what a user set for RedisConnector still holds.
  private static final Logger logger = LoggerFactory.getLogger(RedisConnector.class);

  private final String address;
  private final Duration commandTimeout;
  private final Ticker ticker;
  private final OncePerInterval interval;

  OperationWarnings(String address, Duration commandTimeout, Duration warnInterval, Ticker ticker) {
    this.address = address;
    this.commandTimeout = commandTimeout;
    this.ticker = ticker;
    this.interval = new OncePerInterval(warnInterval, ticker.read() - warnInterval.toNanos());
  }

  void refused(String operation, RedisCommandExecutionException e) {
    if (due()) {
      logger.warn("Redis at {} refused {}: {}; it fell back (refusals logged every {} s at most)",
          address, operation, e.getMessage(), interval.intervalSeconds());
    }
  }

  void slow(String operation) {
    if (due()) {
      logger.warn("Redis at {} did not answer {} within {} ms; that operation fell back, the others go on"
          + " (logged every {} s at most)", address, operation, commandTimeout.toMillis(),
          interval.intervalSeconds());
    } else {
      logger.debug("Redis did not answer {} within {} ms; it fell back", operation, commandTimeout.toMillis());
    }
  }

  void unreadable(String what, Object key, RuntimeException e) {
    if (due()) {
      logger.warn("Cannot read the {} of {} in Redis at {} ({}: {}); treated as absent (logged every {} s"
          + " at most)", what, key, address, e.getClass().getSimpleName(), e.getMessage(),
          interval.intervalSeconds());
    } else {
      logger.debug("Cannot read the {} of {} ({})", what, key, e.getClass().getSimpleName());
    }
  }

  private boolean due() {
    return interval.tryClaim(ticker.read());
  }
}
