package io.github.affinity4j.okhttp.internal;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.core.RoutingInfo;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import okhttp3.Cookie;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.Request;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Translates between OkHttp's cookies and the engine's {@link AffinityToken}, for the adapters of
 * this project (the OkHttp interceptors and the SDK wrapper). Not an API: it may change at any time.
 */
public final class AffinityCookies {
  private static final Logger logger = LoggerFactory.getLogger(AffinityCookies.class);

  private AffinityCookies() {}

  /**
   * The first affinity cookie among {@code cookies} from {@code url}, as a token, or null.
   * {@link Cookie#parse} already dropped cookies a response may not set for its URL (another
   * domain, a bad path), so no response can make us send a pin elsewhere. A {@code Secure} cookie
   * that came over plain http is ignored, as RFC 6265bis asks: it could later be sent over https.
   */
  public static @Nullable AffinityToken first(ChainRegistry registry, HttpUrl url, List<Cookie> cookies,
      RoutingInfo routing) {
    for (Cookie cookie : cookies) {
      if (registry.isAffinityCookie(cookie.name())) {
        if (cookie.secure() && !url.isHttps()) {
          logger.debug("Affinity cookie {} from {} skipped: Secure, but set over plain http",
              cookie.name(), redacted(url));
          return null;
        }
        return toToken(cookie, registry.clock().instant(), routing);
      }
    }
    return null;
  }

  /** The affinity cookie a response set, or null; unusable cookies are skipped with a DEBUG line. */
  public static @Nullable AffinityToken fromResponse(ChainRegistry registry, HttpUrl url, Headers headers) {
    List<String> setCookies = headers.values("Set-Cookie");
    return setCookies.isEmpty() ? null
        : fromSetCookies(registry, url, setCookies, RoutingInfo.from(headers::get));
  }

  /**
   * The affinity cookie among a response's {@code Set-Cookie} values, or null. Values that do not
   * parse, or that the response may not set for {@code url}, are skipped with one DEBUG line that
   * never quotes them (they hold the value).
   */
  public static @Nullable AffinityToken fromSetCookies(ChainRegistry registry, HttpUrl url,
      List<String> setCookies, RoutingInfo routing) {
    List<Cookie> cookies = new ArrayList<>(setCookies.size());
    for (String header : setCookies) {
      Cookie cookie = Cookie.parse(url, header);
      if (cookie != null) {
        cookies.add(cookie);
      }
    }
    if (cookies.size() < setCookies.size()) {
      logger.debug("{} of {} Set-Cookie headers from {} rejected: malformed, or not for that host",
          setCookies.size() - cookies.size(), setCookies.size(), redacted(url));
    }
    return first(registry, url, cookies, routing);
  }

  private static @Nullable AffinityToken toToken(Cookie cookie, Instant now, RoutingInfo routing) {
    try {
      return AffinityToken.builder()
          .name(cookie.name())
          .value(cookie.value())
          .domain(cookie.domain())
          .hostOnly(cookie.hostOnly())
          .path(cookie.path())
          .expiresAt(cookie.persistent() ? Instant.ofEpochMilli(cookie.expiresAt()) : null)
          .secure(cookie.secure())
          .seenAt(now)
          .routing(routing)
          .build();
    } catch (IllegalArgumentException e) {
      // The message names the problem, never the value.
      logger.debug("Affinity cookie {} skipped: {}", cookie.name(), e.getMessage());
      return null;
    }
  }

  /**
   * The request's Cookie headers as one value, or null if it has none. A caller may add several
   * with {@code addHeader}; the single header that carries the pin must keep them all.
   */
  public static @Nullable String cookieHeader(Headers headers) {
    return join(headers.values("Cookie"));
  }

  /** The request's Cookie header with {@code pair} added, keeping the caller's cookies. */
  public static String merge(@Nullable String existing, String pair) {
    return existing == null || existing.isBlank() ? pair : existing + "; " + pair;
  }

  /** The Cookie header without its affinity cookies, or null if nothing else is left. */
  public static @Nullable String withoutAffinityCookies(ChainRegistry registry,
      @Nullable String cookieHeader) {
    return withoutPairs(cookieHeader, pair -> {
      int eq = pair.indexOf('=');
      String name = (eq < 0 ? pair : pair.substring(0, eq)).trim();
      return name.isEmpty() || registry.isAffinityCookie(name);
    });
  }

  /**
   * The Cookie header without the pairs {@code drop} accepts (each given trimmed) and without empty
   * ones, or null if nothing is left.
   */
  public static @Nullable String withoutPairs(@Nullable String cookieHeader, Predicate<String> drop) {
    if (cookieHeader == null) {
      return null;
    }
    StringBuilder kept = new StringBuilder();
    for (String pair : cookieHeader.split(";")) {
      String trimmed = pair.trim();
      if (!trimmed.isEmpty() && !drop.test(trimmed)) {
        kept.append(kept.length() == 0 ? "" : "; ").append(trimmed);
      }
    }
    return kept.length() == 0 ? null : kept.toString();
  }

  /** Sets the request's single Cookie header to {@code value}, or removes it if null. */
  public static Request.Builder setCookieHeader(Request.Builder request, @Nullable String value) {
    return value == null ? request.removeHeader("Cookie") : request.header("Cookie", value);
  }

  /** Several {@code Cookie} header values as one, or null if there are none. */
  public static @Nullable String join(List<String> values) {
    return values.isEmpty() ? null : String.join("; ", values);
  }

  /** Whether a Cookie header already carries one of the affinity cookies. */
  public static boolean carriesAffinityCookie(ChainRegistry registry, @Nullable String cookieHeader) {
    if (cookieHeader == null) {
      return false;
    }
    int start = 0;
    while (start < cookieHeader.length()) {
      int end = cookieHeader.indexOf(';', start);
      if (end < 0) {
        end = cookieHeader.length();
      }
      int eq = cookieHeader.indexOf('=', start);
      if (eq > start && eq < end && registry.isAffinityCookie(cookieHeader.substring(start, eq).trim())) {
        return true;
      }
      start = end + 1;
    }
    return false;
  }

  /** A URL for log lines: scheme, host and path, no query. */
  public static String redacted(HttpUrl url) {
    return url.scheme() + "://" + url.host() + url.encodedPath();
  }
}
