package io.github.affinity4j.okhttp;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.Names;
import io.github.affinity4j.core.internal.Tickers;
import io.github.affinity4j.okhttp.ChainBackends.Backend;
import io.github.affinity4j.okhttp.RoutingBodies.Incoming;
import io.github.affinity4j.okhttp.RoutingBodies.Outgoing;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

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
 * latency until the response headers, {@code error} (on a non-2xx answer: the API error's
 * {@code code}, else its {@code type}, read from the first 16 KiB of the body; only ASCII letters,
 * digits and {@code ._:-} are kept, other characters show as {@code _}, at most 64; absent from
 * the gateway's own {@code {"statusCode":…,"message":…}} errors), {@code region} ({@code x-ms-region}, else
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
 * ({@code addNetworkInterceptor}) it sees the headers as sent, including a {@code CookieJar}'s
 * (so {@code cookie-sent} is the cookie actually sent), and the bodies as sent: it decodes a gzip
 * answer to find its id, and does not read a compressed stream or another encoding. See
 * {@code docs/diagnostics.md}.
 *
 * <p><b>Secrets.</b> Request and response bodies are never logged (of an error body, only its
 * sanitised {@code code} or {@code type}, never its message). With {@link Level#HEADERS},
 * {@code Authorization}, {@code Proxy-Authorization}, {@code api-key}, {@code x-api-key},
 * {@code Ocp-Apim-Subscription-Key} and any {@link #redactHeader(String)} show as
 * {@value #REDACTED}, or the {@link Builder#redactionMarker(String) marker} chosen; {@code Cookie}
 * and {@code Set-Cookie} show each cookie as {@code name:fingerprint} (attributes kept), never a
 * value.
 *
 * <p><b>MDC.</b> While a line is logged, MDC key {@value #MDC_CHAIN} holds the chain and
 * {@value #MDC_REGION} the region, when known; earlier values are restored afterwards.
 *
 * <p><b>Cost.</b> At {@link Level#NONE}, or when the default SLF4J logger is disabled at the
 * chosen level, a request passes straight through: no body is read, nothing is parsed. Otherwise
 * a JSON {@code POST …/responses} request body is copied once (and sent from that copy), a
 * successful JSON answer's first 64 KiB are peeked for its id, and a failed answer's first 16 KiB
 * for its error code.
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
  /**
   * What a redacted value shows by default: ASCII, so that it reads the same on any terminal and in
   * any log file's encoding (under {@code LANG=C} a non-ASCII marker prints as {@code ??}, which
   * hides that a value was redacted at all). Choose another with
   * {@link Builder#redactionMarker(String)}.
   */
  public static final String REDACTED = "[redacted]";
  /**
   * The block marker of OkHttp's {@code HttpLoggingInterceptor}, for logs read on UTF-8 terminals
   * only: {@code RoutingLogInterceptor.builder().redactionMarker(REDACTED_BLOCK)}.
   */
  public static final String REDACTED_BLOCK = "\u2588\u2588";
  /** Default bound on a request body read to find its chain: 8 MiB, as {@link AffinityInterceptor}. */
  public static final long DEFAULT_MAX_BODY_BYTES = AffinityInterceptor.DEFAULT_MAX_BODY_BYTES;
  /** Default bound on the chains and response ids remembered: 100 000. */
  public static final long DEFAULT_MAXIMUM_CHAINS = 100_000;
  /** Default time a chain is remembered after its last exchange: 1 hour. */
  public static final Duration DEFAULT_EXPIRE_AFTER_ACCESS = Duration.ofHours(1);

  private static final org.slf4j.Logger logger = LoggerFactory.getLogger(RoutingLogInterceptor.class);

  private static final String DEFAULT_COOKIE_NAME = "APIM-Backend-Affinity";

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
     * POST /openai/v1/responses 429 35ms error=429 region="West US" … retry-after=2000ms chain=response:resp_68cd…
     * POST /openai/v1/responses 400 21ms error=previous_response_not_found region="East US" … chain=response:resp_68cd…
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
     * > Authorization: [redacted]
     * > Ocp-Apim-Subscription-Key: [redacted]
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

  private final RoutingLineSink sink;
  private final RoutingLineFormat format;
  private final Ticker ticker;
  private final ChainBackends backends;
  private final RoutingBodies bodies;

  private volatile Level level;
  private volatile Set<String> redactedHeaders;

  /** An interceptor with the defaults: {@link Level#BASIC}, SLF4J at INFO, cookie {@code APIM-Backend-Affinity}. */
  public RoutingLogInterceptor() {
    this(new Builder());
  }

  private RoutingLogInterceptor(Builder builder) {
    this.sink = new RoutingLineSink(builder.logger, builder.logLevel);
    this.format = new RoutingLineFormat(builder.cookieNames, builder.redactionMarker);
    this.ticker = Tickers.of(builder.clock);
    AffinityInterceptor affinity = builder.affinity;
    if (affinity == null) {
      RequestScopes scopes = new RequestScopes(null);
      this.backends = new ChainBackends(builder.maximumChains, builder.expireAfterAccess, ticker);
      this.bodies = new RoutingBodies(builder.maxBodyBytes, backends, request -> scopes.of(request, request.url().encodedPath(), null));
    } else {
      this.backends = ChainBackends.of(affinity.store());
      this.bodies = new RoutingBodies(builder.maxBodyBytes, backends, affinity::scopeOf);
    }
    this.level = builder.level;
    this.redactedHeaders = RoutingLineFormat.redactedHeaders(builder.extraRedacted);
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
    redactedHeaders = RoutingLineFormat.redactedHeaders(redactedHeaders, name);
    return this;
  }

  /** Shows the settings; nothing here is secret. */
  @Override
  public String toString() {
    return "RoutingLogInterceptor[level=" + level
        + ", logLevel=" + sink
        + ", cookieNames=" + new TreeSet<>(format.cookieNames())
        + ", redactedHeaders=" + redactedHeaders
        + ", chainsTracked=" + backends.size()
        + ']';
  }

  /** Every string the chain cache holds now (regions and cookie labels); for tests. */
  List<String> rememberedStrings() {
    return backends.strings();
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Level level = this.level;
    if (level == Level.NONE || !sink.enabled()) {
      return chain.proceed(chain.request());
    }
    Outgoing outgoing = bodies.outgoing(chain.request());
    Request sent = outgoing.request();
    long start = ticker.read();
    Response response;
    try {
      response = chain.proceed(sent);
    } catch (IOException e) {
      long took = ticker.read() - start;
      try {
        sink.log(format.failure(sent, took, e, outgoing.chain(), dump(level)), outgoing.chain(), null);
      } catch (RuntimeException bug) {
        skipped(sent, bug);
      }
      throw e;
    }
    long took = ticker.read() - start;
    try {
      return observe(level, outgoing, response, took);
    } catch (RuntimeException e) {
      skipped(sent, e);
      return response;
    }
  }

  /** Logs an exchange that got a response; returns the response to pass on. */
  private Response observe(Level level, Outgoing outgoing, Response response, long took) {
    Request sent = outgoing.request();
    RoutingInfo routing = RoutingInfo.from(response::header);
    String cookieSent = format.cookieSent(sent.headers());
    String cookieSet = format.cookieSet(response.headers());
    Backend current = Backend.of(routing.region(), cookieSet != null ? cookieSet : cookieSent);
    Backend before = backends.track(outgoing.chain(), current, cookieSent, cookieSet);
    Incoming incoming = bodies.incoming(sent, response, current);

    RoutingLineFormat.Facts facts = new RoutingLineFormat.Facts(routing, cookieSent, cookieSet,
        outgoing.chain(), incoming.created(), before, bodies.errorCode(response));
    String line = format.exchange(sent, response, took, facts, dump(level));
    sink.log(line, outgoing.chain(), routing.region());
    return incoming.response();
  }

  /** The headers to redact in a header dump at {@code level}; null for no dump. */
  private @Nullable Set<String> dump(Level level) {
    return level == Level.HEADERS ? redactedHeaders : null;
  }

  private static void skipped(Request sent, RuntimeException bug) {
    logger.error("Routing log skipped for {} {}: unexpected failure",
        sent.method(), sent.url().encodedPath(), bug);
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
    private String redactionMarker = REDACTED;
    private final Set<String> extraRedacted = new LinkedHashSet<>();
    private long maxBodyBytes = DEFAULT_MAX_BODY_BYTES;
    private long maximumChains = DEFAULT_MAXIMUM_CHAINS;
    private Duration expireAfterAccess = DEFAULT_EXPIRE_AFTER_ACCESS;
    private Clock clock = Clock.systemUTC();
    private @Nullable AffinityInterceptor affinity;

    private Builder() {}

    /**
     * Marks backend changes as {@code affinity} sees them: a chain's last backend is the pin its
     * engine keeps (in its {@link AffinityInterceptor#store() store}, scoped as it scopes
     * requests), so this interceptor keeps no chain cache of its own and
     * {@link #maximumChains}/{@link #expireAfterAccess} do not apply. Give the same cookie names.
     * Without it, the routing log works alone, on any client, with its own bounded cache.
     */
    public Builder chainsOf(AffinityInterceptor affinity) {
      this.affinity = requireNonNull(affinity, "affinity");
      return this;
    }

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
        if (name == null || !Names.isCookieName(name)) {
          throw new IllegalArgumentException("not a cookie name (letters, digits, !#$%&'*+-.^_`|~): "
              + (name == null ? "null" : '"' + RoutingLineFormat.cleanField(name) + '"'));
        }
        names.add(name);
      }
      this.cookieNames = names;
      return this;
    }

    /**
     * What a redacted value shows at {@link Level#HEADERS}; default {@value RoutingLogInterceptor#REDACTED}
     * (ASCII, readable on any terminal). {@link RoutingLogInterceptor#REDACTED_BLOCK} is OkHttp's
     * {@code ██}, which prints as {@code ??} where the output encoding is ASCII ({@code LANG=C}).
     *
     * @throws IllegalArgumentException if empty, longer than 32 characters, or holding a control
     *     character (a marker must not break the line it is in)
     */
    public Builder redactionMarker(String marker) {
      requireNonNull(marker, "marker");
      if (marker.isEmpty() || marker.length() > 32
          || marker.chars().anyMatch(c -> c < 0x20 || c == 0x7F)) {
        throw new IllegalArgumentException("redactionMarker must be 1 to 32 characters without "
            + "control characters, was \"" + RoutingLineFormat.cleanField(marker) + '"');
      }
      this.redactionMarker = marker;
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

    /** The time source for latencies and the chain cache; for tests; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
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
  }
}
