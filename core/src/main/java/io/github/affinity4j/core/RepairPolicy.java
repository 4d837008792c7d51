package io.github.affinity4j.core;

/**
 * What affinity4j does when a chain breaks.
 *
 * <pre>{@code
 * AffinityInterceptor interceptor = AffinityInterceptor.builder().repairPolicy(RepairPolicy.REPLAY).build();
 * }</pre>
 */
public enum RepairPolicy {
  /**
   * The default. For a response or conversation not found, first send the request once more, on
   * the same pin, after a short pause (the adapter's {@code retryPause}): Azure reports
   * {@code previous_response_not_found} now and then on the very deployment that holds the
   * response, right after creating it, and a retry there costs one small request where a replay
   * costs the whole history. If the retry breaks too, replay. For an unavailable backend (a 503)
   * and an unknown input item, replay at once: waiting does not bring them back. A connection
   * failure is sent once more at once, on a new connection, before it counts as a break (then
   * replayed): a pooled connection the server closed under the request says nothing about the
   * backend.
   */
  RETRY_THEN_REPLAY,
  /** Replay at once, for every kind of break. */
  REPLAY,
  /**
   * Never repair: the caller gets the error, its message extended with which chain broke and why.
   * Breaks are still counted and reported to the listener. Nothing is journaled, since nothing
   * will be replayed: a turn costs less (its items are not kept, a response's output is not read)
   * and the journal stays empty. Affinity works as with the other policies.
   */
  FAIL
}
