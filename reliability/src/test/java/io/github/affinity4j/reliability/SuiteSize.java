package io.github.affinity4j.reliability;

import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How big the suites run: {@code quick} (the default, what CI runs under {@code mvn verify}) or
 * {@code full} (by hand: {@code -Daffinity4j.suite=full}), and the seed of the random choices
 * ({@code -Daffinity4j.seed=…} replays a run's fault plan and workload; printed by every run).
 */
enum SuiteSize {
  QUICK(150, 8, 16),
  FULL(1_000, 10, 32);

  static final String SIZE_PROPERTY = "affinity4j.suite";
  static final String SEED_PROPERTY = "affinity4j.seed";

  /** Conversations in a chaos run. */
  final int conversations;
  /** Turns per conversation. */
  final int turns;
  /** Threads the turns run on. */
  final int threads;

  SuiteSize(int conversations, int turns, int threads) {
    this.conversations = conversations;
    this.turns = turns;
    this.threads = threads;
  }

  /** The size the property asks for; quick when it is unset or empty. */
  static SuiteSize current() {
    String value = System.getProperty(SIZE_PROPERTY, "").trim().toLowerCase(Locale.ROOT);
    switch (value) {
      case "":
      case "quick":
        return QUICK;
      case "full":
        return FULL;
      default:
        throw new IllegalArgumentException(
            "-D" + SIZE_PROPERTY + " must be quick or full, was '" + value + "'");
    }
  }

  /** The seed the property sets, else a new one; the caller prints it. */
  static long seed() {
    String value = System.getProperty(SEED_PROPERTY, "").trim();
    if (value.isEmpty()) {
      return ThreadLocalRandom.current().nextLong();
    }
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("-D" + SEED_PROPERTY + " must be a long, was '" + value + "'", e);
    }
  }

  /** {@code quick} for the quick suite, {@code full} for the full one. */
  int pick(int quick, int full) {
    return this == FULL ? full : quick;
  }

  /** Lower case, as the property spells it. */
  String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
