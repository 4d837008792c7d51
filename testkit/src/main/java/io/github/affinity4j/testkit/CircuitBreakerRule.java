package io.github.affinity4j.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The circuit-breaker rule applied to every backend of a simulated pool, shaped like APIM's
 * {@code circuitBreaker.rules[]}: the breaker trips after {@code count} failures whose status is in
 * one of the {@code statusRanges} within {@code interval}, stays open for {@code tripDuration}
 * (or, with {@code acceptRetryAfter}, for the failing response's {@code Retry-After}), then
 * closes. While it is open the backend is unavailable to the gateway.
 *
 * <pre>{@code
 * CircuitBreakerRule rule = CircuitBreakerRule.builder()
 *     .count(3)
 *     .interval(Duration.ofSeconds(10))
 *     .statusRange(500, 599)
 *     .tripDuration(Duration.ofSeconds(30))
 *     .build();
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 *
 * @param count failures that trip the breaker
 * @param interval window in which the failures are counted
 * @param statusRanges inclusive status ranges that count as failures
 * @param tripDuration how long the breaker stays open
 * @param acceptRetryAfter whether a failing response's {@code Retry-After} sets the open time
 */
public record CircuitBreakerRule(
    int count,
    Duration interval,
    List<StatusRange> statusRanges,
    Duration tripDuration,
    boolean acceptRetryAfter) {

  /** Copies the ranges; validation is done by the builder. */
  public CircuitBreakerRule {
    statusRanges = List.copyOf(statusRanges);
  }

  /** A new builder. {@link Builder#statusRange(int, int)} must be called at least once. */
  public static Builder builder() {
    return new Builder();
  }

  /** Whether a response status counts as a failure. */
  public boolean isFailure(int status) {
    for (StatusRange range : statusRanges) {
      if (range.contains(status)) {
        return true;
      }
    }
    return false;
  }

  /**
   * An inclusive range of HTTP status codes.
   *
   * @param min lowest status in the range
   * @param max highest status in the range
   */
  public record StatusRange(int min, int max) {
    /** Validates the bounds. */
    public StatusRange {
      if (min < 100 || max > 599 || min > max) {
        throw new IllegalArgumentException(
            "status range must lie within 100..599 with min <= max, was " + min + ".." + max);
      }
    }

    /** Whether {@code status} lies within this range. */
    public boolean contains(int status) {
      return status >= min && status <= max;
    }
  }

  /** Builds a {@link CircuitBreakerRule}. Not thread-safe. */
  public static final class Builder {
    private int count = 1;
    private Duration interval = Duration.ofMinutes(1);
    private final List<StatusRange> statusRanges = new ArrayList<>();
    private Duration tripDuration = Duration.ofMinutes(1);
    private boolean acceptRetryAfter;

    private Builder() {}

    /** Failures that trip the breaker; default 1. */
    public Builder count(int count) {
      if (count < 1) {
        throw new IllegalArgumentException("count must be 1 or more, was " + count);
      }
      this.count = count;
      return this;
    }

    /** Window in which failures are counted; default 1 minute. */
    public Builder interval(Duration interval) {
      this.interval = positive(interval, "interval");
      return this;
    }

    /** Adds an inclusive range of statuses that count as failures, e.g. {@code (500, 599)}. */
    public Builder statusRange(int min, int max) {
      statusRanges.add(new StatusRange(min, max));
      return this;
    }

    /** How long the breaker stays open; default 1 minute. */
    public Builder tripDuration(Duration tripDuration) {
      this.tripDuration = positive(tripDuration, "tripDuration");
      return this;
    }

    /** Whether a failing response's {@code Retry-After} sets the open time; default false. */
    public Builder acceptRetryAfter(boolean acceptRetryAfter) {
      this.acceptRetryAfter = acceptRetryAfter;
      return this;
    }

    /**
     * Builds the rule.
     *
     * @throws IllegalStateException if no status range was added
     */
    public CircuitBreakerRule build() {
      if (statusRanges.isEmpty()) {
        throw new IllegalStateException(
            "add at least one statusRange(min, max), e.g. statusRange(500, 599)");
      }
      return new CircuitBreakerRule(count, interval, statusRanges, tripDuration, acceptRetryAfter);
    }

    private static Duration positive(Duration duration, String name) {
      Objects.requireNonNull(duration, name);
      if (duration.isNegative() || duration.isZero()) {
        throw new IllegalArgumentException(name + " must be positive, was " + duration);
      }
      return duration;
    }
  }
}
