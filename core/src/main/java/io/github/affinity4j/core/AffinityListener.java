package io.github.affinity4j.core;

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

  static final Factory NONE_FACTORY = key -> NONE;

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

  /** Returns a factory that hands out this listener for every chain. */
  public final Factory asFactory() {
    return this == NONE ? NONE_FACTORY : key -> this;
  }

  /**
   * Creates the listener for one registry operation (a lookup or a bind), like OkHttp's
   * {@code EventListener.Factory}: use it to give each chain its own listener, or to carry
   * per-operation state. Called at most once per operation, just before its first event, on the
   * request thread; must be thread-safe. An exception thrown here is logged at WARN and the
   * operation's events are dropped.
   */
  @FunctionalInterface
  public interface Factory {
    /**
     * Returns the listener for an operation on {@code key}; {@link AffinityListener#NONE} to
     * ignore it.
     *
     * @param key the chain key the operation concerns
     */
    AffinityListener create(ChainKey key);
  }
}
