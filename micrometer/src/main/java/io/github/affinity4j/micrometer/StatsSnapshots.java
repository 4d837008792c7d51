package io.github.affinity4j.micrometer;

import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.RepairStats;
import java.time.Clock;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The snapshots the meters of one source read, each taken at most once per {@code maxAgeMillis}:
 * a scrape reads a dozen meters, and {@code AffinityStats.chainsTracked} asks the store for its
 * size, which for a Redis store is a key scan. Holds the functions and the last snapshots, never
 * the source, so that the meters' weak reference to it decides its life. Thread-safe: two threads
 * may both take a snapshot when it is due; either result is a valid reading.
 *
 * @param <S> the source's type, e.g. {@code AffinityInterceptor}
 */
final class StatsSnapshots<S> {
  private final Function<? super S, AffinityStats> stats;
  private final Function<? super S, RepairStats> repairStats;
  private final Clock clock;
  private final long maxAgeMillis;

  private volatile @Nullable Taken<AffinityStats> lastStats;
  private volatile @Nullable Taken<RepairStats> lastRepairStats;

  private record Taken<T>(T value, long atMillis) {}

  StatsSnapshots(Function<? super S, AffinityStats> stats, Function<? super S, RepairStats> repairStats,
      Clock clock, long maxAgeMillis) {
    this.stats = stats;
    this.repairStats = repairStats;
    this.clock = clock;
    this.maxAgeMillis = maxAgeMillis;
  }

  AffinityStats stats(S source) {
    long now = clock.millis();
    Taken<AffinityStats> last = lastStats;
    if (last == null || !fresh(last.atMillis(), now)) {
      last = new Taken<>(stats.apply(source), now);
      lastStats = last;
    }
    return last.value();
  }

  RepairStats repairStats(S source) {
    long now = clock.millis();
    Taken<RepairStats> last = lastRepairStats;
    if (last == null || !fresh(last.atMillis(), now)) {
      last = new Taken<>(repairStats.apply(source), now);
      lastRepairStats = last;
    }
    return last.value();
  }

  private boolean fresh(long atMillis, long now) {
    // A clock set back counts as stale, so a reading is never stuck.
    return now >= atMillis && now - atMillis < maxAgeMillis;
  }
}
