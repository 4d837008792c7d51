package io.github.affinity4j.redis;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Hears when the Redis behind a {@link RedisConnector} goes away and comes back: for alerts,
 * metrics and tests. While Redis is unavailable, a {@link RedisAffinityStore} and a
 * {@link RedisHistoryJournal} answer from what this instance kept locally (its own recent pins, the
 * chains it recorded whole), else "no pin" and "could not be read" (so a chain that needs a repair
 * fails saying so); requests still go out, and this listener is how to notice. Override the methods
 * of interest; the others do nothing.
 *
 * <pre>{@code
 * RedisConnector redis = RedisConnector.builder()
 *     .uri("redis://cache.internal:6379")
 *     .listener(new RedisListener() {
 *       @Override public void unavailable(String operation, RuntimeException cause) {
 *         metrics.counter("affinity4j.redis.down").increment();
 *       }
 *       @Override public void available(Duration outage) {
 *         metrics.timer("affinity4j.redis.outage").record(outage);
 *       }
 *     })
 *     .build();
 * }</pre>
 *
 * <p>Methods are called on request threads, concurrently, and for a write whose reply says it
 * failed (binds and turns are not waited for) on Lettuce's I/O thread: implementations must be
 * thread-safe, quick, and must not block. An exception thrown here is logged at WARN and swallowed: a listener never breaks a
 * request. Exceptions passed here come from Lettuce and carry no password or cookie value.
 */
public abstract class RedisListener {

  /** A listener that does nothing; no event is built for it. */
  public static final RedisListener NONE = new RedisListener() {};

  /** For subclasses. */
  protected RedisListener() {}

  /**
   * Redis was available and an operation just failed: from now on, until an operation succeeds
   * again, operations are tried at most once per retry interval and the others skipped. Called
   * once per outage.
   *
   * @param operation what failed, e.g. {@code "store get"} or {@code "journal record"}
   * @param cause the failure: a connection failure, a timeout, a rejected command
   */
  public void unavailable(String operation, RuntimeException cause) {}

  /**
   * An operation failed or was skipped because Redis is unavailable (or, for a page of a history
   * read, did not answer in time), so it fell back: a lookup or a history was answered from the
   * local fallback or not at all, a record was kept locally or lost. Called for every such
   * operation, including the one that made Redis unavailable.
   *
   * @param operation what fell back, e.g. {@code "store get"}
   * @param cause the failure, or null if the operation was skipped without trying Redis
   */
  public void fellBack(String operation, @Nullable RuntimeException cause) {}

  /**
   * Redis answered again after being unavailable. Called once per outage.
   *
   * @param outage how long Redis was unavailable, from the first failure to this success
   */
  public void available(Duration outage) {}
}
