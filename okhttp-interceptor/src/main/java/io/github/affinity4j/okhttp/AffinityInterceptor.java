package io.github.affinity4j.okhttp;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.core.internal.Engine;
import io.github.affinity4j.core.internal.Turn;
import io.github.affinity4j.okhttp.internal.AddedHeaders;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import io.github.affinity4j.okhttp.internal.CookieNameCheck;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Source;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OkHttp application interceptor that keeps a gateway's affinity cookie per Responses API
 * response chain, so every conversation stays on the backend that holds it while new
 * conversations still spread over the pool.
 *
 * <pre>{@code
 * OpenAIClient client = OpenAIOkHttpClient.builder()
 *     .baseUrl("https://my-apim.azure-api.net/inference/openai/v1")
 *     .apiKey(key)
 *     .addInterceptor(AffinityInterceptor.builder().build())
 *     .build();
 * }</pre>
 *
 * <p>For {@code POST …/responses} (and {@code …/conversations…}, {@code …/threads/{id}…}) it reads
 * the chain the request continues ({@code previous_response_id}, {@code conversation}, or the
 * thread in the path) and adds that chain's pin to the {@code Cookie} header, after any cookies the
 * caller set, and only for a URL the cookie applies to. A request that starts a new chain carries
 * no pin. On a successful response it binds the new response id to the affinity cookie the
 * response set, or to the pin of the chain it continued. Streams are teed, never buffered: the id
 * is taken from the {@code response.created} event as the caller reads it. Everything else passes
 * through unchanged.
 *
 * <p>Chains are scoped ({@link ChainScope}): a pin or history learned from one origin (scheme,
 * host, port, API base path) and credential is found only by requests of the same origin and
 * credential, so a response id of another tenant unlocks nothing. Install it after interceptors
 * that add credentials, and add {@link #redirectGuard()} as a network interceptor so that a pin
 * never follows a redirect to another origin. A successful {@code DELETE} of a response or
 * conversation forgets its pin and history.
 *
 * <p>Request bodies over {@link Builder#maxBodyBytes(long)} (default 8 MiB), of unknown length (a
 * stream) and one-shot bodies are not read: such a request passes through untouched and whole,
 * with one WARN. A gzip answer (the caller set {@code Accept-Encoding} itself) is decoded for
 * reading; another encoding turns affinity off for that response, with one WARN. A request whose
 * {@code Cookie} header already carries an affinity cookie is left as the caller made it. Install
 * it as an application interceptor (each SDK retry then passes through it and carries the same
 * pin), and do not also give the client a {@code CookieJar} that stores the affinity cookie:
 * OkHttp replaces the {@code Cookie} header with the jar's cookies. If the gateway's answers to
 * these requests set cookies but never one of the {@link Builder#cookieNames cookieNames}, it says
 * so once, at WARN, naming those cookies (never their values): a pool whose affinity cookie is
 * named otherwise leaves every chain unpinned.
 *
 * <p>Thread-safe; one instance may serve many clients. Its chains live in its
 * {@link AffinityStore}, which may be shared with other interceptors and with a
 * {@link ConversationCookieJar}. While a request is handled, MDC key {@value #MDC_CHAIN} holds the
 * chain it continues. Only {@link IOException}s from the network leave this interceptor.
 */
public final class AffinityInterceptor implements Interceptor {
  /** MDC key set to the chain key (for example {@code response:resp_…}) while a request runs. */
  public static final String MDC_CHAIN = Turn.MDC_CHAIN;
  /** Default bound on request and response bodies read to find chain ids: 8 MiB. */
  public static final long DEFAULT_MAX_BODY_BYTES = 8L * 1024 * 1024;

  private static final Logger logger = LoggerFactory.getLogger(AffinityInterceptor.class);

  private final Engine engine;
  private final long maxBodyBytes;
  private final RequestScopes scopes;
  private final @Nullable Function<Request, @Nullable String> tenant;
  private final AtomicBoolean warnedUnguardedRedirect = new AtomicBoolean();
  private final CookieNameCheck cookieNameCheck =
      new CookieNameCheck(AffinityInterceptor.class, "AffinityInterceptor.builder()");

  private AffinityInterceptor(Builder builder) {
    this.engine = builder.engine.build();
    this.maxBodyBytes = builder.maxBodyBytes;
    this.scopes = new RequestScopes(builder.scopeSecret);
    this.tenant = builder.tenant;
  }

  /** A builder with the defaults: a new Caffeine store, cookie {@code APIM-Backend-Affinity}. */
  public static Builder builder() {
    return new Builder();
  }

  /** A snapshot of this interceptor's counters. */
  public AffinityStats stats() {
    return engine.stats();
  }

  /** A snapshot of this interceptor's repair counters. */
  public RepairStats repairStats() {
    return engine.repairStats();
  }

  /** The store holding this interceptor's chains. */
  public AffinityStore store() {
    return engine.store();
  }

  /** The journal holding this interceptor's chain histories. */
  public HistoryJournal journal() {
    return engine.journal();
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Request request = chain.request();
    HttpUrl url = request.url();
    String method = request.method();
    String path = url.encodedPath(); // made anew on each call: taken once
    if (!Engine.affects(method, path)) {
      return chain.proceed(request);
    }
    Turn turn;
    try {
      byte[] bytes = null;
      RequestBody body = request.body();
      if (body != null && Engine.readsBody(method, path)) {
        bytes = readBounded(request, body);
        if (bytes == null) {
          return chain.proceed(request);
        }
        // Send the bytes already read rather than serialising the body a second time.
        request = request.newBuilder().method(method, RequestBody.create(bytes, body.contentType())).build();
      }
      boolean callerPinned = AffinityCookies.carriesAffinityCookie(engine.registry(),
          AffinityCookies.cookieHeader(request.headers()));
      turn = engine.turn(scopeOf(request, path), method, url.scheme(), url.host(), path, bytes, callerPinned);
    } catch (RuntimeException e) {
      logger.error("Affinity skipped for {} {}: unexpected failure", method, AffinityCookies.redacted(url), e);
      return chain.proceed(chain.request());
    }
    if (turn == null) {
      return chain.proceed(request);
    }
    Turn.MdcScope mdc = turn.inMdc();
    try {
      return observe(new ChainCall(engine, chain, request, turn, warnedUnguardedRedirect, cookieNameCheck).run(), turn);
    } finally {
      mdc.close();
    }
  }

  /**
   * The body's bytes, to be sent in its place; or null (with one WARN) when it is not read, and is
   * then sent untouched: see {@link BoundedBodies#unreadable}.
   */
  private byte @Nullable [] readBounded(Request request, RequestBody body) throws IOException {
    String unreadable = BoundedBodies.unreadable(body, maxBodyBytes);
    if (unreadable != null) {
      logger.warn("Affinity skipped for {} {}: the request body {}; sent as it is, unpinned",
          request.method(), AffinityCookies.redacted(request.url()), unreadable);
      return null;
    }
    return BoundedBodies.read(body, maxBodyBytes);
  }


  /**
   * Returns whom the chains of {@code request} belong to: its origin and base path, and its
   * credentials or the {@link Builder#tenant tenant} the application names. Pins and turns are
   * kept in the store and journal under keys {@link ChainKey#in in} this scope.
   */
  public ChainScope scopeOf(Request request) {
    return scopeOf(request, request.url().encodedPath());
  }

  private ChainScope scopeOf(Request request, String encodedPath) {
    return scopes.of(request, encodedPath, tenant == null ? null : tenant.apply(request));
  }


  /**
   * Returns the network interceptor that keeps the pin, and every header affinity4j added, on the
   * origin they were added for. OkHttp follows redirects below application interceptors, carrying
   * their headers to wherever the redirect points; this guard, installed with
   * {@code OkHttpClient.Builder.addNetworkInterceptor}, sees each hop's real URL and takes the pin
   * and added headers off a hop to another scheme, host or port.
   *
   * <pre>{@code
   * OkHttpClient http = new OkHttpClient.Builder()
   *     .addInterceptor(AffinityInterceptor.builder().build())
   *     .addNetworkInterceptor(AffinityInterceptor.redirectGuard())
   *     .build();
   * }</pre>
   *
   * <p>The SDK's {@code OpenAIOkHttpClient.Builder.addInterceptor} adds application interceptors
   * only: there, turn redirects off ({@code followRedirects(false)}), or give the SDK an
   * {@code okHttpClient} with the guard. {@code AffinityOpenAI} does this itself. Stateless and
   * thread-safe.
   */
  public static Interceptor redirectGuard() {
    return AddedHeaders.GUARD;
  }

  /** A successful response, watched for its chain: bound and journaled as its body goes by. */
  private Response observe(Response response, Turn turn) throws IOException {
    if (!response.isSuccessful()) {
      return response;
    }
    ResponseBody body = response.body();
    if (body == null) {
      turn.responseBody(null);
      return response;
    }
    if (BoundedBodies.isEventStream(response) && BoundedBodies.isIdentityEncoded(response)) {
      Source tee = new SseTee(body.source(), turn.stream(), turn::brokeOff);
      return response.newBuilder().body(BoundedBodies.readingThrough(body, tee)).build();
    }
    byte[] peeked;
    try {
      peeked = BoundedBodies.peekDecoded(response, maxBodyBytes, logger);
    } catch (IOException e) {
      // The body broke off: the call failed here, nothing to bind. Said now, naming the chain,
      // rather than when the caller reads the body and meets the same failure without its name.
      logger.debug("Response body for {} unreadable: {}", turn.chain(), e.toString());
      response.close();
      throw turn.brokeOff(e);
    }
    turn.responseBody(peeked);
    return response;
  }


  /**
   * Builds an {@link AffinityInterceptor}. Not thread-safe.
   */
  public static final class Builder {
    private final Engine.Builder engine = Engine.builder();
    private long maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
    private byte @Nullable [] scopeSecret;
    private @Nullable Function<Request, @Nullable String> tenant;

    private Builder() {}

    /**
     * The key of the HMAC that fingerprints each request's credentials into its chains' scope
     * ({@link ChainScope}). Every process sharing a store or journal must use the same one. Default:
     * a fixed, public key (see {@link ChainScope.Builder#secret}).
     *
     * @throws IllegalArgumentException if shorter than 16 bytes
     */
    public Builder scopeSecret(byte[] secret) {
      ChainScope.builder().secret(secret); // checks it
      this.scopeSecret = secret.clone();
      return this;
    }

    /**
     * Names the tenant a request belongs to, in place of its credentials, as part of its chains'
     * scope: for one credential shared by several tenants, or credentials that rotate. Return null
     * to use the request's credentials. Called once per request; must not throw.
     */
    public Builder tenant(Function<Request, @Nullable String> tenant) {
      this.tenant = requireNonNull(tenant, "tenant");
      return this;
    }

    /**
     * The store for the chains' pins. Share one store between interceptors (and
     * {@link ConversationCookieJar}s) to share chains. Default: a new
     * {@link io.github.affinity4j.core.CaffeineAffinityStore} with its defaults.
     */
    public Builder store(AffinityStore store) {
      engine.store(store);
      return this;
    }

    /**
     * The affinity cookie names the gateway uses (APIM: the backend pool's
     * {@code sessionAffinity.sessionId.name}). Default {@code APIM-Backend-Affinity}.
     *
     * @throws IllegalArgumentException if none is given or one is not a cookie name
     */
    public Builder cookieNames(String... cookieNames) {
      engine.cookieNames(cookieNames);
      return this;
    }

    /** Receives affinity and repair events; default {@link AffinityListener#NONE}. */
    public Builder listener(AffinityListener listener) {
      engine.listener(listener);
      return this;
    }

    /**
     * The journal of every turn's input and output items, from which a broken chain is replayed.
     * Share one between interceptors (and processes) that continue the same chains. Default: a new
     * {@link io.github.affinity4j.core.CaffeineHistoryJournal} with its defaults.
     */
    public Builder journal(HistoryJournal journal) {
      engine.journal(journal);
      return this;
    }

    /** What to do when a chain breaks; default {@link RepairPolicy#RETRY_THEN_REPLAY}. */
    public Builder repairPolicy(RepairPolicy policy) {
      engine.repairPolicy(policy);
      return this;
    }

    /**
     * The pause before {@link RepairPolicy#RETRY_THEN_REPLAY}'s one retry on the same pin; default
     * 500 ms.
     */
    public Builder retryPause(Duration retryPause) {
      engine.retryPause(retryPause);
      return this;
    }

    /**
     * The statuses that, answered by the gateway itself (APIM's {@code {"statusCode":…}} shape, not
     * the model's error) to a pinned request, mean its backend is unavailable, so the chain is
     * repaired; default 500, 502, 504 (502, 503 and 504 count in any shape).
     *
     * @throws IllegalArgumentException if a status is not between 400 and 599
     */
    public Builder gatewayFailures(int... statuses) {
      engine.gatewayFailures(statuses);
      return this;
    }

    /** The clock for cookie expiry; for tests. Default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      engine.clock(clock);
      return this;
    }

    /**
     * The largest request or response body read to find chain ids; larger requests, and requests
     * whose body does not declare its length, pass through untouched with a WARN. Default
     * {@value AffinityInterceptor#DEFAULT_MAX_BODY_BYTES} bytes.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder maxBodyBytes(long maxBodyBytes) {
      if (maxBodyBytes <= 0 || maxBodyBytes > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException(
            "maxBodyBytes must be between 1 and " + (Integer.MAX_VALUE - 8) + ", was " + maxBodyBytes);
      }
      this.maxBodyBytes = maxBodyBytes;
      return this;
    }

    /** Builds the interceptor. */
    public AffinityInterceptor build() {
      return new AffinityInterceptor(this);
    }
  }
}
