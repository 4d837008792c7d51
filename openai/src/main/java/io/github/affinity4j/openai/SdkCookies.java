package io.github.affinity4j.openai;

import com.openai.core.http.Headers;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.core.internal.Names;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the SDK's response headers for the engine: the affinity cookie (parsed by the OkHttp
 * adapter's {@link AffinityCookies}, so exactly as the interceptor parses it) and the routing facts.
 */
final class SdkCookies {
  private SdkCookies() {}

  /** One {@link NameCheck} per wrapper, for as long as the wrapper lives. */
  private static final Map<AffinityConversations, NameCheck> NAME_CHECKS =
      Collections.synchronizedMap(new WeakHashMap<>());

  /**
   * The first affinity cookie the response set, as a token, or null; parsed exactly as the
   * interceptor parses it ({@link AffinityCookies#fromSetCookies}).
   */
  static @Nullable AffinityToken fromResponse(ChainRegistry registry, HttpUrl url, Headers headers) {
    List<String> setCookies = headers.values("Set-Cookie");
    return setCookies.isEmpty() ? null
        : AffinityCookies.fromSetCookies(registry, url, setCookies, routing(headers));
  }

  /** The routing facts of a response; the SDK's header lookup is case-insensitive. */
  static RoutingInfo routing(Headers headers) {
    return RoutingInfo.from(name -> {
      List<String> values = headers.values(name);
      return values.isEmpty() ? null : values.get(0);
    });
  }

  /** The cookie-name check of {@code conversations}: one per wrapper, made on first use. */
  static NameCheck nameCheck(AffinityConversations conversations) {
    return NAME_CHECKS.computeIfAbsent(conversations, c -> new NameCheck());
  }

  /**
   * Says once, at WARN, that the gateway sets cookies but none of the affinity cookie names the
   * wrapper was built with: the pool's affinity cookie name is configurable in APIM (Microsoft's own
   * example names it {@code SessionId}), and with another name no chain is ever pinned, silently.
   * As the OkHttp interceptor's check: until a configured cookie has been seen (set by a response,
   * or carried by a request) and until the WARN is said, it reads the names of a turn's
   * {@code Set-Cookie} headers, never their values; then one volatile read per turn. Only token
   * names are shown, cut to {@value #MAX_SHOWN_CHARS} characters. Thread-safe.
   */
  static final class NameCheck {
    private static final Logger logger = LoggerFactory.getLogger(AffinityConversations.class);

    /** The longest cookie name shown whole; a longer one is cut. */
    static final int MAX_SHOWN_CHARS = 64;
    /** The most cookie names one WARN lists. */
    static final int MAX_SHOWN_NAMES = 3;

    /** True once a configured cookie was seen or the WARN was said: nothing left to check. */
    private final AtomicBoolean settled = new AtomicBoolean();

    /** Notes that a turn's request carries a configured affinity cookie (its pin, or the caller's). */
    void sending() {
      if (!settled.get()) {
        settled.set(true);
      }
    }

    /**
     * Reads the cookie names a turn's response set: a configured one settles it; only others, and
     * the WARN is said, once.
     */
    void received(ChainRegistry registry, HttpUrl url, Headers response) {
      if (settled.get()) {
        return;
      }
      List<String> setCookies = response.values("Set-Cookie");
      if (setCookies.isEmpty()) {
        return;
      }
      List<String> others = new ArrayList<>(MAX_SHOWN_NAMES);
      for (String setCookie : setCookies) {
        String name = name(setCookie);
        if (name == null) {
          continue;
        }
        if (registry.isAffinityCookie(name)) {
          settled.set(true);
          return;
        }
        // A name that is not a token cannot be configured (nor safely shown): not a candidate.
        if (others.size() < MAX_SHOWN_NAMES && Names.isCookieName(name) && !others.contains(name)) {
          others.add(name);
        }
      }
      if (!others.isEmpty() && settled.compareAndSet(false, true)) {
        String candidate = shown(others.get(0));
        logger.warn("Responses from {} set cookie(s) {} but none named {}, so no chain is pinned; if {} is"
            + " the backend pool's affinity cookie, build with AffinityConversations.builder().cookieNames(\"{}\")"
            + " (see README, section Configuration)", AffinityCookies.redacted(url),
            others.stream().map(NameCheck::shown).toList(), String.join(", ", registry.cookieNames()),
            candidate, candidate);
      }
    }

    /**
     * The name of a {@code Set-Cookie} value: what precedes the first {@code =}, trimmed; null if
     * the name-value pair has no {@code =} (RFC 6265 ignores such a cookie). Stops at the name: the
     * value is not read.
     */
    static @Nullable String name(String setCookie) {
      for (int i = 0; i < setCookie.length(); i++) {
        char c = setCookie.charAt(i);
        if (c == '=') {
          return setCookie.substring(0, i).trim();
        }
        if (c == ';') {
          return null;
        }
      }
      return null;
    }

    /** A token name as shown: whole, or cut to {@value #MAX_SHOWN_CHARS} characters and marked. */
    private static String shown(String name) {
      return name.length() <= MAX_SHOWN_CHARS ? name : name.substring(0, MAX_SHOWN_CHARS) + "...";
    }
  }
}
