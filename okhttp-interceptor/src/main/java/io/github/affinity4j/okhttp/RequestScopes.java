package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.internal.TurnInput;
import okhttp3.HttpUrl;
import okhttp3.Request;
import org.jspecify.annotations.Nullable;

/**
 * The {@link ChainScope} of OkHttp requests, the same for every interceptor of this module. Keeps
 * the last scope it made: a client sends the same origin and the same credential strings (the very
 * same objects, from its options) request after request, so most requests reuse it without a hash.
 * Thread-safe.
 */
final class RequestScopes {
  private static final String API_KEY = "api-key";
  private static final String SUBSCRIPTION_KEY = "Ocp-Apim-Subscription-Key";
  private static final String AUTHORIZATION = "Authorization";

  private final byte @Nullable [] secret;
  private volatile @Nullable Last last;

  /** Scopes keyed with {@code secret}, or the default key if null. */
  RequestScopes(byte @Nullable [] secret) {
    this.secret = secret;
  }

  /**
   * The scope of {@code request}, whose URL has {@code encodedPath}: its origin and API base path,
   * and its credential headers or {@code tenant} if not null.
   */
  ChainScope of(Request request, String encodedPath, @Nullable String tenant) {
    HttpUrl url = request.url();
    String basePath = TurnInput.basePath(encodedPath);
    String apiKey = request.header(API_KEY);
    String subscriptionKey = request.header(SUBSCRIPTION_KEY);
    String authorization = request.header(AUTHORIZATION);
    Last seen = last;
    if (seen != null && seen.matches(url, basePath, apiKey, subscriptionKey, authorization, tenant)) {
      return seen.scope;
    }
    ChainScope.Builder builder = ChainScope.builder();
    if (secret != null) {
      builder.secret(secret);
    }
    ChainScope scope = builder
        .origin(url.scheme(), url.host(), url.port(), basePath)
        .credentials(request::header)
        .tenant(tenant)
        .build();
    last = new Last(url.scheme(), url.host(), url.port(), basePath, apiKey, subscriptionKey, authorization,
        tenant, scope);
    return scope;
  }

  /**
   * The inputs of the last scope made. Credentials are compared by reference: the same string
   * objects the request carries, never a copy, so nothing more of a secret is held than the
   * client itself holds.
   */
  private record Last(String scheme, String host, int port, String basePath, @Nullable String apiKey,
      @Nullable String subscriptionKey, @Nullable String authorization, @Nullable String tenant,
      ChainScope scope) {

    boolean matches(HttpUrl url, String basePath, @Nullable String apiKey, @Nullable String subscriptionKey,
        @Nullable String authorization, @Nullable String tenant) {
      return this.apiKey == apiKey && this.subscriptionKey == subscriptionKey
          && this.authorization == authorization && this.tenant == tenant
          && port == url.port() && host.equals(url.host()) && scheme.equals(url.scheme())
          && this.basePath.equals(basePath);
    }

    @Override
    public String toString() {
      return "Last[" + scope + ']';
    }
  }
}
