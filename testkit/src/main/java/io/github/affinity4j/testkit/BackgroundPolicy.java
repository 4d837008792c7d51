package io.github.affinity4j.testkit;

import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * When a background response ({@code background: true}) completes: on the {@code poll}-th
 * retrieval, or, when {@code runTime} is set, at the first retrieval once that much time has
 * passed on the simulator's clock since it was created. Polls before that see it
 * {@code in_progress}.
 *
 * @param poll the retrieval that completes the response, 1 or more
 * @param runTime how long the response runs, or {@code null} to count polls instead
 */
record BackgroundPolicy(int poll, @Nullable Duration runTime) {
  static final BackgroundPolicy DEFAULT = new BackgroundPolicy(2, null);

  /** Whether a response created at {@code createdAt} and retrieved {@code polls} times is done. */
  boolean completes(int polls, Instant createdAt, Instant now) {
    Duration time = runTime;
    return time == null ? polls >= poll : !now.isBefore(createdAt.plus(time));
  }
}
