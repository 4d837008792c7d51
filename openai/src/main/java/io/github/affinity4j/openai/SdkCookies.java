package io.github.affinity4j.openai;

import com.openai.core.http.Headers;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainRegistry;
import io.github.affinity4j.core.RoutingInfo;
import java.time.Instant;
import java.util.List;
import okhttp3.Cookie;
import okhttp3.HttpUrl;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Translates between the SDK's headers and the engine's {@link AffinityToken}, as the OkHttp
 * adapter's {@code AffinityCookies} does for OkHttp's (that class is package-private to its
 * module). Cookies are parsed with {@code okhttp3.Cookie}, so domain, path, expiry and
 * {@code Secure} follow RFC 6265 exactly as in the interceptor.
 */
final class SdkCookies {
  private static final Logger logger = LoggerFactory.getLogger(SdkCookies.class);

  private SdkCookies() {}

  /**
   * The first affinity cookie the response set, as a token, or null. {@link Cookie#parse} drops a
   * cookie the response may not set for {@code url} (another domain, a bad path); a {@code Secure}
   * cookie set over plain http is ignored, as RFC 6265bis asks.
   */
  static AffinityToken fromResponse(ChainRegistry registry, HttpUrl url, Headers headers) {
    List<String> setCookies = headers.values("Set-Cookie");
    if (setCookies.isEmpty()) {
      return null;
    }
    RoutingInfo routing = routing(headers);
    int rejected = 0;
    for (String header : setCookies) {
      Cookie cookie = Cookie.parse(url, header);
      if (cookie == null) {
        rejected++;
        continue;
      }
      if (!registry.isAffinityCookie(cookie.name())) {
        continue;
      }
      if (cookie.secure() && !url.isHttps()) {
        logger.debug("Affinity cookie {} from {} skipped: Secure, but set over plain http", cookie.name(),
            redacted(url));
        return null;
      }
      return toToken(cookie, registry.clock().instant(), routing);
    }
    if (rejected > 0) {
      // Never the header itself: it holds the value.
      logger.debug("{} of {} Set-Cookie headers from {} rejected: malformed, or not for that host", rejected,
          setCookies.size(), redacted(url));
    }
    return null;
  }

  /** The routing facts of a response; the SDK's header lookup is case-insensitive. */
  static RoutingInfo routing(Headers headers) {
    return RoutingInfo.from(name -> {
      List<String> values = headers.values(name);
      return values.isEmpty() ? null : values.get(0);
    });
  }

  private static AffinityToken toToken(Cookie cookie, Instant now, RoutingInfo routing) {
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

  /** Several {@code Cookie} header values as one, or null if there are none. */
  static String join(List<String> values) {
    return values.isEmpty() ? null : String.join("; ", values);
  }

  /** {@code existing} with {@code pair} added after the caller's cookies. */
  static String merge(String existing, String pair) {
    return existing == null || existing.isBlank() ? pair : existing + "; " + pair;
  }

  /** The Cookie header without its affinity cookies, or null if nothing else is left. */
  static String withoutAffinityCookies(ChainRegistry registry, String cookieHeader) {
    if (cookieHeader == null) {
      return null;
    }
    StringBuilder kept = new StringBuilder();
    for (String pair : cookieHeader.split(";")) {
      String name = name(pair);
      if (!name.isEmpty() && !registry.isAffinityCookie(name)) {
        kept.append(kept.length() == 0 ? "" : "; ").append(pair.trim());
      }
    }
    return kept.length() == 0 ? null : kept.toString();
  }

  /** Whether a Cookie header already carries one of the affinity cookies. */
  static boolean carriesAffinityCookie(ChainRegistry registry, String cookieHeader) {
    if (cookieHeader == null) {
      return false;
    }
    for (String pair : cookieHeader.split(";")) {
      if (pair.indexOf('=') > 0 && registry.isAffinityCookie(name(pair))) {
        return true;
      }
    }
    return false;
  }

  private static String name(String pair) {
    int eq = pair.indexOf('=');
    return (eq < 0 ? pair : pair.substring(0, eq)).trim();
  }

  /** A URL for log lines: scheme, host and path, no query. */
  static String redacted(HttpUrl url) {
    return url.scheme() + "://" + url.host() + url.encodedPath();
  }
}
