package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Hears what affinity4j does with pins, and with broken chains: for metrics, audit logs and tests. Override the methods of interest; the others do
 * nothing.
 *
 * <pre>{@code
 * AffinityInterceptor interceptor = AffinityInterceptor.builder()
 *     .listener(new AffinityListener() {
 *       @Override
 *       public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
 *         metrics.counter("affinity.backend_changed").increment();
 *       }
 *     })
 *     .build();
 * }</pre>
 *
 * <p>Methods are called on request threads, concurrently, after the engine has acted, so
 * implementations must be thread-safe and quick. An exception thrown here is logged at WARN and
 * swallowed: a listener never breaks a request. Tokens passed here print only their fingerprint;
 * do not log {@link AffinityToken#value()} or {@link AffinityToken#cookiePair()}.
 */
public abstract class AffinityListener {

  /** A listener that does nothing; the engine skips event dispatch entirely for it. */
  public static final AffinityListener NONE = new AffinityListener() {};

  /** For subclasses. */
  protected AffinityListener() {}

  /**
   * A token was bound to {@code key}.
   *
   * @param key the key now pinned
   * @param token the token it is pinned with
   * @param inherited true if the token came from the previous link of the chain, false if the
   *     response carried it in a {@code Set-Cookie}
   */
  public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {}

  /**
   * A request continuing {@code key} is sent with {@code token}.
   *
   * @param key the chain key the request continues
   * @param token the pin the request carries
   */
  public void tokenApplied(ChainKey key, AffinityToken token) {}

  /**
   * A chain moved to another backend: the gateway set a cookie whose name or value differs from
   * the previous link's, or whose region differs (both regions known).
   *
   * @param key the key bound to the new token
   * @param previous the previous link's token
   * @param current the new token
   */
  public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {}

  /**
   * A chain broke and is being repaired: the first retry or replay is about
   * to be sent. Called at most once per request.
   *
   * @param chain the chain that broke; null if the request continued none (an unknown input item)
   * @param cause what broke
   */
  public void repairStarted(@Nullable ChainKey chain, ChainBreak cause) {}

  /**
   * A repair worked: the retry or the replay got a successful response.
   *
   * @param repair what broke, how it was healed, and the old and new backends
   */
  public void repaired(ChainRepair repair) {}

  /**
   * A chain broke and was not repaired: policy {@link RepairPolicy#FAIL}, its history missing from
   * the journal, or the retry or replay failed. The caller gets the error.
   *
   * @param chain the chain that broke; null if the request continued none
   * @param cause what broke
   * @param reason the precise reason, as the caller's error message carries it
   */
  public void repairFailed(@Nullable ChainKey chain, ChainBreak cause, String reason) {}

  /**
   * A repair that worked, as {@link AffinityListener#repaired} reports it: what broke, how it was
   * healed, and where the chain lives now.
   *
   * <pre>{@code
   * public void repaired(ChainRepair repair) {
   *   log.info("chain {} moved from {} to {}: {} items, {} bytes replayed", repair.chain(),
   *       repair.previousPin(), repair.newPin(), repair.itemsReplayed(), repair.bytesReplayed());
   * }
   * }</pre>
   *
   * <p>Tokens print only their fingerprint. Immutable and thread-safe; safe to log.
   *
   * @param chain the chain that broke; null if the request continued none (an unknown input item)
   * @param cause what broke
   * @param replayed true if the history was replayed; false if a retry on the same pin sufficed
   * @param previousPin the pin the broken request carried (the old backend); null if none
   * @param newPin the affinity cookie the repaired response set (the new backend); null if none
   * @param routing the routing facts of the repaired response, e.g. its region; never null
   * @param itemsReplayed how many items of history the replay sent; 0 for a retry
   * @param bytesReplayed the size of the replay body, in bytes; 0 for a retry
   * @param elapsed the time from the break to the repaired response
   * @param reasoningLeftOut how many reasoning items the replay left out (encrypted reasoning is
   *     bound to the backend that made it); 0 for a retry
   */
  public record ChainRepair(
      @Nullable ChainKey chain,
      ChainBreak cause,
      boolean replayed,
      @Nullable AffinityToken previousPin,
      @Nullable AffinityToken newPin,
      RoutingInfo routing,
      int itemsReplayed,
      long bytesReplayed,
      Duration elapsed,
      int reasoningLeftOut) {

    /**
     * Creates an event.
     *
     * @throws NullPointerException if {@code cause} or {@code elapsed} is null
     */
    public ChainRepair {
      requireNonNull(cause, "cause");
      requireNonNull(elapsed, "elapsed");
      if (routing == null) {
        routing = RoutingInfo.EMPTY;
      }
    }

    /** Creates an event of a repair that left no reasoning out. */
    public ChainRepair(@Nullable ChainKey chain, ChainBreak cause, boolean replayed,
        @Nullable AffinityToken previousPin, @Nullable AffinityToken newPin, RoutingInfo routing,
        int itemsReplayed, long bytesReplayed, Duration elapsed) {
      this(chain, cause, replayed, previousPin, newPin, routing, itemsReplayed, bytesReplayed, elapsed, 0);
    }
  }
}
