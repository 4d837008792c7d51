package io.github.affinity4j.okhttp.internal;

import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.core.internal.Names;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says once, at WARN, that the gateway sets cookies but none of the affinity cookie names the
 * interceptor was built with. The pool's affinity cookie name is configurable in APIM
 * ({@code sessionAffinity.sessionId.name}; Microsoft's own example names it {@code SessionId}), and
 * with another name than the one configured no chain is ever pinned, silently.
 *
 * <p>Until a configured cookie has been seen (set by a response, or carried by a request as its
 * pin) and until the WARN has been said, it reads the names of a turn's {@code Set-Cookie} headers,
 * never their values; after that, one volatile read per call. Cookie names from the wire are
 * untrusted: only token names are shown, cut to {@value #MAX_SHOWN_CHARS} characters.
 * Thread-safe; one per adapter instance (the interceptor, the conversation wrapper). Not API.
 */
public final class CookieNameCheck {
  /** The longest cookie name shown whole; a longer one is cut. */
  public static final int MAX_SHOWN_CHARS = 64;
  /** The most cookie names one WARN lists. */
  static final int MAX_SHOWN_NAMES = 3;

  private final Logger logger;
  private final String builder;
  /** True once a configured cookie was seen or the WARN was said: nothing left to check. */
  private final AtomicBoolean settled = new AtomicBoolean();

  /**
   * A check that warns through {@code logger}, naming {@code builder} (for example
   * {@code AffinityInterceptor.builder()}) as where the cookie names are set.
   */
  public CookieNameCheck(Class<?> logger, String builder) {
    this.logger = LoggerFactory.getLogger(logger);
    this.builder = builder;
  }

  /** Notes a turn about to be sent: one carrying a configured affinity cookie settles it. */
  public void sending(ChainRegistry registry, @Nullable String cookieHeader) {
    if (!settled.get() && AffinityCookies.carriesAffinityCookie(registry, cookieHeader)) {
      settled.set(true);
    }
  }

  /**
   * Reads the cookie names a turn's response set ({@code Set-Cookie} values): a configured one
   * settles it; only others, and the WARN is said, once.
   */
  public void received(ChainRegistry registry, HttpUrl url, List<String> setCookies) {
    if (settled.get()) {
      return;
    }
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
          + " the backend pool's affinity cookie, build with {}.cookieNames(\"{}\")"
          + " (see README, section Configuration)", AffinityCookies.redacted(url),
          others.stream().map(CookieNameCheck::shown).toList(), String.join(", ", registry.cookieNames()),
          candidate, builder, candidate);
    }
  }

  /**
   * The name of a {@code Set-Cookie} value: what precedes the first {@code =}, trimmed; null if
   * the name-value pair has no {@code =} (RFC 6265 ignores such a cookie). Stops at the name: the
   * value is not read.
   */
  public static @Nullable String name(String setCookie) {
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
