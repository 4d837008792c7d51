package io.github.affinity4j.core;

/**
 * A snapshot of what an adapter's engine has done since it was built, like Caffeine's
 * {@code CacheStats}.
 *
 * <pre>{@code
 * AffinityStats stats = registry.stats();
 * log.info("chains={} applied={} missing={}", stats.chainsTracked(), stats.pinsApplied(),
 *     stats.pinsMissing());
 * }</pre>
 *
 * <p>Counters are read one by one while requests run, so a snapshot need not be consistent across
 * counters. Immutable and thread-safe.
 *
 * @param chainsTracked keys in the store now ({@link AffinityStore#estimatedSize()})
 * @param pinsApplied requests that continued a chain and found its pin: sent with it, or replayed
 *     at once because its backend was seen lost (counted as a break of kind
 *     {@link ChainBreak.Kind#BACKEND_UNAVAILABLE})
 * @param pinsMissing request attempts that continued a chain but had no pin to send: none bound,
 *     expired, or not for the request's host, path or scheme
 * @param backendChanges times a chain moved to another backend (see
 *     {@link AffinityListener#backendChanged})
 * @param tokensBound times a token was bound to a key, fresh or inherited
 */
public record AffinityStats(
    long chainsTracked, long pinsApplied, long pinsMissing, long backendChanges, long tokensBound) {

  /**
   * Creates a snapshot.
   *
   * @throws IllegalArgumentException if a count is negative
   */
  public AffinityStats {
    if (chainsTracked < 0 || pinsApplied < 0 || pinsMissing < 0 || backendChanges < 0
        || tokensBound < 0) {
      throw new IllegalArgumentException("Counts must not be negative");
    }
  }
}
