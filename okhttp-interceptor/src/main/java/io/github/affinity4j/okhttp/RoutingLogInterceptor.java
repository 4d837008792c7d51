package io.github.affinity4j.okhttp;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Interner;
import com.github.benmanes.caffeine.cache.Ticker;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainKeys;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.SseResponseIdScanner;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import okhttp3.Headers;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import okio.ForwardingSource;
import okio.Okio;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * An OkHttp interceptor that logs one line per exchange with the routing facts a gateway reports:
 * which region served it, the request ids to quote to support, the rate-limit headroom, the
 * affinity cookie sent and set (as fingerprints), and whether the backend changed within a
 * Responses API chain. It needs only OkHttp and SLF4J; use it on any client.
 *
 * <pre>{@code
 * OkHttpClient http = new OkHttpClient.Builder()
 *     .addInterceptor(AffinityInterceptor.builder().build())  // optional; add it first
 *     .addInterceptor(new RoutingLogInterceptor())            // BASIC, SLF4J at INFO
 *     .build();
 *
 * RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
 *     .level(RoutingLogInterceptor.Level.HEADERS)
 *     .logLevel(org.slf4j.event.Level.DEBUG)
 *     .cookieNames("APIM-Backend-Affinity", "SessionId")
 *     .build();
 * routing.redactHeader("x-my-token");                         // at run time too
 * }</pre>
 *
 * <p>A line (see {@link Level} for examples) holds: method, path without the query, status,
 * latency until the response headers, {@code region} ({@code x-ms-region}, else
 * {@code x-backend-region}), {@code x-request-id}, {@code apim-request-id},
 * {@code remaining-requests} and {@code remaining-tokens} ({@code x-ratelimit-remaining-*}),
 * {@code retry-after} (from {@code retry-after-ms}, {@code x-ms-retry-after-ms} or
 * {@code retry-after}, as {@link RoutingInfo} reads them), {@code cookie-sent} and
 * {@code cookie-set} (the affinity cookie as {@code name:fingerprint}, the 8 hex digits of
 * {@link AffinityToken#fingerprint()}), {@code chain} (the chain the request continues),
 * {@code created} (the chain key a JSON answer creates; a stream's is read later, as it passes)
 * and, when the backend differs from the previous exchange of the same chain, the marker
 * {@code BACKEND CHANGED} with the previous region and cookie. Fields that are absent are left
 * out; values with spaces are quoted; control characters become {@code ?}.
 *
 * <p><b>Backend changes.</b> The backend of an exchange is its region and its affinity cookie (the
 * one set, else the one sent). The interceptor remembers the last backend per chain (keyed by
 * {@code previous_response_id} or {@code conversation} in the request body, or the id in a
 * {@code …/responses/{id}}-style path) and per response id it sees created (from a JSON answer,
 * or from the {@code response.created} event of a stream, which is teed, never buffered), in a
 * Caffeine cache bounded in entries ({@link Builder#maximumChains(long)}) and in what each holds: a
 * region of at most {@value RoutingInfo#MAX_REGION_LENGTH} characters (a longer one is dropped, see
 * {@link RoutingInfo}) and a cookie label, the configured name and a fingerprint, never the value;
 * chains served by one backend share one entry value. An exchange is marked when its region or
 * cookie differs from the remembered one, or when it sent one affinity cookie and was given
 * another. Backends in one region without affinity cookies look alike.
 *
 * <p><b>Where to install.</b> As an application interceptor after {@link AffinityInterceptor}, it
 * sees the pin that interceptor adds and logs every SDK retry; as a network interceptor
 * ({@code addNetworkInterceptor}) it sees the headers as sent, including a {@code CookieJar}'s,
 * and the bodies as sent: it decodes a gzip answer to find its id, and does not read a compressed
 * stream or another encoding.
 *
 * <p><b>Secrets.</b> Request and response bodies are never logged. With {@link Level#HEADERS},
 * {@code Authorization}, {@code Proxy-Authorization}, {@code api-key}, {@code x-api-key},
 * {@code Ocp-Apim-Subscription-Key} and any {@link #redactHeader(String)} show as
 * {@value #REDACTED}; {@code Cookie} and {@code Set-Cookie} show each cookie as
 * {@code name:fingerprint} (attributes kept), never a value.
 *
 * <p><b>MDC.</b> While a line is logged, MDC key {@value #MDC_CHAIN} holds the chain and
 * {@value #MDC_REGION} the region, when known; earlier values are restored afterwards.
 *
 * <p><b>Cost.</b> At {@link Level#NONE}, or when the default SLF4J logger is disabled at the
 * chosen level, a request passes straight through: no body is read, nothing is parsed. Otherwise
 * a JSON {@code POST …/responses} request body is copied once (and sent from that copy), and a
 * successful JSON answer's first 64 KiB are peeked for its id.
 *
 * <p><b>Bodies are sent whole.</b> A request body is read only when it declares its length, at
 * most {@link Builder#maxBodyBytes(long)}, and is neither one-shot nor duplex; any other body
 * (a stream of unknown length above all) is sent untouched and its exchange logged without a
 * chain. A read body is sent as it wrote itself; one that writes more than the limit although it
 * declared less fails the call with a {@link java.net.ProtocolException} before anything is
 * sent. Response bodies are only peeked: the caller reads them as the server sent them.
 *
 * <p>Thread-safe; one instance may serve many clients. {@link #level(Level)} and
 * {@link #redactHeader(String)} take effect for the next exchange. Only the {@link IOException}s
 * of the call itself leave this interceptor: bad headers and bodies are ignored, and a failure of
 * its own is logged at ERROR and the response passed on.
 */
public final class RoutingLogInterceptor implements Interceptor {

  /** MDC key for the chain an exchange continues, e.g. {@code response:resp_…}; as {@link AffinityInterceptor#MDC_CHAIN}. */
  public static final String MDC_CHAIN = AffinityInterceptor.MDC_CHAIN;
  /** MDC key for the region that served an exchange. */
  public static final String MDC_REGION = "affinity4j.region";
  /** What a redacted header value shows. */
  public static final String REDACTED = "██";
  /** Default bound on a request body read to find its chain: 8 MiB, as {@link AffinityInterceptor}. */
  public static final long DEFAULT_MAX_BODY_BYTES = AffinityInterceptor.DEFAULT_MAX_BODY_BYTES;
  /** Default bound on the chains and response ids remembered: 100 000. */
  public static final long DEFAULT_MAXIMUM_CHAINS = 100_000;
  /** Default time a chain is remembered after its last exchange: 1 hour. */
  public static final Duration DEFAULT_EXPIRE_AFTER_ACCESS = Duration.ofHours(1);

  private static final org.slf4j.Logger logger = LoggerFactory.getLogger(RoutingLogInterceptor.class);

  private static final String DEFAULT_COOKIE_NAME = "APIM-Backend-Affinity";
  private static final List<String> DEFAULT_REDACTED_HEADERS = List.of(
      "Authorization", "Proxy-Authorization", "api-key", "x-api-key", "Ocp-Apim-Subscription-Key");
  // A Responses API object starts with "id" and "object"; 64 KiB is ample and bounds the peek.
  private static final long RESPONSE_PEEK_BYTES = 64 * 1024;
  private static final int MAX_FIELD_CHARS = 200;
  // Weak, as AffinityToken's interner: a pool has a few backends, shared by every chain remembered,
  // and one no chain uses any more can be collected.
  private static final Interner<Backend> BACKENDS = Interner.newWeakInterner();

  /** How much each exchange logs. */
  public enum Level {
    /** Nothing; the interceptor costs a volatile read per request. */
    NONE,
    /**
     * One line per exchange, for example (wrapped here):
     *
     * <pre>{@code
     * POST /openai/v1/responses 200 412ms region="West US" x-request-id=0f6d2c1e-… apim-request-id=7c1e…
     *     remaining-requests=998 remaining-tokens=998731 cookie-set=APIM-Backend-Affinity:1a2b3c4d
     *     created=response:resp_67ab…
     * POST /openai/v1/responses 200 388ms region="East US" x-request-id=… apim-request-id=…
     *     remaining-requests=997 remaining-tokens=998120 cookie-sent=APIM-Backend-Affinity:1a2b3c4d
     *     cookie-set=APIM-Backend-Affinity:9f8e7d6c chain=response:resp_67ab… created=response:resp_68cd…
     *     BACKEND CHANGED (was region="West US" cookie=APIM-Backend-Affinity:1a2b3c4d)
     * POST /openai/v1/responses 429 35ms region="West US" … retry-after=2000ms chain=response:resp_68cd…
     * POST /openai/v1/responses failed after 10003ms: SocketTimeoutException chain=response:resp_68cd…
     * }</pre>
     */
    BASIC,
    /**
     * The {@link #BASIC} line, then in the same log event (so concurrent exchanges do not
     * interleave) the request headers as this interceptor passes them on ({@code >}) and the
     * response headers ({@code <}), at the same SLF4J level, redacted:
     *
     * <pre>{@code
     * POST /openai/v1/responses 200 412ms region="West US" … chain=response:resp_67ab…
     * > Authorization: ██
     * > Ocp-Apim-Subscription-Key: ██
     * > Cookie: theme:5d41402a; APIM-Backend-Affinity:1a2b3c4d
     * < content-type: application/json
     * < x-ms-region: West US
     * < Set-Cookie: APIM-Backend-Affinity:9f8e7d6c; Path=/; HttpOnly
     * }</pre>
     */
    HEADERS
  }

  /**
   * Where lines go. The default writes to the SLF4J logger named after this class, at
   * {@link Builder#logLevel(org.slf4j.event.Level)}; a custom one receives every line, for example
   * a list in a test: {@code RoutingLogInterceptor.builder().logger(lines::add).build()}.
   * Called on the thread that runs the exchange, concurrently for concurrent exchanges; an
   * exception it throws is logged at WARN and the line dropped.
   */
  @FunctionalInterface
  public interface Logger {
    /** Logs one exchange; the message may span lines at {@link Level#HEADERS}. */
    void log(String message);
  }

  private final Logger sink;
  private final org.slf4j.event.@Nullable Level logLevel; // null with a custom sink
  private final Set<String> cookieNames;
  private final long maxBodyBytes;
  private final Ticker ticker;
  private final Cache<ChainKey, Backend> chains;
  private final RequestScopes scopes = new RequestScopes(null);

  private volatile Level level;
  private volatile Set<String> redactedHeaders;

  /** An interceptor with the defaults: {@link Level#BASIC}, SLF4J at INFO, cookie {@code APIM-Backend-Affinity}. */
  public RoutingLogInterceptor() {
    this(new Builder());
  }

  private RoutingLogInterceptor(Builder builder) {
    this.logLevel = builder.logger == null ? builder.logLevel : null;
    this.sink = builder.logger != null ? builder.logger : slf4jSink(builder.logLevel);
    this.cookieNames = Set.copyOf(builder.cookieNames);
    this.maxBodyBytes = builder.maxBodyBytes;
    this.ticker = builder.ticker;
    this.chains = Caffeine.newBuilder()
        .maximumSize(builder.maximumChains)
        .expireAfterAccess(builder.expireAfterAccess)
        .ticker(builder.ticker)
        .build();
    this.level = builder.level;
    this.redactedHeaders = builder.redactedHeaders();
  }

  /** A builder with the defaults of {@link #RoutingLogInterceptor()}. */
  public static Builder builder() {
    return new Builder();
  }

  /** Changes how much is logged, from the next exchange on. */
  public RoutingLogInterceptor level(Level level) {
    this.level = requireNonNull(level, "level; use Level.NONE to log nothing");
    return this;
  }

  /** How much is logged. */
  public Level level() {
    return level;
  }

  /**
   * Shows header {@code name} (any case) as {@value #REDACTED} at {@link Level#HEADERS}, from the
   * next exchange on.
   */
  public synchronized RoutingLogInterceptor redactHeader(String name) {
    // Copy on write: exchanges read the set without locking; the lock only keeps two writers
    // from losing each other's header.
    requireNonNull(name, "name");
    Set<String> copy = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    copy.addAll(redactedHeaders);
    copy.add(name);
    redactedHeaders = Collections.unmodifiableSet(copy);
    return this;
  }

  /** Shows the settings; nothing here is secret. */
  @Override
  public String toString() {
    return "RoutingLogInterceptor[level=" + level
        + ", logLevel=" + (logLevel == null ? "custom logger" : logLevel)
        + ", cookieNames=" + new TreeSet<>(cookieNames)
        + ", redactedHeaders=" + redactedHeaders
        + ", chainsTracked=" + chains.estimatedSize()
        + ']';
  }

  /** Every string the chain cache holds now (regions and cookie labels); for tests. */
  List<String> rememberedStrings() {
    List<String> strings = new ArrayList<>();
    for (Backend backend : chains.asMap().values()) {
      if (backend.region != null) {
        strings.add(backend.region);
      }
      if (backend.cookie != null) {
        strings.add(backend.cookie);
      }
    }
    return strings;
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Level level = this.level;
    if (level == Level.NONE || (logLevel != null && !logger.isEnabledForLevel(logLevel))) {
      return chain.proceed(chain.request());
    }
    Request request = chain.request();
    Request sent = request;
    ChainKey key = null;
    try {
      String path = request.url().encodedPath();
      if (ChainKeys.hasBodyKey(request.method(), path)) {
        RequestBody body = request.body();
        // Read only as BoundedBodies allows, so the body is sent whole; a body that fails to
        // write fails the call here, as it would when sent.
        String unreadable = body == null ? null : BoundedBodies.unreadable(body, maxBodyBytes);
        byte[] bytes = body == null || unreadable != null ? null : BoundedBodies.read(body, maxBodyBytes);
        if (bytes != null) {
          // Send the bytes already read: the body may not write the same twice.
          sent = request.newBuilder()
              .method(request.method(), RequestBody.create(bytes, body.contentType()))
              .build();
          key = ChainKeys.fromRequestBody(bytes, 0, bytes.length).map(k -> k.in(scopeOf(request))).orElse(null);
        } else if (body != null) {
          logger.debug("Request body of {} {} not read: it {}; chain unknown",
              request.method(), path, unreadable);
        }
      } else if (ChainKeys.isAffected(request.method(), path)) {
        key = ChainKeys.fromPath(path).map(k -> k.in(scopeOf(request))).orElse(null);
      }
    } catch (RuntimeException e) {
      // The routing log does without a chain; what is sent is the body whole, read or not.
      logger.debug("Request body of {} {} not parsed ({}); chain unknown",
          request.method(), request.url().encodedPath(), e.getClass().getSimpleName());
      key = null;
    }

    long start = ticker.read();
    Response response;
    try {
      response = chain.proceed(sent);
    } catch (IOException e) {
      long took = ticker.read() - start;
      try {
        logFailure(level, sent, key, took, e);
      } catch (RuntimeException bug) {
        logger.error("Routing log skipped for {} {}: unexpected failure",
            sent.method(), sent.url().encodedPath(), bug);
      }
      throw e;
    }
    long took = ticker.read() - start;
    try {
      return observe(level, sent, response, key, took);
    } catch (RuntimeException e) {
      logger.error("Routing log skipped for {} {}: unexpected failure",
          sent.method(), sent.url().encodedPath(), e);
      return response;
    }
  }

  private Response observe(Level level, Request sent, Response response, @Nullable ChainKey key, long took) {
    RoutingInfo routing = RoutingInfo.from(response::header);
    String cookieSent = affinityCookieSent(sent.headers());
    String cookieSet = affinityCookieSet(response.headers());
    Backend current = Backend.of(routing.region(), cookieSet != null ? cookieSet : cookieSent);
    Backend previous = key == null ? null : chains.getIfPresent(key);
    // Moved: unlike the chain's last exchange, or given another cookie than the one sent.
    Backend before = null;
    if ((previous != null && previous.differsFrom(current))
        || (cookieSent != null && cookieSet != null && !cookieSent.equals(cookieSet))) {
      before = new Backend(previous == null ? null : previous.region,
          previous != null && previous.cookie != null ? previous.cookie : cookieSent);
    }
    if (key != null && current != null) {
      chains.put(key, current);
    }

    ChainKey created = null;
    Response result = response;
    ResponseBody body = response.body();
    if (current != null && body != null && response.isSuccessful()
        && ChainKeys.isAffected(sent.method(), sent.url().encodedPath())) {
      if (BoundedBodies.isEventStream(response)) {
        // A compressed stream is passed on unread: its id would need a decoder beside the caller's.
        if (BoundedBodies.isIdentityEncoded(response)) {
          SseTee tee = new SseTee(body.source(), scopeOf(sent), current);
          result = response.newBuilder()
              .body(ResponseBody.create(Okio.buffer(tee), body.contentType(), body.contentLength()))
              .build();
        }
      } else {
        created = createdKey(response);
        if (created != null) {
          created = created.in(scopeOf(sent));
          chains.put(created, current);
        }
      }
    }

    StringBuilder line = new StringBuilder(256)
        .append(sent.method()).append(' ').append(clean(sent.url().encodedPath(), 1000))
        .append(' ').append(response.code())
        .append(' ').append(TimeUnit.NANOSECONDS.toMillis(took)).append("ms");
    field(line, "region", routing.region());
    field(line, "x-request-id", routing.requestId());
    field(line, "apim-request-id", routing.apimRequestId());
    field(line, "remaining-requests", routing.remainingRequests());
    field(line, "remaining-tokens", routing.remainingTokens());
    field(line, "retry-after", routing.retryAfter() == null ? null : routing.retryAfter().toMillis() + "ms");
    field(line, "cookie-sent", cookieSent);
    field(line, "cookie-set", cookieSet);
    field(line, "chain", key);
    field(line, "created", created);
    if (before != null) {
      line.append(" BACKEND CHANGED (was");
      if (before.region != null) {
        field(line, "region", before.region);
      }
      if (before.cookie != null) {
        field(line, "cookie", before.cookie);
      }
      line.append(')');
    }
    if (level == Level.HEADERS) {
      Set<String> redacted = redactedHeaders;
      appendHeaders(line, "> ", sent.headers(), redacted);
      appendHeaders(line, "< ", response.headers(), redacted);
    }
    emit(line.toString(), key, routing.region());
    return result;
  }

  private void logFailure(Level level, Request sent, @Nullable ChainKey key, long took, IOException e) {
    StringBuilder line = new StringBuilder(128)
        .append(sent.method()).append(' ').append(clean(sent.url().encodedPath(), 1000))
        .append(" failed after ").append(TimeUnit.NANOSECONDS.toMillis(took)).append("ms: ")
        // Only the type: messages may quote URLs with their query.
        .append(e.getClass().getSimpleName());
    field(line, "cookie-sent", affinityCookieSent(sent.headers()));
    field(line, "chain", key);
    if (level == Level.HEADERS) {
      appendHeaders(line, "> ", sent.headers(), redactedHeaders);
    }
    emit(line.toString(), key, null);
  }

  /**
   * The chain key a successful JSON answer creates, from a bounded peek, gzip decoded; null if
   * none, or if the body is in another encoding.
   */
  private static @Nullable ChainKey createdKey(Response response) {
    try {
      byte[] peeked = BoundedBodies.peekDecoded(response, RESPONSE_PEEK_BYTES, null);
      return ChainKeys.fromResponseBody(peeked, 0, peeked.length).orElse(null);
    } catch (IOException e) {
      // The caller reads the body next and meets the same failure.
      logger.debug("Response body unreadable ({}); no response id", e.getClass().getSimpleName());
      return null;
    }
  }

  private void emit(String message, @Nullable ChainKey key, @Nullable String region) {
    String previousChain = MDC.get(MDC_CHAIN);
    String previousRegion = MDC.get(MDC_REGION);
    try {
      if (key != null) {
        MDC.put(MDC_CHAIN, key.toString());
      }
      if (region != null) {
        MDC.put(MDC_REGION, clean(region, MAX_FIELD_CHARS));
      }
      sink.log(message);
    } catch (RuntimeException e) {
      logger.warn("The routing log's Logger threw {}; line dropped", e.getClass().getName());
    } finally {
      restore(MDC_CHAIN, previousChain);
      restore(MDC_REGION, previousRegion);
    }
  }

  private static void restore(String key, @Nullable String value) {
    if (value == null) {
      MDC.remove(key);
    } else {
      MDC.put(key, value);
    }
  }

  // --- cookies ---

  /** The first affinity cookie in the request's Cookie headers, as {@code name:fingerprint}. */
  private @Nullable String affinityCookieSent(Headers headers) {
    for (String header : headers.values("Cookie")) {
      for (String pair : header.split(";")) {
        int eq = pair.indexOf('=');
        if (eq > 0 && cookieNames.contains(pair.substring(0, eq).trim())) {
          return cookieLabel(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
        }
      }
    }
    return null;
  }

  /** The first affinity cookie the response sets, as {@code name:fingerprint}. */
  private @Nullable String affinityCookieSet(Headers headers) {
    for (String header : headers.values("Set-Cookie")) {
      int end = header.indexOf(';');
      String pair = end < 0 ? header : header.substring(0, end);
      int eq = pair.indexOf('=');
      if (eq > 0 && cookieNames.contains(pair.substring(0, eq).trim())) {
        return cookieLabel(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
      }
    }
    return null;
  }

  /**
   * {@code name:fingerprint}, the fingerprint as {@link AffinityToken#fingerprint()} computes it, so
   * lines match {@link AffinityInterceptor}'s.
   */
  private static String cookieLabel(String name, String value) {
    return clean(name, MAX_FIELD_CHARS) + ':' + AffinityToken.fingerprintOf(value);
  }

  // --- formatting ---

  private static void appendHeaders(StringBuilder line, String prefix, Headers headers,
      Set<String> redacted) {
    for (int i = 0; i < headers.size(); i++) {
      String name = headers.name(i);
      line.append('\n').append(prefix).append(clean(name, MAX_FIELD_CHARS)).append(": ")
          .append(headerValue(name, headers.value(i), redacted));
    }
  }

  private static String headerValue(String name, String value, Set<String> redacted) {
    if ("Cookie".equalsIgnoreCase(name)) {
      StringBuilder out = new StringBuilder();
      for (String pair : value.split(";")) {
        if (pair.isBlank()) {
          continue;
        }
        out.append(out.length() == 0 ? "" : "; ").append(pairLabel(pair.trim()));
      }
      return out.toString();
    }
    if ("Set-Cookie".equalsIgnoreCase(name)) {
      int end = value.indexOf(';');
      String pair = end < 0 ? value : value.substring(0, end);
      // The attributes (Path, Domain, Expires, HttpOnly…) are not secret; the value is.
      return pairLabel(pair.trim()) + (end < 0 ? "" : clean(value.substring(end), 1000));
    }
    if (redacted.contains(name)) {
      return REDACTED;
    }
    return clean(value, 4000);
  }

  private static String pairLabel(String pair) {
    int eq = pair.indexOf('=');
    return eq <= 0 ? REDACTED : cookieLabel(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
  }

  private static void field(StringBuilder line, String name, @Nullable Object value) {
    if (value == null) {
      return;
    }
    String text = clean(value.toString(), MAX_FIELD_CHARS);
    line.append(' ').append(name).append('=');
    if (text.isEmpty() || text.indexOf(' ') >= 0 || text.indexOf('"') >= 0 || text.indexOf('=') >= 0) {
      line.append('"').append(text.replace("\"", "\\\"")).append('"');
    } else {
      line.append(text);
    }
  }

  /** Control characters become {@code ?}, so a header cannot forge log lines; long text is cut. */
  private static String clean(String text, int max) {
    StringBuilder out = null;
    int length = Math.min(text.length(), max);
    for (int i = 0; i < length; i++) {
      char c = text.charAt(i);
      if (c < 0x20 || c == 0x7F) {
        if (out == null) {
          out = new StringBuilder(text.substring(0, i));
        }
        out.append('?');
      } else if (out != null) {
        out.append(c);
      }
    }
    String result = out != null ? out.toString() : text.substring(0, length);
    return text.length() > max ? result + "…" : result;
  }

  private static Logger slf4jSink(org.slf4j.event.Level level) {
    return switch (level) {
      case ERROR -> message -> logger.error("{}", message);
      case WARN -> message -> logger.warn("{}", message);
      case INFO -> message -> logger.info("{}", message);
      case DEBUG -> message -> logger.debug("{}", message);
      case TRACE -> message -> logger.trace("{}", message);
    };
  }

  /**
   * Where an exchange was served: its region and affinity cookie label, either may be null. Both
   * are bounded whatever the gateway sends: the region by {@link RoutingInfo#MAX_REGION_LENGTH},
   * the label ({@code name:fingerprint}) by a configured cookie name and 9 more characters.
   */
  private record Backend(@Nullable String region, @Nullable String cookie) {
    static @Nullable Backend of(@Nullable String region, @Nullable String cookie) {
      return region == null && cookie == null ? null : BACKENDS.intern(new Backend(region, cookie));
    }

    boolean differsFrom(@Nullable Backend other) {
      return other != null
          && ((region != null && other.region != null && !region.equals(other.region))
              || (cookie != null && other.cookie != null && !cookie.equals(other.cookie)));
    }
  }

  /**
   * The scope a chain's exchanges are remembered in, so that a host reusing another's response id
   * cannot make the log report a move that did not happen.
   */
  private ChainScope scopeOf(Request request) {
    return scopes.of(request, null);
  }

  /** Passes a stream through unchanged and remembers its response id as {@code response.created} goes by. */
  private final class SseTee extends ForwardingSource {
    private final SseResponseIdScanner scanner = new SseResponseIdScanner();
    private final ChainScope scope;
    private final Backend backend;
    private final Buffer copy = new Buffer();
    private boolean finished;

    SseTee(BufferedSource delegate, ChainScope scope, Backend backend) {
      super(delegate);
      this.scope = scope;
      this.backend = backend;
    }

    @Override
    public long read(Buffer sink, long byteCount) throws IOException {
      long read = super.read(sink, byteCount);
      if (finished || read == -1) {
        finished = true;
        return read;
      }
      try {
        sink.copyTo(copy, sink.size() - read, read);
        byte[] chunk = copy.readByteArray();
        scanner.feed(chunk, 0, chunk.length).ifPresent(created -> chains.put(created.in(scope), backend));
        finished = scanner.isDone();
      } catch (RuntimeException e) {
        finished = true;
        logger.error("Routing log: response id of a stream not recorded: unexpected failure", e);
      }
      return read;
    }
  }

  /**
   * Builds a {@link RoutingLogInterceptor}. Not thread-safe.
   *
   * <pre>{@code
   * List<String> lines = new CopyOnWriteArrayList<>();
   * RoutingLogInterceptor routing = RoutingLogInterceptor.builder().logger(lines::add).build();
   * }</pre>
   */
  public static final class Builder {
    private Level level = Level.BASIC;
    private org.slf4j.event.Level logLevel = org.slf4j.event.Level.INFO;
    private boolean logLevelSet;
    private @Nullable Logger logger;
    private Set<String> cookieNames = Set.of(DEFAULT_COOKIE_NAME);
    private final Set<String> extraRedacted = new LinkedHashSet<>();
    private long maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
    private long maximumChains = DEFAULT_MAXIMUM_CHAINS;
    private Duration expireAfterAccess = DEFAULT_EXPIRE_AFTER_ACCESS;
    private Ticker ticker = Ticker.systemTicker();

    private Builder() {}

    /** How much to log; default {@link Level#BASIC}. Changeable later with {@link RoutingLogInterceptor#level(Level)}. */
    public Builder level(Level level) {
      this.level = requireNonNull(level, "level; use Level.NONE to log nothing");
      return this;
    }

    /**
     * The SLF4J level of the default logger's lines; default INFO. Header dumps use it too.
     * Not combinable with {@link #logger(Logger)}.
     */
    public Builder logLevel(org.slf4j.event.Level logLevel) {
      this.logLevel = requireNonNull(logLevel, "logLevel");
      this.logLevelSet = true;
      return this;
    }

    /** Sends lines to {@code logger} instead of SLF4J; for tests, or another logging system. */
    public Builder logger(Logger logger) {
      this.logger = requireNonNull(logger, "logger");
      return this;
    }

    /**
     * The affinity cookie names the gateway uses (APIM: the backend pool's
     * {@code sessionAffinity.sessionId.name}); default {@code APIM-Backend-Affinity}.
     *
     * @throws IllegalArgumentException if none is given or one is not a cookie name
     */
    public Builder cookieNames(String... cookieNames) {
      requireNonNull(cookieNames, "cookieNames");
      if (cookieNames.length == 0) {
        throw new IllegalArgumentException("give at least one cookie name, e.g. APIM-Backend-Affinity");
      }
      Set<String> names = new LinkedHashSet<>();
      for (String name : cookieNames) {
        if (name == null || !isToken(name)) {
          throw new IllegalArgumentException("not a cookie name (letters, digits, !#$%&'*+-.^_`|~): "
              + (name == null ? "null" : '"' + clean(name, MAX_FIELD_CHARS) + '"'));
        }
        names.add(name);
      }
      this.cookieNames = names;
      return this;
    }

    /** Redacts one more header at {@link Level#HEADERS}, in addition to the defaults. */
    public Builder redactHeader(String name) {
      extraRedacted.add(requireNonNull(name, "name"));
      return this;
    }

    /**
     * The largest request body read to find the chain; larger ones are logged without it.
     * Default {@value RoutingLogInterceptor#DEFAULT_MAX_BODY_BYTES} bytes.
     *
     * @throws IllegalArgumentException if not between 1 and {@code Integer.MAX_VALUE - 8}
     */
    public Builder maxBodyBytes(long maxBodyBytes) {
      if (maxBodyBytes <= 0 || maxBodyBytes > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException(
            "maxBodyBytes must be between 1 and " + (Integer.MAX_VALUE - 8) + ", was " + maxBodyBytes);
      }
      this.maxBodyBytes = maxBodyBytes;
      return this;
    }

    /**
     * How many chains and response ids to remember for backend-change marks; default
     * {@value RoutingLogInterceptor#DEFAULT_MAXIMUM_CHAINS}. Each holds a key and a reference to
     * a backend (a region of at most {@value RoutingInfo#MAX_REGION_LENGTH} characters and a
     * cookie label) that chains served by the same backend share.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder maximumChains(long maximumChains) {
      if (maximumChains < 0) {
        throw new IllegalArgumentException("maximumChains must be 0 or more, was " + maximumChains);
      }
      this.maximumChains = maximumChains;
      return this;
    }

    /**
     * How long a chain is remembered after its last exchange; default 1 hour, as the affinity
     * store's.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder expireAfterAccess(Duration expireAfterAccess) {
      requireNonNull(expireAfterAccess, "expireAfterAccess");
      if (expireAfterAccess.isNegative() || expireAfterAccess.isZero()) {
        throw new IllegalArgumentException("expireAfterAccess must be positive, was " + expireAfterAccess);
      }
      this.expireAfterAccess = expireAfterAccess;
      return this;
    }

    /** The time source for latencies and the chain cache; for tests. Default the system ticker. */
    public Builder ticker(Ticker ticker) {
      this.ticker = requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * Builds the interceptor.
     *
     * @throws IllegalStateException if both {@link #logger(Logger)} and
     *     {@link #logLevel(org.slf4j.event.Level)} were set
     */
    public RoutingLogInterceptor build() {
      if (logger != null && logLevelSet) {
        throw new IllegalStateException("logLevel applies to the default SLF4J logger only; "
            + "a custom logger receives every line, so set one or the other");
      }
      return new RoutingLogInterceptor(this);
    }

    private Set<String> redactedHeaders() {
      Set<String> names = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
      names.addAll(DEFAULT_REDACTED_HEADERS);
      names.addAll(extraRedacted);
      return Collections.unmodifiableSet(names);
    }

    private static boolean isToken(String name) {
      if (name.isEmpty()) {
        return false;
      }
      for (int i = 0; i < name.length(); i++) {
        char c = name.charAt(i);
        boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
        if (!ok) {
          return false;
        }
      }
      return true;
    }
  }
}
