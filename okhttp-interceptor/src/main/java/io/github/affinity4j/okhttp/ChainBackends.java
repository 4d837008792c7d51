package io.github.affinity4j.okhttp;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Interner;
import com.github.benmanes.caffeine.cache.Ticker;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.RoutingInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The routing log's memory of the last backend per chain and per response id created, bounded in
 * entries and in time, and its rule for when an exchange moved to another backend. With an
 * {@link AffinityInterceptor} given ({@link #of(AffinityStore)}), it remembers nothing itself: a
 * chain's last backend is the pin the engine keeps for it. Thread-safe.
 */
final class ChainBackends {
  // Weak, as AffinityToken's interner: a pool has a few backends, shared by every chain remembered,
  // and one no chain uses any more can be collected.
  private static final Interner<Backend> BACKENDS = Interner.newWeakInterner();

  private final @Nullable Cache<ChainKey, Backend> chains;
  private final @Nullable AffinityStore pins;

  private ChainBackends(@Nullable Cache<ChainKey, Backend> chains, @Nullable AffinityStore pins) {
    this.chains = chains;
    this.pins = pins;
  }

  /** Remembers at most {@code maximum} chains, each until {@code expireAfterAccess} unused. */
  ChainBackends(long maximum, Duration expireAfterAccess, Ticker ticker) {
    this(Caffeine.newBuilder()
        .maximumSize(maximum)
        .expireAfterAccess(expireAfterAccess)
        .ticker(ticker)
        .build(), null);
  }

  /** Reads each chain's last backend from the engine's pins, remembering nothing itself. */
  static ChainBackends of(AffinityStore pins) {
    return new ChainBackends(null, pins);
  }

  /**
   * Remembers {@code current} as the backend of {@code chain} (either may be null: then nothing is
   * remembered) and returns the backend the exchange moved away from, or null if it did not move.
   * It moved when it differs from the chain's last exchange, or when it was given another affinity
   * cookie ({@code cookieSet}) than the one sent ({@code cookieSent}).
   */
  @Nullable Backend track(@Nullable ChainKey chain, @Nullable Backend current, @Nullable String cookieSent,
      @Nullable String cookieSet) {
    Backend previous = chain == null ? null : last(chain);
    Backend before = null;
    if ((previous != null && previous.differsFrom(current))
        || (cookieSent != null && cookieSet != null && !cookieSent.equals(cookieSet))) {
      before = new Backend(previous == null ? null : previous.region,
          previous != null && previous.cookie != null ? previous.cookie : cookieSent);
    }
    if (chain != null && current != null && chains != null) {
      chains.put(chain, current);
    }
    return before;
  }

  /** Remembers that {@code backend} created the chain {@code created}; the engine does, with pins. */
  void created(ChainKey created, Backend backend) {
    if (chains != null) {
      chains.put(created, backend);
    }
  }

  /** The backend {@code chain} was last served by: the engine's pin for it, or the one remembered. */
  private @Nullable Backend last(ChainKey chain) {
    if (chains != null) {
      return chains.getIfPresent(chain);
    }
    try {
      AffinityToken pin = requireNonNull(pins).get(chain).orElse(null);
      return pin == null ? null
          : Backend.of(pin.routing().region(), RoutingLineFormat.cookieLabel(pin.name(), pin.value()));
    } catch (Exception e) { // the engine's store; a failing one is the engine's to report
      return null;
    }
  }

  /** About how many chains are remembered: by this cache, or by the engine's store. */
  long size() {
    if (chains != null) {
      return chains.estimatedSize();
    }
    try {
      return requireNonNull(pins).estimatedSize();
    } catch (Exception e) {
      return 0;
    }
  }

  /** Every string remembered now (regions and cookie labels); for tests. */
  List<String> strings() {
    List<String> strings = new ArrayList<>();
    if (chains == null) {
      return strings;
    }
    for (Backend backend : chains.asMap().values()) {
      if (backend.region != null) {
        strings.add(backend.region);
      }
      if (backend.cookie != null) {
        strings.add(backend.cookie);
      }
    }
    return strings;
  }

  /**
   * Where an exchange was served: its region and affinity cookie label, either may be null. Both
   * are bounded whatever the gateway sends: the region by {@link RoutingInfo#MAX_REGION_LENGTH},
   * the label ({@code name:fingerprint}) by a configured cookie name and 9 more characters.
   */
  record Backend(@Nullable String region, @Nullable String cookie) {
    /** The shared backend of this region and cookie label; null if both are. */
    static @Nullable Backend of(@Nullable String region, @Nullable String cookie) {
      return region == null && cookie == null ? null : BACKENDS.intern(new Backend(region, cookie));
    }

    boolean differsFrom(@Nullable Backend other) {
      return other != null
          && ((region != null && other.region != null && !region.equals(other.region))
              || (cookie != null && other.cookie != null && !cookie.equals(other.cookie)));
    }
  }
}
