package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainRegistry;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import okhttp3.Cookie;
import okhttp3.CookieJar;
import okhttp3.HttpUrl;
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
 * <p>Never throws: on trouble it logs one WARN with the URL stripped to {@code scheme://host/…}
 * and loads no cookies. Thread-safe.
 */
public final class ConversationCookieJar implements CookieJar {
  private static final Logger logger = LoggerFactory.getLogger(ConversationCookieJar.class);

  private final ChainKey scope;
  private final ChainRegistry registry;
  private final List<Cookie> others = new ArrayList<>();

  private ConversationCookieJar(ChainKey scope, ChainRegistry registry) {
    this.scope = scope;
    this.registry = registry;
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
        registry.bind(null, scope, fresh);
      }
      long now = registry.clock().millis();
      synchronized (others) {
        for (Cookie cookie : cookies) {
          if (registry.isAffinityCookie(cookie.name()) || (cookie.secure() && !url.isHttps())) {
            continue; // the pin lives in the store; a Secure cookie set over http is ignored
          }
          others.removeIf(kept -> sameCookie(kept, cookie));
          if (cookie.expiresAt() > now) {
            others.add(cookie);
          }
        }
      }
    } catch (RuntimeException e) {
      logger.warn("Cookies from {}://{}/… not saved for {}", url.scheme(), url.host(), scope, e);
    }
  }

  @Override
  public List<Cookie> loadForRequest(HttpUrl url) {
    try {
      List<Cookie> result = new ArrayList<>();
      long now = registry.clock().millis();
      synchronized (others) {
        for (Iterator<Cookie> it = others.iterator(); it.hasNext(); ) {
          Cookie cookie = it.next();
          if (cookie.expiresAt() <= now) {
            it.remove();
          } else if (cookie.matches(url)) {
            result.add(cookie);
          }
        }
      }
      Optional<AffinityToken> pin = registry.pinFor(scope, url.scheme(), url.host(), url.encodedPath());
      pin.ifPresent(token -> result.add(new Cookie.Builder()
          .name(token.name())
          .value(token.value())
          .domain(token.domain())
          .path(token.path())
          .build()));
      return result;
    } catch (RuntimeException e) {
      logger.warn("Cookies for {}://{}/… not loaded for {}", url.scheme(), url.host(), scope, e);
      return List.of();
    }
  }

  private static boolean sameCookie(Cookie a, Cookie b) {
    return a.name().equals(b.name()) && a.domain().equals(b.domain()) && a.path().equals(b.path());
  }

  @Override
  public String toString() {
    return "ConversationCookieJar{" + scope + "}";
  }

  /** Builds a {@link ConversationCookieJar}. Not thread-safe. */
  public static final class Builder {
    private final ChainRegistry.Builder registry = ChainRegistry.builder();
    private ChainKey scope;

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
     * Builds the jar.
     *
     * @throws IllegalStateException if no scope was set
     */
    public ConversationCookieJar build() {
      if (scope == null) {
        throw new IllegalStateException("set the scope: conversationId(id) or threadId(id)");
      }
      return new ConversationCookieJar(scope, registry.build());
    }
  }
}
