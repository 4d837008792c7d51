package io.github.affinity4j.openai;

import com.openai.core.http.Headers;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import java.util.List;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;

/**
 * Reads the SDK's response headers for the engine: the affinity cookie (parsed by the OkHttp
 * adapter's {@link AffinityCookies}, so exactly as the interceptor parses it) and the routing facts.
 */
final class SdkCookies {
  private SdkCookies() {}

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
}
