package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey.Kind;
import io.github.affinity4j.core.ChainKey;
import java.time.Clock;
import java.time.Instant;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine: keeps the gateway's affinity cookie per response chain, so that a request continuing
 * a chain goes to the backend that holds it, while a request starting a chain carries no pin and
 * the gateway spreads it over the pool.
 *
 * <p>Rules:
 *
 * <ul>
 *   <li>A successful response binds its id to the affinity token its {@code Set-Cookie} carried
 *       (fresh). Without one, it inherits the token of the chain it continued, so a chain keeps its
 *       pin from link to link. A new chain without a cookie gets no pin.
 *   <li>A conversation or thread is one long-lived key: it follows the latest fresh token of any
 *       response made in it.
 *   <li>A fresh token whose name or value, or known region, differs from the previous link's means
 *       the chain moved to another backend: counted, and reported to the listener.
 *   <li>An expired fresh token (the gateway deleting its cookie) unpins the keys involved.
 *   <li>A pin is sent only to a URL the cookie applies to (host, path, scheme, expiry).
 * </ul>
 *
 * <p>What an adapter does per request and response:
 *
 * <pre>{@code
 * ChainRegistry registry = ChainRegistry.builder()
 *     .cookieNames("APIM-Backend-Affinity", "SessionId")
 *     .build();
 *
 * // request: key from TurnInput; null when the request starts a chain
 * Optional<AffinityToken> pin = registry.pinFor(key, url.scheme(), url.host(), url.encodedPath());
 * pin.ifPresent(token -> cookieHeader.add(token.cookiePair()));
 *
 * // successful response: created from TurnOutput or SseResponseIdScanner, fresh from Set-Cookie
 * registry.bind(created, key, fresh);
 * }</pre>
 *
 * <p>Thread-safe, as long as the store is. Nothing here throws for bad data, a failing store or a
 * failing listener: those are logged at WARN and the request goes on without a pin. DEBUG lines say
 * what was decided per request, with token fingerprints, never values.
 */
public final class ChainRegistry {

  /** The affinity cookie name used unless others are set: the common APIM backend pool choice. */
  public static final String DEFAULT_COOKIE_NAME = "APIM-Backend-Affinity";

  private static final Logger logger = LoggerFactory.getLogger(ChainRegistry.class);

  private final AffinityStore store;
  private final Set<String> cookieNames;
  private final AffinityListener listener;
  private final boolean listening;
  private final Clock clock;

  private final LongAdder pinsApplied = new LongAdder();
  private final LongAdder pinsMissing = new LongAdder();
  private final LongAdder backendChanges = new LongAdder();
  private final LongAdder tokensBound = new LongAdder();

  private ChainRegistry(Builder builder) {
    this.store = builder.store != null ? builder.store : CaffeineAffinityStore.builder().build();
    this.cookieNames = builder.cookieNames;
    this.listener = builder.listener;
    this.listening = listener != AffinityListener.NONE;
    this.clock = builder.clock;
  }

  /**
   * Returns a builder. Defaults: a new {@link CaffeineAffinityStore} with its defaults, cookie
   * {@value #DEFAULT_COOKIE_NAME}, {@link AffinityListener#NONE}, {@link Clock#systemUTC()}.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a builder with this registry's settings, sharing its store and so its chains. */
  public Builder toBuilder() {
    Builder builder = new Builder();
    builder.store = store;
    builder.cookieNames = cookieNames;
    builder.listener = listener;
    builder.clock = clock;
    return builder;
  }

  /** Returns the store the pins are kept in. */
  public AffinityStore store() {
    return store;
  }

  /** Returns the affinity cookie names, in the order given; unmodifiable. */
  public Set<String> cookieNames() {
    return cookieNames;
  }

  /** Returns the clock; adapters use it for {@link AffinityToken#seenAt()}. */
  public Clock clock() {
    return clock;
  }

  /**
   * Returns true if {@code name} is one of the affinity cookie names. Cookie names are
   * case-sensitive (RFC 6265). An adapter takes the first affinity cookie of a response, in the
   * order of the response's {@code Set-Cookie} headers; other cookies are not this library's.
   */
  public boolean isAffinityCookie(String name) {
    return name != null && cookieNames.contains(name);
  }

  /**
   * Returns the pin to send with a request that continues chain {@code key} to the given URL, or
   * empty if there is none: nothing bound, expired, or a cookie that does not apply to that URL
   * (see {@link AffinityToken#appliesTo}). Call it once per attempt: each call counts as a pin
   * applied or missing, and a pin applied is reported to the listener.
   *
   * @param key the chain the request continues
   * @param scheme the request scheme
   * @param host the request host
   * @param encodedPath the request path without the query
   * @throws NullPointerException if {@code key} is null
   */
  public Optional<AffinityToken> pinFor(ChainKey key, String scheme, String host, String encodedPath) {
    requireNonNull(key, "key");
    Instant now = clock.instant();
    AffinityToken token = load(key);
    String missing = null;
    if (token == null) {
      missing = "none bound";
    } else if (token.isExpired(now)) {
      missing = "expired";
      delete(key);
    } else if (!token.appliesTo(scheme, host, encodedPath, now)) {
      missing = "the cookie does not apply to this host, path or scheme";
    }
    if (token == null || missing != null) {
      pinsMissing.increment();
      logger.debug("No pin for {}: {}", key, missing);
      return Optional.empty();
    }
    return Optional.of(applied(key, token));
  }

  /** Counts, logs and reports {@code token} applied for {@code key}; returns it. */
  private AffinityToken applied(ChainKey key, AffinityToken token) {
    pinsApplied.increment();
    if (logger.isDebugEnabled()) {
      logger.debug("Pin {} applied for {}", token.fingerprint(), key);
    }
    if (listening) {
      notify(listener, "tokenApplied", () -> listener.tokenApplied(key, token));
    }
    return token;
  }

  /**
   * Returns the tokens bound to {@code keys} that have not expired, in one store call
   * ({@link AffinityStore#getAll}); counts nothing. Empty if the store failed (logged).
   */
  public Map<ChainKey, AffinityToken> peekAll(Collection<ChainKey> keys) {
    if (keys.isEmpty()) {
      return Map.of();
    }
    Map<ChainKey, AffinityToken> found;
    try {
      found = new HashMap<>(store.getAll(keys));
    } catch (Exception e) {
      storeFailed("getAll", keys.iterator().next(), e);
      return Map.of();
    }
    Instant now = clock.instant();
    found.values().removeIf(token -> token.isExpired(now));
    return found;
  }

  /**
   * Returns the pin of the first of {@code keys} that has one for this URL, and that key; empty if
   * none has. Counts one pin applied or missing, as {@link #pinFor} does: for a stateless request,
   * whose chain is named by the items it sends back (latest first).
   */
  public Optional<Map.Entry<ChainKey, AffinityToken>> pinForFirst(List<ChainKey> keys, String scheme, String host,
      String encodedPath) {
    Instant now = clock.instant();
    for (ChainKey key : keys) {
      AffinityToken token = load(key);
      if (token != null && !token.isExpired(now) && token.appliesTo(scheme, host, encodedPath, now)) {
        return Optional.of(Map.entry(key, applied(key, token))); // loaded once: a store may be remote
      }
    }
    pinsMissing.increment();
    logger.debug("No pin for a stateless request: none of its {} items is bound", keys.size());
    return Optional.empty();
  }

  /**
   * Records what a successful response says about affinity, and returns the token now bound to its
   * key, or empty if there is none (or the store failed to keep it). Call it for 2xx responses
   * only: an error proves nothing about where a chain lives.
   *
   * <ul>
   *   <li>{@code key} gets {@code fresh} if given, else the token of {@code previous}.
   *   <li>If {@code previous} is a conversation or thread, it gets {@code fresh} too.
   *   <li>With no {@code key} (the response named no chain: a list, a non-JSON body), only a
   *       conversation or thread {@code previous} is updated; a response key is never moved.
   *   <li>{@code key} equal to {@code previous} (polling a response, a thread run) just rebinds a
   *       fresh token.
   * </ul>
   *
   * @param key the chain the response created or extended, from {@link TurnOutput} or
   *     {@link SseResponseIdScanner}; null if none was found
   * @param previous the chain the request continued; null if it started a new one
   * @param fresh the affinity cookie the response set; null if it set none
   */
  public Optional<AffinityToken> bind(@Nullable ChainKey key, @Nullable ChainKey previous,
      @Nullable AffinityToken fresh) {
    // previous, if a conversation or thread: it follows the latest fresh token too.
    ChainKey scope = previous != null && previous.kind() != Kind.RESPONSE ? previous : null;
    ChainKey target = key != null ? key : scope;
    if (target == null) {
      logger.debug("Nothing to bind: the response named no chain");
      return Optional.empty();
    }
    Instant now = clock.instant();
    if (fresh != null && fresh.isExpired(now)) {
      logger.debug("Gateway expired cookie {}; {} unpinned", fresh.name(), target);
      if (key != null) {
        delete(key);
      }
      if (scope != null) {
        delete(scope);
      }
      return Optional.empty();
    }
    AffinityToken stored = previous == null ? null : load(previous);
    AffinityToken old = stored == null || stored.isExpired(now) ? null : stored;
    AffinityToken token = fresh != null ? fresh : old;
    if (token == null) {
      if (previous == null) {
        logger.debug("No pin for {}: a new chain, and no affinity cookie in the response", target);
      } else {
        logger.debug("No pin for {}: no affinity cookie in the response, none bound to {}", target,
            previous);
      }
      return Optional.empty();
    }
    // The token the fresh one replaces, if the chain moved backend; then token == fresh.
    AffinityToken moved = fresh != null && old != null && movedBackend(old, fresh) ? old : null;
    if (moved != null) {
      backendChanges.increment();
      if (logger.isDebugEnabled()) {
        logger.debug("Backend changed for {}: pin {} (region {}) replaces {} (region {})", target,
            token.fingerprint(), token.routing().region(), moved.fingerprint(), moved.routing().region());
      }
    }
    // The keys to bind, else null; and the same once bound, null if the store failed.
    ChainKey bindKey = key != null && (fresh != null || !key.equals(previous)) ? key : null;
    ChainKey bindScope = scope != null && fresh != null && !scope.equals(key) ? scope : null;
    // bindScope implies fresh != null, so token == fresh: both keys share one stored token.
    AffinityToken kept = bindKey != null || bindScope != null ? token.forStorage() : token;
    ChainKey boundKey = bindKey != null && save(bindKey, kept) ? bindKey : null;
    ChainKey boundScope = bindScope != null && save(bindScope, kept) ? bindScope : null;
    if (listening) {
      if (moved != null) {
        notify(listener, "backendChanged", () -> listener.backendChanged(target, moved, token));
      }
      if (boundKey != null) {
        notify(listener, "tokenBound", () -> listener.tokenBound(boundKey, token, fresh == null));
      }
      if (boundScope != null) {
        notify(listener, "tokenBound", () -> listener.tokenBound(boundScope, token, false));
      }
    }
    // A store that failed to keep the pin must not make the caller believe it is kept.
    return bindKey != boundKey || bindScope != boundScope ? Optional.empty() : Optional.of(token);
  }

  /**
   * Forgets the pin of a chain the API deleted ({@code DELETE …/responses/{id}} or
   * {@code …/conversations/{id}} succeeded). Never throws; a failing store is logged at WARN.
   *
   * @throws NullPointerException if {@code key} is null
   */
  public void forget(ChainKey key) {
    delete(requireNonNull(key, "key"));
    logger.debug("{} deleted by the API; its pin is forgotten", key);
  }

  /** Returns a snapshot of the counters. */
  public AffinityStats stats() {
    long size;
    try {
      size = Math.max(0, store.estimatedSize());
    } catch (Exception e) {
      storeFailed("estimatedSize", null, e);
      size = 0;
    }
    return new AffinityStats(size, pinsApplied.sum(), pinsMissing.sum(), backendChanges.sum(),
        tokensBound.sum());
  }

  @Override
  public String toString() {
    return "ChainRegistry[cookieNames=" + cookieNames + ", store=" + store + ']';
  }

  private static boolean movedBackend(AffinityToken old, AffinityToken fresh) {
    if (!old.name().equals(fresh.name()) || !old.value().equals(fresh.value())) {
      return true;
    }
    String oldRegion = old.routing().region();
    String newRegion = fresh.routing().region();
    return oldRegion != null && newRegion != null && !oldRegion.equalsIgnoreCase(newRegion);
  }

  private @Nullable AffinityToken load(ChainKey key) {
    try {
      return store.get(key).orElse(null);
    } catch (Exception e) {
      storeFailed("get", key, e);
      return null;
    }
  }

  private boolean save(ChainKey key, AffinityToken token) {
    try {
      store.put(key, token);
    } catch (Exception e) {
      storeFailed("put", key, e);
      return false;
    }
    tokensBound.increment();
    if (logger.isDebugEnabled()) {
      logger.debug("Pin {} bound to {}", token.fingerprint(), key);
    }
    return true;
  }

  private void delete(ChainKey key) {
    try {
      store.remove(key);
    } catch (Exception e) {
      storeFailed("remove", key, e);
    }
  }

  /** Any exception, not only unchecked ones: a store written in Kotlin may throw a checked one. */
  private void storeFailed(String operation, @Nullable ChainKey key, Exception e) {
    logger.warn("AffinityStore {} threw on {} of {}; going on without it",
        store.getClass().getName(), operation, key, e);
  }

  /** Runs one listener call; a listener never breaks a request. */
  private static void notify(AffinityListener listener, String event, Runnable call) {
    try {
      call.run();
    } catch (Exception e) { // not only unchecked: a listener written in Kotlin may throw a checked one
      logger.warn("AffinityListener {} threw in {}; ignored", listener.getClass().getName(), event, e);
    }
  }

  /** Builds a {@link ChainRegistry}. Not thread-safe. */
  public static final class Builder {
    private @Nullable AffinityStore store;
    private Set<String> cookieNames = Set.of(DEFAULT_COOKIE_NAME);
    private AffinityListener listener = AffinityListener.NONE;
    private Clock clock = Clock.systemUTC();

    private Builder() {}

    /** Sets the store; share one between registries to share chains. Default: a new Caffeine one. */
    public Builder store(AffinityStore store) {
      this.store = requireNonNull(store, "store");
      return this;
    }

    /**
     * Sets the affinity cookie names, as configured on the gateway's backend pool
     * ({@code sessionAffinity.sessionId.name} in APIM). Default {@value #DEFAULT_COOKIE_NAME}.
     *
     * @throws IllegalArgumentException if no name is given or a name is not a valid cookie name
     */
    public Builder cookieNames(String... names) {
      requireNonNull(names, "names");
      if (names.length == 0) {
        throw new IllegalArgumentException(
            "cookieNames needs at least one name; pass the backend pool's affinity cookie name, e.g. "
                + DEFAULT_COOKIE_NAME);
      }
      Set<String> set = new LinkedHashSet<>();
      for (String name : names) {
        if (name == null || !Names.isCookieName(name)) {
          throw new IllegalArgumentException("Not a cookie name: " + Names.describe(name)
              + "; use letters, digits and !#$%&'*+-.^_`|~ as the gateway does");
        }
        set.add(name);
      }
      this.cookieNames = Collections.unmodifiableSet(set);
      return this;
    }

    /** Sets one listener for all events. Default {@link AffinityListener#NONE}. */
    public Builder listener(AffinityListener listener) {
      this.listener = requireNonNull(listener, "listener");
      return this;
    }

    /** Sets the clock for expiry and {@code seenAt}; for tests. Default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** Builds the registry. */
    public ChainRegistry build() {
      return new ChainRegistry(this);
    }
  }
}
