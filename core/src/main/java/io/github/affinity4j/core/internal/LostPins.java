package io.github.affinity4j.core.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.RoutingInfo;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backends this process has seen lost: a pinned request the gateway re-routed (it set another
 * affinity cookie) or answered with the backend unavailable. The chains pinned to such a backend
 * replay at once, for {@link #FOR} after the loss was seen, instead of each sending a request bound
 * to fail; an answer from that backend clears it. As a circuit breaker half open, one request per
 * {@link #PROBE} still goes on its pin, to hear that answer soon after the backend is back.
 *
 * <p>A backend is recognised by its pin (the cookie's name and value: balancers such as HAProxy
 * name the backend in it) and by the region the gateway reported when the pin was set
 * ({@code x-ms-region}): an APIM pool's cookie names a session, not a backend, so two chains on one
 * backend carry different values. A region that a pinned or unpinned request still hears from is
 * cleared at once, so two backends in one region cost at most a few needless replays.
 *
 * <p>What one scope's gateway says marks backends lost for that scope alone (origin and identity,
 * as its chains): a hostile host, or another tenant's traffic, cannot make another scope's chains
 * replay. At most {@link #MAX_KEYS} are remembered. Thread-safe. Not API.
 */
public final class LostPins {
  /** How long a backend stays lost after its loss was seen, unless it answers. */
  public static final Duration FOR = Duration.ofSeconds(60);
  /** How often one request still goes on a lost backend's pin, to learn that it is back. */
  public static final Duration PROBE = Duration.ofSeconds(1);
  /** How many lost pins and regions are remembered; a pool has a handful of backends. */
  static final int MAX_KEYS = 256;

  private static final Logger logger = LoggerFactory.getLogger(LostPins.class);

  private final Clock clock;
  // Each lost key's time of its next probe, in clock millis.
  private final Cache<String, AtomicLong> lost;
  // Read on every pinned request: until a loss is first seen the check is one volatile read.
  private volatile boolean any;

  LostPins(Clock clock) {
    this.clock = clock;
    this.lost = Caffeine.newBuilder()
        .maximumSize(MAX_KEYS)
        .expireAfterWrite(FOR)
        .ticker(Tickers.of(clock))
        .executor(Runnable::run)
        .build();
  }

  /** Marks {@code pin}'s backend lost for {@code scope}. */
  void lost(ChainScope scope, AffinityToken pin) {
    long probe = clock.millis() + PROBE.toMillis();
    lost.put(pinKey(scope, pin), new AtomicLong(probe));
    String region = regionKey(scope, pin.routing());
    if (region != null) {
      lost.put(region, new AtomicLong(probe));
    }
    any = true;
    logger.debug("Backend of pin {} (region {}) seen lost for {} s: its chains replay at once", pin.fingerprint(),
        pin.routing().region(), FOR.toSeconds());
  }

  /** Clears {@code pin}'s backend for {@code scope}: it answered a request pinned to it. */
  void answered(ChainScope scope, AffinityToken pin) {
    if (any) {
      lost.invalidate(pinKey(scope, pin));
      answeredFrom(scope, pin.routing());
    }
  }

  /** Clears the region of a response's routing facts for {@code scope}: a backend there answers. */
  void answeredFrom(ChainScope scope, @Nullable RoutingInfo routing) {
    String region = any && routing != null ? regionKey(scope, routing) : null;
    if (region != null) {
      lost.invalidate(region);
    }
  }

  /** Returns true while an answer is awaited from a backend seen lost: only then do answers clear one. */
  boolean any() {
    return any;
  }

  /**
   * Returns true if {@code pin}'s backend was seen lost in the last {@link #FOR} and has not
   * answered since; false for the one request per {@link #PROBE} that goes on its pin to ask.
   */
  boolean isLost(ChainScope scope, AffinityToken pin) {
    if (!any) {
      return false;
    }
    AtomicLong probe = lost.getIfPresent(pinKey(scope, pin));
    if (probe == null) {
      String region = regionKey(scope, pin.routing());
      probe = region == null ? null : lost.getIfPresent(region);
    }
    if (probe == null) {
      return false;
    }
    long now = clock.millis();
    long due = probe.get();
    return now < due || !probe.compareAndSet(due, now + PROBE.toMillis()); // the winner probes
  }

  private static String pinKey(ChainScope scope, AffinityToken pin) {
    return scope.key() + " pin " + pin.name() + '=' + pin.value();
  }

  private static @Nullable String regionKey(ChainScope scope, RoutingInfo routing) {
    String region = routing.region();
    return region == null || region.isEmpty() ? null : scope.key() + " region " + region;
  }
}
