package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.ChainBreak.Kind;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * A snapshot of what an adapter's engine has done since it was built, like Caffeine's
 * {@code CacheStats}.
 *
 * <pre>{@code
 * RepairStats stats = interceptor.repairStats();
 * log.info("breaks={} repaired={} failed={} replays={}", stats.breaks(), stats.repairsSucceeded(),
 *     stats.repairsFailed(), stats.replays());
 * }</pre>
 *
 * <p>Every break ends as a success or a failure, so {@code breaks} is their sum plus the repairs
 * under way. Counters are read one by one while requests run, so a snapshot need not be consistent
 * across counters. Immutable and thread-safe.
 *
 * @param breaks requests that broke a chain
 * @param repairsStarted breaks that led to at least one more request (a retry or a replay)
 * @param retries retries on the same pin
 * @param replays replays of a chain's history
 * @param repairsSucceeded breaks healed: the retry or the replay succeeded
 * @param repairsFailed breaks not healed: policy {@link RepairPolicy#FAIL}, history missing, or
 *     the retry or replay failed
 * @param breaksByKind breaks per kind; every kind present, unmodifiable
 * @param reasoningLeftOut reasoning items the replays left out (encrypted reasoning is bound to
 *     the backend that made it)
 */
public record RepairStats(
    long breaks,
    long repairsStarted,
    long retries,
    long replays,
    long repairsSucceeded,
    long repairsFailed,
    Map<Kind, Long> breaksByKind,
    long reasoningLeftOut) {

  /**
   * Creates a snapshot; kinds missing from {@code breaksByKind} count 0.
   *
   * @throws IllegalArgumentException if a count is negative
   * @throws NullPointerException if {@code breaksByKind} is null
   */
  public RepairStats {
    requireNonNull(breaksByKind, "breaksByKind");
    if (breaks < 0 || repairsStarted < 0 || retries < 0 || replays < 0 || repairsSucceeded < 0
        || repairsFailed < 0 || reasoningLeftOut < 0) {
      throw new IllegalArgumentException("Counts must not be negative");
    }
    EnumMap<Kind, Long> copy = new EnumMap<>(Kind.class);
    for (Kind kind : Kind.values()) {
      Long count = breaksByKind.get(kind);
      if (count != null && count < 0) {
        throw new IllegalArgumentException("Counts must not be negative");
      }
      copy.put(kind, count == null ? 0L : count);
    }
    breaksByKind = Collections.unmodifiableMap(copy);
  }

  /** Creates a snapshot in which no reasoning was left out. */
  public RepairStats(long breaks, long repairsStarted, long retries, long replays, long repairsSucceeded,
      long repairsFailed, Map<Kind, Long> breaksByKind) {
    this(breaks, repairsStarted, retries, replays, repairsSucceeded, repairsFailed, breaksByKind, 0);
  }

  /** Returns the breaks of one kind. */
  public long breaks(Kind kind) {
    requireNonNull(kind, "kind");
    // The constructor puts every kind in the map.
    return requireNonNull(breaksByKind.get(kind));
  }
}
