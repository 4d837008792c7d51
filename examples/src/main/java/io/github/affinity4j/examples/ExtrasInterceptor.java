package io.github.affinity4j.examples;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Adds the probe's fixed extras to every request: the {@code --header} values, the query of the
 * {@code --base-url} (some gateways take a {@code subscription-key} there), and for the plain SDK
 * the APIM subscription key. Installed on the OkHttp client under the SDK, so the SDK's own request
 * log ({@code OPENAI_LOG=debug}, which prints URLs and does not know these header names) never sees
 * them; and before affinity4j's interceptor, so a {@code Cookie} given here is merged with the pin
 * rather than replacing it. {@link #toString()} shows names only. Immutable and thread-safe.
 */
final class ExtrasInterceptor implements Interceptor {
  private final List<Map.Entry<String, String>> headers;
  private final List<Map.Entry<String, String>> query;

  /**
   * @param headers header names and values, set in this order (a later one replaces an earlier
   *     one of the same name)
   * @param query query parameter names and values, added after the SDK's own
   */
  ExtrasInterceptor(List<Map.Entry<String, String>> headers, List<Map.Entry<String, String>> query) {
    this.headers = List.copyOf(headers);
    this.query = List.copyOf(query);
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    if (headers.isEmpty() && query.isEmpty()) {
      return chain.proceed(chain.request());
    }
    Request.Builder request = chain.request().newBuilder();
    for (Map.Entry<String, String> header : headers) {
      request.header(header.getKey(), header.getValue());
    }
    if (!query.isEmpty()) {
      HttpUrl.Builder url = chain.request().url().newBuilder();
      for (Map.Entry<String, String> parameter : query) {
        url.addQueryParameter(parameter.getKey(), parameter.getValue());
      }
      request.url(url.build());
    }
    return chain.proceed(request.build());
  }

  @Override
  public String toString() {
    return "ExtrasInterceptor[headers=" + headers.stream().map(Map.Entry::getKey).toList()
        + ", query=" + query.stream().map(Map.Entry::getKey).toList() + ']';
  }
}
