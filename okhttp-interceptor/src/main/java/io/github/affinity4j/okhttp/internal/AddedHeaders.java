package io.github.affinity4j.okhttp.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What affinity4j's application interceptors added to a request (a pin cookie, a subscription
 * key), and the origin they were added for, carried as a request tag. OkHttp copies tags onto the
 * requests of redirects it follows, so the {@link #GUARD}, a network interceptor, sees on every
 * hop what must not leave that origin, and takes it off a hop to any other origin (another host or
 * port, or another scheme: https to http included). Not an API: it may change at any time.
 *
 * <p>Immutable but for whether the guard saw it; thread-safe.
 */
public final class AddedHeaders {
  private static final Logger logger = LoggerFactory.getLogger(AddedHeaders.class);

  /**
   * The network interceptor that keeps added headers on their origin. Stateless; one instance
   * serves every client.
   */
  public static final Interceptor GUARD = new Guard();

  private final String scheme;
  private final String host;
  private final int port;
  private final List<String> cookiePairs;
  private final List<String> headerNames;
  private final AtomicBoolean guarded;

  private AddedHeaders(HttpUrl url, List<String> cookiePairs, List<String> headerNames, AtomicBoolean guarded) {
    this.scheme = url.scheme();
    this.host = url.host();
    this.port = url.port();
    this.cookiePairs = List.copyOf(cookiePairs);
    this.headerNames = List.copyOf(headerNames);
    this.guarded = guarded;
  }

  /** {@code request} with a header it now carries recorded as added for its URL's origin. */
  public static Request header(Request request, String name) {
    AddedHeaders old = request.tag(AddedHeaders.class);
    List<String> names = new ArrayList<>(old == null ? List.of() : old.headerNames);
    names.add(name);
    return tagged(request, request.newBuilder(), old, old == null ? List.of() : old.cookiePairs, names);
  }

  /**
   * {@code request} with its Cookie header set to {@code cookieHeader}, and the cookie pair that
   * header adds recorded as added: one new request, not two.
   */
  public static Request cookie(Request request, String cookieHeader, String pair) {
    AddedHeaders old = request.tag(AddedHeaders.class);
    List<String> pairs = new ArrayList<>(old == null ? List.of() : old.cookiePairs);
    pairs.add(pair);
    return tagged(request, request.newBuilder().header("Cookie", cookieHeader), old, pairs,
        old == null ? List.of() : old.headerNames);
  }

  /**
   * Whether {@code sent} carried added headers that a redirect took to another origin without the
   * guard on the way: no hop passed through the guard, and a hop of {@code response} went elsewhere.
   */
  public static boolean leftOriginUnguarded(Request sent, Response response) {
    AddedHeaders added = sent.tag(AddedHeaders.class);
    if (added == null || added.guarded.get()) {
      return false;
    }
    for (Response hop = response; hop != null; hop = hop.priorResponse()) {
      if (!added.sameOrigin(hop.request().url())) {
        return true;
      }
    }
    return false;
  }

  private static Request tagged(Request request, Request.Builder builder, @Nullable AddedHeaders old,
      List<String> pairs, List<String> names) {
    AtomicBoolean guarded = old == null ? new AtomicBoolean() : old.guarded;
    return builder.tag(AddedHeaders.class, new AddedHeaders(request.url(), pairs, names, guarded)).build();
  }

  private boolean sameOrigin(HttpUrl url) {
    return scheme.equals(url.scheme()) && host.equals(url.host()) && port == url.port();
  }

  /** The request without what was added, for a hop to another origin. */
  private Request stripped(Request request) {
    Request.Builder builder = request.newBuilder();
    headerNames.forEach(builder::removeHeader);
    String cookies = AffinityCookies.cookieHeader(request.headers());
    if (cookies != null) {
      AffinityCookies.setCookieHeader(builder, AffinityCookies.withoutPairs(cookies, cookiePairs::contains));
    }
    return builder.build();
  }

  private static final class Guard implements Interceptor {
    @Override
    public Response intercept(Chain chain) throws IOException {
      Request request = chain.request();
      AddedHeaders added = request.tag(AddedHeaders.class);
      if (added == null) {
        return chain.proceed(request);
      }
      added.guarded.set(true);
      if (added.sameOrigin(request.url())) {
        return chain.proceed(request);
      }
      logger.debug("Redirect to {}: affinity pin and added headers {} left out, they belong to {}://{}:{}",
          AffinityCookies.redacted(request.url()), added.headerNames, added.scheme, added.host, added.port);
      return chain.proceed(added.stripped(request));
    }

    @Override
    public String toString() {
      return "AffinityInterceptor.redirectGuard()";
    }
  }
}
