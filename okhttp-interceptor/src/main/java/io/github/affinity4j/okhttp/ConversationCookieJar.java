package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import okhttp3.Cookie;
import okhttp3.CookieJar;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link CookieJar} for one explicit conversation scope: everything sent through a client built
 * with it stays on the backend the gateway first chose for that scope. Use it for stateful APIs
 * that are not response chains (an Assistants thread, a {@code conv_…} conversation driven by
 * hand), one jar per scope, on a client derived from a shared one so that connection pools stay
 * shared:
 *
 * <pre>{@code
 * OkHttpClient base = new OkHttpClient();
 * OkHttpClient forThread = base.newBuilder()
 *     .cookieJar(ConversationCookieJar.builder().threadId("thread_abc").build())
 *     .build();
 * }</pre>
 *
 * <p>The affinity cookie is kept in an {@link AffinityStore} under the scope's key, so several
 * jars or {@link AffinityInterceptor}s that share a store share the scope's pin. Other cookies the
 * gateway sets are kept in this jar only. Domain, path, expiry and {@code Secure} are honoured as
 * {@link Cookie#matches(HttpUrl)} defines them.
 *
 * <p>The other cookies are bounded as browsers bound theirs (RFC 6265, section 6.1): at most
 * {@link Builder#maxCookiesPerDomain(int)} per domain (default
 * {@value #DEFAULT_MAX_COOKIES_PER_DOMAIN}) and {@link Builder#maxCookies(int)} in all (default
 * {@value #DEFAULT_MAX_COOKIES}); a cookie over {@value #MAX_COOKIE_BYTES} bytes is not kept. Over
 * a cap, expired cookies go first, then the least recently set (setting a cookie again counts as
 * setting it). The {@code Cookie} header of one request is at most
 * {@link Builder#maxCookieHeaderBytes(int)} (default {@value #DEFAULT_MAX_COOKIE_HEADER_BYTES}):
 * the pin always goes, then the most recently set cookies that fit.
 *
 * <p>Never throws: on trouble it logs one WARN with the URL stripped to {@code scheme://host/…}
 * and loads no cookies. Thread-safe.
 */
public final class ConversationCookieJar implements CookieJar {
  /** The default {@link Builder#maxCookiesPerDomain(int)}: RFC 6265's minimum per domain. */
  public static final int DEFAULT_MAX_COOKIES_PER_DOMAIN = 50;

  /**
   * The default {@link Builder#maxCookies(int)}. A browser keeps about 3,000 cookies in all (RFC
   * 6265's minimum) for every site a profile visits; this jar serves one scope, which talks to one
   * gateway (a host or two), so a tenth is ample: six domains at the per-domain cap. It also bounds
   * one jar to about 1.2 MiB of cookie text at worst (300 cookies of {@value #MAX_COOKIE_BYTES}
   * bytes), which matters when an application holds a jar per conversation.
   */
  public static final int DEFAULT_MAX_COOKIES = 300;

  /**
   * The largest cookie kept, in bytes of its name, value, domain and path: the size RFC 6265 asks
   * a user agent to keep at least (a pin is held to the same figure, {@link
   * AffinityToken#MAX_COOKIE_SIZE}). A larger {@code Set-Cookie} is ignored, and a cookie it would
   * have replaced stays.
   */
  public static final int MAX_COOKIE_BYTES = 4096;

  /**
   * The default {@link Builder#maxCookieHeaderBytes(int)}: 16 KiB, the default request-header
   * limit of IIS (http.sys), HAProxy and Node.js. Such front ends refuse a longer {@code Cookie}
   * header (400 or 431), pin and all, so sending it would end the conversation; behind nginx, whose
   * default is 8 KiB per header line, set a lower limit.
   */
  public static final int DEFAULT_MAX_COOKIE_HEADER_BYTES = 16 * 1024;

  private static final Logger logger = LoggerFactory.getLogger(ConversationCookieJar.class);
  /** The "; " between two cookies of a {@code Cookie} header. */
  private static final int SEPARATOR_BYTES = 2;

  private final ChainKey scope;
  private final ChainRegistry registry;
  private final int maxCookiesPerDomain;
  private final int maxCookies;
  private final int maxCookieHeaderBytes;
  private final @Nullable String tenant;

  private final Object lock = new Object();
  /** The other cookies, least recently set first. Guarded by {@link #lock}. */
  private final LinkedHashMap<CookieKey, Cookie> others = new LinkedHashMap<>();
  /** The keys of {@link #others} by domain, least recently set first. Guarded by {@link #lock}. */
  private final Map<String, Set<CookieKey>> byDomain = new HashMap<>();

  private ConversationCookieJar(ChainKey scope, ChainRegistry registry, Builder builder) {
    this.scope = scope;
    this.registry = registry;
    this.maxCookiesPerDomain = builder.maxCookiesPerDomain;
    this.maxCookies = builder.maxCookies;
    this.maxCookieHeaderBytes = builder.maxCookieHeaderBytes;
    this.tenant = builder.tenant;
  }

  /** A new builder; set exactly one of {@code conversationId} or {@code threadId}. */
  public static Builder builder() {
    return new Builder();
  }

  /** The scope this jar keeps cookies for. */
  public ChainKey scope() {
    return scope;
  }

  @Override
  public void saveFromResponse(HttpUrl url, List<Cookie> cookies) {
    try {
      AffinityToken fresh = AffinityCookies.first(registry, url, cookies, RoutingInfo.EMPTY);
      if (fresh != null) {
        registry.bind(null, scopedTo(url), fresh);
      }
      long now = registry.clock().millis();
      int oversize = 0;
      int evicted = 0;
      synchronized (lock) {
        // Expired cookies make room before any live one is evicted (RFC 6265, section 5.3).
        removeExpired(now);
        for (Cookie cookie : cookies) {
          if (registry.isAffinityCookie(cookie.name()) || (cookie.secure() && !url.isHttps())) {
            continue; // the pin lives in the store; a Secure cookie set over http is ignored
          }
          if (storedBytes(cookie) > MAX_COOKIE_BYTES) {
            oversize++; // as browsers do: ignored, and the cookie it would replace stays
            continue;
          }
          CookieKey key = CookieKey.of(cookie);
          remove(key);
          if (cookie.expiresAt() > now) {
            evicted += add(key, cookie);
          }
        }
      }
      if (oversize + evicted > 0) {
        logger.debug("Cookies from {}://{}/… for {}: {} over {} bytes not kept, {} evicted over the caps",
            url.scheme(), url.host(), scope, oversize, MAX_COOKIE_BYTES, evicted);
      }
    } catch (RuntimeException e) {
      logger.warn("Cookies from {}://{}/… not saved for {}", url.scheme(), url.host(), scope, e);
    }
  }

  @Override
  public List<Cookie> loadForRequest(HttpUrl url) {
    try {
      List<Cookie> matching = new ArrayList<>();
      long now = registry.clock().millis();
      synchronized (lock) {
        removeExpired(now);
        for (Cookie cookie : others.values()) {
          if (cookie.matches(url)) {
            matching.add(cookie);
          }
        }
      }
      Optional<AffinityToken> pin = registry.pinFor(scopedTo(url), url.scheme(), url.host(), url.encodedPath());
      Cookie pinCookie = pin.map(token -> new Cookie.Builder()
          .name(token.name())
          .value(token.value())
          .domain(token.domain())
          .path(token.path())
          .build()).orElse(null);
      List<Cookie> result = newestThatFit(matching, pinCookie, url);
      if (pinCookie != null) {
        result.add(pinCookie);
      }
      return result;
    } catch (RuntimeException e) {
      logger.warn("Cookies for {}://{}/… not loaded for {}", url.scheme(), url.host(), scope, e);
      return List.of();
    }
  }

  /**
   * The most recently set of {@code matching} (least recently set first) whose {@code Cookie}
   * header, with the pin, stays within {@link #maxCookieHeaderBytes}. The pin always fits: it is at
   * most {@link AffinityToken#MAX_COOKIE_SIZE} bytes and the builder allows no smaller limit.
   */
  private List<Cookie> newestThatFit(List<Cookie> matching, @Nullable Cookie pin, HttpUrl url) {
    // A header of n cookies takes the sum of (entry + separator) bytes, less one separator.
    long budget = maxCookieHeaderBytes + SEPARATOR_BYTES
        - (pin == null ? 0 : headerBytes(pin) + SEPARATOR_BYTES);
    int first = matching.size();
    while (first > 0) {
      long bytes = headerBytes(matching.get(first - 1)) + SEPARATOR_BYTES;
      if (bytes > budget) {
        break;
      }
      budget -= bytes;
      first--;
    }
    if (first > 0) {
      logger.debug("Cookies for {}://{}/… for {}: {} least recently set left out, the header is"
          + " kept within {} bytes", url.scheme(), url.host(), scope, first, maxCookieHeaderBytes);
    }
    return new ArrayList<>(matching.subList(first, matching.size()));
  }

  /** Adds a cookie as the most recently set, then evicts over the caps; returns how many went. */
  private int add(CookieKey key, Cookie cookie) {
    others.put(key, cookie);
    Set<CookieKey> domain = byDomain.computeIfAbsent(key.domain(), d -> new LinkedHashSet<>());
    domain.add(key);
    int evicted = 0;
    if (domain.size() > maxCookiesPerDomain) {
      remove(domain.iterator().next());
      evicted++;
    }
    if (others.size() > maxCookies) {
      remove(others.keySet().iterator().next());
      evicted++;
    }
    return evicted;
  }

  private void remove(CookieKey key) {
    if (others.remove(key) != null) {
      unindex(key);
    }
  }

  private void removeExpired(long now) {
    for (Iterator<Map.Entry<CookieKey, Cookie>> it = others.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<CookieKey, Cookie> entry = it.next();
      if (entry.getValue().expiresAt() <= now) {
        it.remove();
        unindex(entry.getKey());
      }
    }
  }

  private void unindex(CookieKey key) {
    // Every cookie in others is indexed under its domain.
    Set<CookieKey> domain = java.util.Objects.requireNonNull(byDomain.get(key.domain()));
    domain.remove(key);
    if (domain.isEmpty()) {
      byDomain.remove(key.domain());
    }
  }

  /** What a cookie weighs against {@link #MAX_COOKIE_BYTES}: its name, value, domain and path. */
  private static long storedBytes(Cookie cookie) {
    return utf8Bytes(cookie.name()) + utf8Bytes(cookie.value()) + utf8Bytes(cookie.domain())
        + utf8Bytes(cookie.path());
  }

  /** What a cookie adds to a {@code Cookie} header: {@code name=value}. */
  private static long headerBytes(Cookie cookie) {
    return utf8Bytes(cookie.name()) + 1 + utf8Bytes(cookie.value());
  }

  private static long utf8Bytes(String s) {
    long bytes = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c) && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }

  /**
   * The jar's key in the {@link ChainScope} of {@code url}'s origin and of the jar's tenant, so a
   * response from another host never replaces the pin. No base path: the jar serves one scope
   * across the paths its cookie's {@code Path} covers. A jar sees no credentials either, so it
   * shares the pin of an interceptor's chain only for requests without a base path or credential
   * (or when both name the same tenant).
   */
  private ChainKey scopedTo(HttpUrl url) {
    return scope.in(ChainScope.builder()
        .origin(url.scheme(), url.host(), url.port(), null)
        .tenant(tenant)
        .build());
  }

  @Override
  public String toString() {
    return "ConversationCookieJar{" + scope + "}";
  }

  /** A cookie's identity in the jar: a cookie with the same three replaces it (RFC 6265, 5.3). */
  private record CookieKey(String name, String domain, String path) {
    static CookieKey of(Cookie cookie) {
      return new CookieKey(cookie.name(), cookie.domain(), cookie.path());
    }
  }

  /** Builds a {@link ConversationCookieJar}. Not thread-safe. */
  public static final class Builder {
    private final ChainRegistry.Builder registry = ChainRegistry.builder();
    private @Nullable ChainKey scope;
    private @Nullable String tenant;
    private int maxCookiesPerDomain = DEFAULT_MAX_COOKIES_PER_DOMAIN;
    private int maxCookies = DEFAULT_MAX_COOKIES;
    private int maxCookieHeaderBytes = DEFAULT_MAX_COOKIE_HEADER_BYTES;

    private Builder() {}

    /**
     * Scopes the jar to a conversation id (a {@code conv_…} id, or any id of your own).
     *
     * @throws IllegalArgumentException if the id is blank, longer than 256 characters or not
     *     printable ASCII
     */
    public Builder conversationId(String conversationId) {
      this.scope = ChainKey.conversation(conversationId);
      return this;
    }

    /**
     * Scopes the jar to an Assistants thread id.
     *
     * @throws IllegalArgumentException if the id is blank, longer than 256 characters or not
     *     printable ASCII
     */
    public Builder threadId(String threadId) {
      this.scope = ChainKey.thread(threadId);
      return this;
    }

    /**
     * The tenant the jar's pin belongs to, as part of its {@link ChainScope} with the URL's origin;
     * the same as the {@link AffinityInterceptor.Builder#tenant} of interceptors sharing the store.
     * Default: none.
     */
    public Builder tenant(String tenant) {
      this.tenant = java.util.Objects.requireNonNull(tenant, "tenant");
      return this;
    }

    /** The store for the scope's pin; share it to share the scope. Default: a new Caffeine store. */
    public Builder store(AffinityStore store) {
      registry.store(store);
      return this;
    }

    /**
     * The affinity cookie names; default {@code APIM-Backend-Affinity}.
     *
     * @throws IllegalArgumentException if none is given or one is not a cookie name
     */
    public Builder cookieNames(String... cookieNames) {
      registry.cookieNames(cookieNames);
      return this;
    }

    /** Receives affinity events; default {@link AffinityListener#NONE}. */
    public Builder listener(AffinityListener listener) {
      registry.listener(listener);
      return this;
    }

    /** The clock for cookie expiry; for tests. Default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      registry.clock(clock);
      return this;
    }

    /**
     * How many cookies other than the pin the jar keeps per domain (a host-only cookie's domain is
     * its host); past it, the domain's least recently set cookie goes. Default
     * {@value ConversationCookieJar#DEFAULT_MAX_COOKIES_PER_DOMAIN}; 0 keeps none but the pin.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder maxCookiesPerDomain(int maxCookiesPerDomain) {
      if (maxCookiesPerDomain < 0) {
        throw new IllegalArgumentException(
            "maxCookiesPerDomain must be 0 or more, was " + maxCookiesPerDomain);
      }
      this.maxCookiesPerDomain = maxCookiesPerDomain;
      return this;
    }

    /**
     * How many cookies other than the pin the jar keeps in all; past it, the least recently set
     * cookie goes. Default {@value ConversationCookieJar#DEFAULT_MAX_COOKIES}; 0 keeps none but the
     * pin.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder maxCookies(int maxCookies) {
      if (maxCookies < 0) {
        throw new IllegalArgumentException("maxCookies must be 0 or more, was " + maxCookies);
      }
      this.maxCookies = maxCookies;
      return this;
    }

    /**
     * The longest {@code Cookie} header the jar makes for one request, in bytes; the pin always
     * goes, then the most recently set cookies that fit. Default
     * {@value ConversationCookieJar#DEFAULT_MAX_COOKIE_HEADER_BYTES}.
     *
     * @throws IllegalArgumentException if under {@value ConversationCookieJar#MAX_COOKIE_BYTES}
     *     plus one, the room a pin may take
     */
    public Builder maxCookieHeaderBytes(int maxCookieHeaderBytes) {
      if (maxCookieHeaderBytes < AffinityToken.MAX_COOKIE_SIZE + 1) {
        throw new IllegalArgumentException("maxCookieHeaderBytes must be at least "
            + (AffinityToken.MAX_COOKIE_SIZE + 1) + " (a pin of " + AffinityToken.MAX_COOKIE_SIZE
            + " bytes and its '='), was " + maxCookieHeaderBytes);
      }
      this.maxCookieHeaderBytes = maxCookieHeaderBytes;
      return this;
    }

    /**
     * Builds the jar.
     *
     * @throws IllegalStateException if no scope was set
     */
    public ConversationCookieJar build() {
      if (scope == null) {
        throw new IllegalStateException("set the scope: conversationId(id) or threadId(id)");
      }
      return new ConversationCookieJar(scope, registry.build(), this);
    }
  }
}
