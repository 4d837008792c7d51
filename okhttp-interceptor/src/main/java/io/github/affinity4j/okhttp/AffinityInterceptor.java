package io.github.affinity4j.okhttp;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainKeys;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainRegistry;
import io.github.affinity4j.core.ChainRepairer;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.ChainTurn;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.RepairDecision;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.SseCompletedScanner;
import io.github.affinity4j.core.SseResponseIdScanner;
import io.github.affinity4j.core.TurnOutput;
import io.github.affinity4j.okhttp.internal.AddedHeaders;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Function;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import okio.Okio;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

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
 * OkHttp replaces the {@code Cookie} header with the jar's cookies.
 *
 * <p>Thread-safe; one instance may serve many clients. Its chains live in its
 * {@link AffinityStore}, which may be shared with other interceptors and with a
 * {@link ConversationCookieJar}. While a request is handled, MDC key {@value #MDC_CHAIN} holds the
 * chain it continues. Only {@link IOException}s from the network leave this interceptor.
 */
public final class AffinityInterceptor implements Interceptor {
  /** MDC key set to the chain key (for example {@code response:resp_…}) while a request runs. */
  public static final String MDC_CHAIN = "affinity4j.chain";
  /** Default bound on request and response bodies read to find chain ids: 8 MiB. */
  public static final long DEFAULT_MAX_BODY_BYTES = 8L * 1024 * 1024;

  private static final Logger logger = LoggerFactory.getLogger(AffinityInterceptor.class);

  /** Error bodies are small; this much is enough to classify one. */
  private static final long MAX_ERROR_BODY_BYTES = 64 * 1024;

  private final ChainRegistry registry;
  private final ChainRepairer repairer;
  private final long maxBodyBytes;
  private final RequestScopes scopes;
  private final @Nullable Function<Request, @Nullable String> tenant;
  private volatile boolean warnedUnguardedRedirect;

  private AffinityInterceptor(Builder builder) {
    this.registry = builder.registry.build();
    this.repairer = builder.repairer.listener(builder.listener).clock(registry.clock()).build();
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
    return registry.stats();
  }

  /** A snapshot of this interceptor's repair counters. */
  public RepairStats repairStats() {
    return repairer.stats();
  }

  /** The store holding this interceptor's chains. */
  public AffinityStore store() {
    return registry.store();
  }

  /** The journal holding this interceptor's chain histories. */
  public HistoryJournal journal() {
    return repairer.journal();
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Request request = chain.request();
    HttpUrl url = request.url();
    String method = request.method();
    if (!ChainKeys.isAffected(method, url.encodedPath())) {
      return chain.proceed(request);
    }
    Exchange exchange;
    try {
      exchange = new Exchange(scopeOf(request), request);
      RequestBody body = request.body();
      boolean responses = ChainKeys.hasBodyKey(method, url.encodedPath());
      boolean createsConversation = "POST".equals(method) && url.encodedPath().endsWith("/conversations");
      if ((responses || createsConversation) && body != null) {
        byte[] bytes = readBounded(request, body);
        if (bytes == null) {
          return chain.proceed(request);
        }
        // Send the bytes already read rather than serialising the body a second time.
        request = request.newBuilder().method(method, RequestBody.create(bytes, body.contentType())).build();
        exchange.requestBody = bytes;
        if (responses) {
          exchange.turn = repairer.turn(bytes, null, exchange.scope);
          exchange.key = exchange.turn.chain().orElse(null);
        }
      } else {
        exchange.key = ChainKeys.fromPath(url.encodedPath()).map(key -> key.in(exchange.scope)).orElse(null);
        exchange.deletes = "DELETE".equals(method) && deletesChain(url.encodedPath(), exchange.key);
      }
      exchange.unpinned = request;
      exchange.sent = withPin(request, exchange);
    } catch (RuntimeException e) {
      logger.error("Affinity skipped for {} {}: unexpected failure", method, AffinityCookies.redacted(url), e);
      return chain.proceed(chain.request());
    }
    if (exchange.key == null) {
      return proceed(chain, exchange);
    }
    String outer = MDC.get(MDC_CHAIN);
    MDC.put(MDC_CHAIN, exchange.key.toString());
    try {
      return proceed(chain, exchange);
    } finally {
      if (outer == null) {
        MDC.remove(MDC_CHAIN);
      } else {
        MDC.put(MDC_CHAIN, outer);
      }
    }
  }

  /** What one call carries through its attempts. */
  private static final class Exchange {
    final ChainScope scope;
    @Nullable ChainKey key;
    boolean deletes;
    @Nullable ChainTurn turn;
    byte @Nullable [] requestBody;
    /** The request as sent without a pin, and as sent; both replaced before the first attempt. */
    Request unpinned;
    Request sent;
    @Nullable AffinityToken pin;

    Exchange(ChainScope scope, Request request) {
      this.scope = scope;
      this.unpinned = request;
      this.sent = request;
    }
  }

  /**
   * Sends the request, and repairs a broken chain at most once: a retry on the same pin, then a
   * replay of the journaled history without it, as the repairer decides. A break arrives as an
   * error before any byte of a stream, so nothing has reached the caller when a repair starts.
   */
  private Response proceed(Chain chain, Exchange exchange) throws IOException {
    Request attempt = exchange.sent;
    while (true) {
      Response response;
      try {
        response = chain.proceed(attempt);
      } catch (IOException e) {
        RepairDecision decision = decide(exchange, ChainTurn::decideConnectionFailure);
        switch (decision.action()) {
          case RETRY:
            pause(decision);
            attempt = exchange.sent;
            continue;
          case REPLAY:
            attempt = replay(exchange, decision);
            continue;
          case FAIL:
            throw new IOException(decision.message(), e);
          default:
            throw named(e, decision.note());
        }
      }
      if (exchange.pin != null) {
        checkRedirect(attempt, response);
      }
      AffinityToken fresh = freshCookie(response);
      if (response.isSuccessful() || exchange.turn == null) {
        return observe(response, exchange, fresh);
      }
      byte[] errorBody = BoundedBodies.peekDecoded(response, MAX_ERROR_BODY_BYTES, logger);
      // The gateway chose a backend anew when the error set another affinity cookie than the pin.
      boolean rerouted = fresh != null && (exchange.pin == null || !fresh.value().equals(exchange.pin.value()));
      RepairDecision decision =
          decide(exchange, turn -> turn.decide(response.code(), errorBody, rerouted));
      switch (decision.action()) {
        case RETRY:
          response.close();
          pause(decision);
          attempt = exchange.sent;
          continue;
        case REPLAY:
          response.close();
          attempt = replay(exchange, decision);
          continue;
        case FAIL:
          return amended(response, decision);
        default:
          return observe(amended(response, decision), exchange, fresh);
      }
    }
  }

  /** The affinity cookie a response set, read once per response; null if none or unusable. */
  private @Nullable AffinityToken freshCookie(Response response) {
    try {
      return AffinityCookies.fromResponse(registry, response.request().url(), response.headers());
    } catch (RuntimeException e) {
      logger.error("Affinity cookie of {} not read: unexpected failure",
          AffinityCookies.redacted(response.request().url()), e);
      return null;
    }
  }

  private static RepairDecision decide(Exchange exchange, Function<ChainTurn, RepairDecision> decision) {
    ChainTurn turn = exchange.turn;
    if (turn == null) {
      return RepairDecision.NONE;
    }
    try {
      return decision.apply(turn);
    } catch (RuntimeException e) {
      logger.error("Repair skipped for {}: unexpected failure", chainName(exchange.key), e);
      return RepairDecision.NONE;
    }
  }

  private static void pause(RepairDecision decision) throws IOException {
    try {
      Thread.sleep(decision.pause().toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while pausing before the retry of a broken chain");
    }
  }

  /** The replay request: the replay body, and the caller's cookies without any affinity cookie. */
  private Request replay(Exchange exchange, RepairDecision decision) {
    Request unpinned = exchange.unpinned;
    Request.Builder replay = unpinned.newBuilder()
        .method(unpinned.method(), RequestBody.create(decision.replayBody(), unpinned.body().contentType()));
    String cookies = AffinityCookies.withoutAffinityCookies(registry,
        AffinityCookies.cookieHeader(unpinned.headers()));
    AffinityCookies.setCookieHeader(replay, cookies);
    return replay.build();
  }

  /**
   * The error response with the repairer's amended body, if it made one: the original error, and
   * which chain it failed and why.
   */
  private static Response amended(Response response, RepairDecision decision) {
    Optional<byte[]> amended = decision.errorBody();
    if (amended.isEmpty()) {
      return response;
    }
    byte[] body = BoundedBodies.encodedLike(response, amended.get());
    MediaType type = response.body() == null ? null : response.body().contentType();
    response.close();
    Response.Builder builder = response.newBuilder().body(ResponseBody.create(body, type));
    if (response.header("Content-Length") != null) {
      builder.header("Content-Length", Integer.toString(body.length));
    }
    return builder.build();
  }

  /** {@code failure} with the chain's note on it, if the turn continued a chain. */
  private static IOException named(IOException failure, Optional<ChainNote> note) {
    note.ifPresent(n -> n.attachTo(failure));
    return failure;
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

  private Request withPin(Request request, Exchange exchange) {
    ChainKey key = exchange.key;
    if (key == null) {
      return request;
    }
    String cookies = AffinityCookies.cookieHeader(request.headers());
    if (AffinityCookies.carriesAffinityCookie(registry, cookies)) {
      logger.debug("Request for {} already carries an affinity cookie; left as the caller set it", key);
      return request;
    }
    HttpUrl url = request.url();
    Optional<AffinityToken> pin = registry.pinFor(key, url.scheme(), url.host(), url.encodedPath());
    if (pin.isEmpty()) {
      return request;
    }
    exchange.pin = pin.get();
    if (exchange.turn != null) {
      exchange.turn.pinSent(pin.get());
    }
    Request pinned = request.newBuilder()
        .header("Cookie", AffinityCookies.merge(cookies, pin.get().cookiePair()))
        .build();
    return AddedHeaders.cookie(pinned, pin.get().cookiePair());
  }

  /**
   * Returns whom the chains of {@code request} belong to: its origin and base path, and its
   * credentials or the {@link Builder#tenant tenant} the application names. Pins and turns are
   * kept in the store and journal under keys {@link ChainKey#in in} this scope.
   */
  public ChainScope scopeOf(Request request) {
    return scopes.of(request, tenant == null ? null : tenant.apply(request));
  }

  /** Whether a DELETE of this path deletes the chain itself, not an item in it. */
  private static boolean deletesChain(String encodedPath, @Nullable ChainKey key) {
    return key != null && key.kind() != ChainKey.Kind.THREAD && encodedPath.endsWith("/" + key.id());
  }

  /**
   * Says once, at WARN, that a request with a pin followed a redirect without the guard: the pin
   * and added headers may have reached the redirect's target.
   */
  private void checkRedirect(Request sent, Response response) {
    if (response.priorResponse() != null && !warnedUnguardedRedirect
        && AddedHeaders.leftOriginUnguarded(sent, response)) {
      warnedUnguardedRedirect = true;
      logger.warn("A request carrying an affinity pin to {} followed a redirect without"
          + " AffinityInterceptor.redirectGuard() installed as a network interceptor; the pin may have"
          + " reached another origin. Install the guard, or turn redirects off; see docs/security.md",
          AffinityCookies.redacted(sent.url()));
    }
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

  private Response observe(Response response, Exchange exchange, @Nullable AffinityToken fresh)
      throws IOException {
    try {
      return bindAndRecord(response, exchange, fresh);
    } catch (RuntimeException e) {
      logger.error("Affinity not recorded for {}: unexpected failure", chainName(exchange.key), e);
      return response;
    }
  }

  private Response bindAndRecord(Response response, Exchange exchange, @Nullable AffinityToken fresh)
      throws IOException {
    ChainKey requestKey = exchange.key;
    if (!response.isSuccessful()) {
      if (fresh != null) {
        logger.debug("HTTP {} for {} set an affinity cookie; not bound, an error names no chain",
            response.code(), chainName(requestKey));
      }
      return response;
    }
    if (exchange.deletes && requestKey != null) { // a DELETE of a chain has its key
      // The API deleted the chain: its pin and history go too, so continuing it fails as the API does.
      registry.forget(requestKey);
      repairer.forget(requestKey);
      return response;
    }
    ChainTurn turn = exchange.turn;
    if (turn != null) {
      turn.succeeded(fresh, () -> RoutingInfo.from(response::header));
    }
    // After a replay the chain lives where the replay went: the stale pin must not be inherited.
    ChainKey previous = turn != null && turn.isReplay() && requestKey != null
        && requestKey.kind() == ChainKey.Kind.RESPONSE ? null : requestKey;
    ResponseBody body = response.body();
    if (body == null) {
      registry.bind(null, previous, fresh);
      return response;
    }
    if (BoundedBodies.isEventStream(response) && BoundedBodies.isIdentityEncoded(response)) {
      SseTee tee = new SseTee(body.source(), exchange.scope, previous, fresh, turn);
      ResponseBody teed = ResponseBody.create(Okio.buffer(tee), body.contentType(), body.contentLength());
      return response.newBuilder().body(teed).build();
    }
    byte[] peeked;
    try {
      peeked = BoundedBodies.peekDecoded(response, maxBodyBytes, logger);
    } catch (IOException e) {
      // The body broke off: the call failed here, nothing to bind. Said now, naming the chain,
      // rather than when the caller reads the body and meets the same failure without its name.
      logger.debug("Response body for {} unreadable: {}", chainName(requestKey), e.toString());
      response.close();
      throw named(e, turn == null ? Optional.empty() : turn.brokeOff());
    }
    ChainKey created;
    if (turn != null && repairer.journals()) {
      Optional<TurnOutput> output = TurnOutput.fromResponseBody(peeked, 0, peeked.length);
      output.ifPresent(turn::record);
      created = output.flatMap(o -> ChainKey.parse(ChainKey.Kind.RESPONSE, o.responseId()))
          .map(key -> key.in(exchange.scope)).orElse(null);
    } else {
      created = ChainKeys.fromResponseBody(peeked, 0, peeked.length).map(key -> key.in(exchange.scope))
          .orElse(null);
      if (turn == null && exchange.requestBody != null) { // a POST …/conversations
        repairer.recordConversation(exchange.requestBody, peeked, exchange.scope);
      }
    }
    registry.bind(created, previous, fresh);
    return response;
  }

  /** The chain a request continued, for log lines; a request that starts one has no key. */
  private static String chainName(@Nullable ChainKey key) {
    return key == null ? "a new chain" : key.toString();
  }


  /**
   * Passes a stream through unchanged, binds its id when {@code response.created} goes by, and
   * journals its output when {@code response.completed} does. Holds one event at most, never the
   * stream.
   */
  private final class SseTee extends okio.ForwardingSource {
    private final ChainScope scope;
    private final @Nullable ChainKey previous;
    private final @Nullable AffinityToken fresh;
    private final @Nullable ChainTurn turn;
    private final SseResponseIdScanner ids = new SseResponseIdScanner();
    private final @Nullable SseCompletedScanner completed;
    private final Buffer copy = new Buffer();
    private boolean finished;

    SseTee(BufferedSource delegate, ChainScope scope, @Nullable ChainKey previous,
        @Nullable AffinityToken fresh, @Nullable ChainTurn turn) {
      super(delegate);
      this.scope = scope;
      this.previous = previous;
      this.fresh = fresh;
      this.turn = turn;
      this.completed = turn == null || !repairer.journals() ? null : new SseCompletedScanner();
    }

    @Override
    public long read(Buffer sink, long byteCount) throws IOException {
      long read;
      try {
        read = super.read(sink, byteCount);
      } catch (IOException e) {
        throw named(e, turn == null ? Optional.empty() : turn.brokeOff());
      }
      if (finished) {
        return read;
      }
      if (read == -1) {
        finished = true;
        if (!ids.isDone()) {
          logger.debug("Stream for {} ended before response.created; nothing bound", chainName(previous));
        } else if (completed != null && !completed.isDone()) {
          logger.debug("Stream for {} ended before response.completed; turn not journaled",
              chainName(previous));
        }
        return read;
      }
      try {
        sink.copyTo(copy, sink.size() - read, read);
        byte[] chunk = copy.readByteArray();
        if (!ids.isDone()) {
          Optional<ChainKey> created = ids.feed(chunk, 0, chunk.length);
          if (created.isPresent()) {
            registry.bind(created.get().in(scope), previous, fresh);
          } else if (ids.isDone()) {
            logger.debug("Stream for {} did not start with response.created; nothing bound",
                chainName(previous));
          }
        }
        if (completed != null && turn != null && !completed.isDone()) { // completed is made for a turn only
          completed.feed(chunk, 0, chunk.length).ifPresent(turn::record);
        }
        finished = ids.isDone() && (completed == null || completed.isDone());
      } catch (RuntimeException e) {
        finished = true;
        logger.error("Affinity not recorded for stream of {}: unexpected failure", chainName(previous), e);
      }
      return read;
    }
  }

  /**
   * Builds an {@link AffinityInterceptor}. Not thread-safe.
   */
  public static final class Builder {
    private final ChainRegistry.Builder registry = ChainRegistry.builder();
    private final ChainRepairer.Builder repairer = ChainRepairer.builder();
    private AffinityListener listener = AffinityListener.NONE;
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
      registry.store(store);
      return this;
    }

    /**
     * The affinity cookie names the gateway uses (APIM: the backend pool's
     * {@code sessionAffinity.sessionId.name}). Default {@code APIM-Backend-Affinity}.
     *
     * @throws IllegalArgumentException if none is given or one is not a cookie name
     */
    public Builder cookieNames(String... cookieNames) {
      registry.cookieNames(cookieNames);
      return this;
    }

    /** Receives affinity and repair events; default {@link AffinityListener#NONE}. */
    public Builder listener(AffinityListener listener) {
      registry.listener(listener);
      this.listener = listener;
      return this;
    }

    /**
     * The journal of every turn's input and output items, from which a broken chain is replayed.
     * Share one between interceptors (and processes) that continue the same chains. Default: a new
     * {@link io.github.affinity4j.core.CaffeineHistoryJournal} with its defaults.
     */
    public Builder journal(HistoryJournal journal) {
      repairer.journal(journal);
      return this;
    }

    /** What to do when a chain breaks; default {@link RepairPolicy#RETRY_THEN_REPLAY}. */
    public Builder repairPolicy(RepairPolicy policy) {
      repairer.policy(policy);
      return this;
    }

    /**
     * The pause before {@link RepairPolicy#RETRY_THEN_REPLAY}'s one retry on the same pin; default
     * {@link ChainRepairer#DEFAULT_RETRY_PAUSE}.
     */
    public Builder retryPause(Duration retryPause) {
      repairer.retryPause(retryPause);
      return this;
    }

    /** The clock for cookie expiry; for tests. Default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      registry.clock(clock);
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
