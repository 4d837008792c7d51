package io.github.affinity4j.core;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Where affinity4j keeps the affinity token of each chain key. Share one store
 * between several clients (interceptors, conversation wrappers) so that they share chains.
 *
 * <pre>{@code
 * AffinityStore store = CaffeineAffinityStore.builder().maximumSize(50_000).build();
 * AffinityInterceptor interceptor = AffinityInterceptor.builder().store(store).build();
 * }</pre>
 *
 * <p>Implementations must be thread-safe: every method is called concurrently from request threads,
 * and must not block for long, because it runs on the request path. They must bound their size and
 * let entries expire; a pin that is lost costs a repair, not a failure. An exception thrown here is
 * logged at WARN by the engine and the request goes on without a pin, so a store need not guard
 * against its own failures, but should not rely on throwing either.
 *
 * <p>{@link CaffeineAffinityStore} is the default.
 */
public interface AffinityStore {

  /** Returns the token bound to {@code key}, or empty. Counts as an access for expiry. */
  Optional<AffinityToken> get(ChainKey key);

  /**
   * Returns the tokens bound to {@code keys}, each key that has one; as {@link #get} for each, in
   * one call: a remote store answers them in one round trip. The default calls {@link #get} for
   * each key.
   */
  default Map<ChainKey, AffinityToken> getAll(Collection<ChainKey> keys) {
    Map<ChainKey, AffinityToken> found = new HashMap<>();
    for (ChainKey key : keys) {
      get(key).ifPresent(token -> found.put(key, token));
    }
    return found;
  }

  /** Binds {@code token} to {@code key}, replacing any earlier binding. */
  void put(ChainKey key, AffinityToken token);

  /** Removes any binding of {@code key}. */
  void remove(ChainKey key);

  /** Returns about how many keys are bound; may count entries that have expired but linger. */
  long estimatedSize();
}
