package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.ChainKeys;
import io.github.affinity4j.core.ChainScope;
import okhttp3.HttpUrl;
import okhttp3.Request;

/** The {@link ChainScope} of an OkHttp request, the same for every interceptor of this module. */
final class RequestScopes {
  private RequestScopes() {}

  /**
   * The scope of {@code request}: its origin and API base path, and its credential headers or
   * {@code tenant} if not null; the HMAC keyed with {@code secret}, or the default if null.
   */
  static ChainScope of(Request request, byte[] secret, String tenant) {
    HttpUrl url = request.url();
    ChainScope.Builder scope = ChainScope.builder();
    if (secret != null) {
      scope.secret(secret);
    }
    return scope
        .origin(url.scheme(), url.host(), url.port(), ChainKeys.basePath(url.encodedPath()))
        .credentials(request::header)
        .tenant(tenant)
        .build();
  }
}
