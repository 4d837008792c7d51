package io.github.affinity4j.testkit;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * An Azure API Management-like gateway on a loopback port, fronting a pool of stateful Responses
 * API backends. Point a real HTTP client or the OpenAI SDK at {@link #openAiBaseUrl()} and watch
 * what a load-balanced pool does to multi-turn conversations.
 *
 * <pre>{@code
 * try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
 *   OpenAIClient client = OpenAIOkHttpClient.builder()
 *       .baseUrl(apim.openAiBaseUrl())
 *       .apiKey("test")
 *       .build();
 *   Response first = client.responses().create(ResponseCreateParams.builder()
 *       .model("gpt-4.1").input("Hello").build());
 *   // Without the affinity cookie the next turn lands on the next backend of the round-robin
 *   // and fails with previous_response_not_found.
 * }
 * }</pre>
 *
 * <p><b>Gateway.</b> Requests are spread by priority group, then by weight (equal weights give
 * round-robin; see {@link BackendSpec}). With session affinity on (the default), a request without
 * a valid affinity cookie gets {@code Set-Cookie: APIM-Backend-Affinity=<opaque>; Path=/; HttpOnly}
 * for the backend that served it, and requests that carry the cookie go to that backend. When the
 * pinned backend is unavailable, {@link PinnedBackendMode} decides, or, for a killed backend,
 * {@link Builder#deadPinnedBackendStatus(int)}: APIM's own 500 (502, 504). Every answer carries
 * {@code x-request-id} and {@code apim-request-id}; answers from a backend carry
 * {@code x-backend-region}, copied from the backend's {@code x-ms-region}. Errors the gateway
 * raises itself use APIM's {@code {"statusCode":…,"message":…}} shape.
 *
 * <p><b>Backends.</b> {@code POST …/responses}, {@code GET|DELETE …/responses/{id}},
 * {@code POST …/responses/{id}/cancel}, {@code GET …/responses/{id}/input_items},
 * {@code POST …/responses/compact}, {@code POST …/responses/input_tokens},
 * {@code POST …/conversations} and {@code GET|DELETE …/conversations/{id}} under
 * {@code /openai/v1/}, {@code /v1/}, or {@code /openai/} with an {@code api-version} query. Each
 * backend has its own store, so a {@code previous_response_id} or {@code conversation} made
 * elsewhere is not found there, with the errors the real service returns; compact and
 * input-token counts with a {@code previous_response_id} fail the same way. The model's answer is
 * a {@link SimulatedAnswer}. A function tool is called when the latest user message of the turn
 * contains the tool's name.
 *
 * <p><b>Reasoning.</b> With a {@code reasoning} parameter, or with {@code include} asking for
 * {@code reasoning.encrypted_content}, the output starts with a reasoning item; it has
 * {@code encrypted_content} when {@code include} asks for it. That content (and a compaction
 * item's) is sealed by the backend that made it, as by the Azure resource that made it: in the
 * {@code input} of a request served by another backend it is refused with 400
 * {@code invalid_encrypted_content} ({@link SimulatedBackend#verifiesEncryptedContent(String)}).
 *
 * <p><b>Stored items.</b> {@code store: false} keeps nothing: a {@code previous_response_id} or
 * {@code GET} of such a response is not found, and an {@code item_reference} to one of its items
 * fails with {@code Item with id '…' not found} (param {@code input}); its output items still
 * carry ids. Full items sent back with their ids are taken as sent when the request has
 * {@code store: false}, and looked up by id when it stores (the default).
 *
 * <p><b>Background.</b> {@code background: true} (which needs {@code store}) answers
 * {@code queued} with an empty output; polls ({@code GET …/responses/{id}}) on the backend that
 * holds it see it {@code in_progress}, then {@code completed} with its output, on the poll
 * {@link Builder#backgroundCompletesOnPoll(int)} says (the second by default) or once
 * {@link Builder#backgroundCompletesAfter(Duration)} has passed. A poll on another backend gets
 * 404. {@code cancel} makes a queued or running one {@code cancelled}; {@code DELETE} deletes it;
 * {@code input_items} lists its input with ids. A streamed background response is complete when
 * its stream ends, and {@code GET …/responses/{id}?stream=true&starting_after=N} resumes its
 * events after sequence number {@code N}, running it to its end. Not modelled: a resumed stream
 * that waits while the response is still running (the simulated model answers at once), and
 * failed or incomplete responses.
 *
 * <p>Thread-safe. Sessions (affinity cookies issued) and stored responses are kept for the
 * simulator's lifetime (background responses do not expire after ten minutes as real ones do);
 * the request log keeps the latest {@link Builder#requestLogLimit(int)} entries. See
 * {@code docs/simulator.md}.
 */
public final class ApimSimulator implements AutoCloseable {
  /** The affinity cookie name most APIM pools are configured with. */
  public static final String DEFAULT_COOKIE_NAME = "APIM-Backend-Affinity";

  private static final String[] REGIONS = {
    "East US", "West US", "Sweden Central", "France Central", "Japan East", "Australia East",
    "UK South", "Canada East"
  };

  static {
    // The JDK server writes a response's headers and body separately; without TCP_NODELAY each
    // small answer waits on the client's delayed ACK (about 40 ms). The server reads this
    // property once, when its first instance in the JVM is made; a value set by the caller wins.
    if (System.getProperty("sun.net.httpserver.nodelay") == null) {
      System.setProperty("sun.net.httpserver.nodelay", "true");
    }
  }

  private final HttpServer server;
  private final ExecutorService executor;
  private final Gateway gateway;
  private final Map<String, SimulatedBackend> backends;
  private final String cookieName;

  private ApimSimulator(Builder builder) throws IOException {
    IdGenerator ids = new IdGenerator(builder.random);
    Map<String, SimulatedBackend> byName = new LinkedHashMap<>();
    BackgroundPolicy background = new BackgroundPolicy(builder.backgroundCompletesOnPoll,
        builder.backgroundRunTime);
    for (BackendSpec spec : builder.backends) {
      byName.put(spec.name(), new SimulatedBackend(spec, ids, builder.clock, builder.circuitBreaker,
          background));
    }
    this.backends = byName;
    this.cookieName = builder.cookieName;
    this.gateway = new Gateway(new ArrayList<>(byName.values()), builder.sessionAffinity,
        builder.cookieName, builder.pinnedBackendMode, ids, builder.recordRequestBodies,
        builder.requestLogLimit, builder.deadPinnedBackendStatus);
    this.executor = Executors.newCachedThreadPool(new SimulatorThreads());
    this.server = HttpServer.create(
        new InetSocketAddress(InetAddress.getLoopbackAddress(), builder.port), 128);
    server.createContext("/", gateway);
    server.setExecutor(executor);
    server.start();
  }

  /** A new builder. Add backends with {@link Builder#backends(int)} or {@link Builder#backend}. */
  public static Builder builder() {
    return new Builder();
  }

  /** The gateway's root URL, e.g. {@code http://127.0.0.1:50123}, without a trailing slash. */
  public String url() {
    return "http://" + server.getAddress().getAddress().getHostAddress() + ":" + port();
  }

  /** The base URL for the OpenAI SDK: {@link #url()} followed by {@code /openai/v1}. */
  public String openAiBaseUrl() {
    return url() + "/openai/v1";
  }

  /** The loopback port the gateway listens on. */
  public int port() {
    return server.getAddress().getPort();
  }

  /** The affinity cookie name this pool uses. */
  public String cookieName() {
    return cookieName;
  }

  /**
   * The backend with this name.
   *
   * @throws IllegalArgumentException if the pool has no such backend
   */
  public SimulatedBackend backend(String name) {
    SimulatedBackend backend = backends.get(name);
    if (backend == null) {
      throw new IllegalArgumentException(
          "no backend named '" + name + "'; the pool has " + backends.keySet());
    }
    return backend;
  }

  /** The pool's backends, in the order they were added. */
  public List<SimulatedBackend> backends() {
    return List.copyOf(backends.values());
  }

  /** The backend an affinity cookie value pins to, if the gateway issued that value. */
  public Optional<SimulatedBackend> pinnedBackend(String cookieValue) {
    return Optional.ofNullable(gateway.pinnedBackend(cookieValue));
  }

  /** The requests the gateway saw, oldest first. */
  public List<LoggedRequest> requestLog() {
    return gateway.requestLog();
  }

  /** Forgets the logged requests. */
  public void clearRequestLog() {
    gateway.clearRequestLog();
  }

  /** Stops the gateway at once; requests in flight are dropped. */
  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  @Override
  public String toString() {
    return "ApimSimulator{" + url() + ", backends=" + backends.values() + "}";
  }

  /** Builds and starts an {@link ApimSimulator}. Not thread-safe. */
  public static final class Builder {
    private final List<BackendSpec> backends = new ArrayList<>();
    private boolean sessionAffinity = true;
    private String cookieName = DEFAULT_COOKIE_NAME;
    private PinnedBackendMode pinnedBackendMode = PinnedBackendMode.REROUTE;
    private int deadPinnedBackendStatus;
    private int backgroundCompletesOnPoll = BackgroundPolicy.DEFAULT.poll();
    private @Nullable Duration backgroundRunTime;
    private @Nullable CircuitBreakerRule circuitBreaker;
    private Clock clock = Clock.systemUTC();
    private Random random = new Random();
    private boolean recordRequestBodies;
    private int requestLogLimit = 100_000;
    private int port;

    private Builder() {}

    /** Adds {@code count} backends named {@code backend-1}… in distinct regions, weight 1, priority 1. */
    public Builder backends(int count) {
      if (count < 1 || backends.size() + count > 30) {
        throw new IllegalArgumentException(
            "a pool has 1 to 30 backends, as in APIM; cannot add " + count + " to " + backends.size());
      }
      int first = backends.size() + 1;
      for (int i = 0; i < count; i++) {
        int n = first + i;
        backends.add(BackendSpec.of("backend-" + n, REGIONS[(n - 1) % REGIONS.length]));
      }
      return this;
    }

    /** Adds one backend. */
    public Builder backend(BackendSpec backend) {
      Objects.requireNonNull(backend, "backend");
      if (backends.size() == 30) {
        throw new IllegalArgumentException("a pool has at most 30 backends, as in APIM");
      }
      backends.add(backend);
      return this;
    }

    /** Whether the gateway pins clients to backends with a cookie; default true. */
    public Builder sessionAffinity(boolean sessionAffinity) {
      this.sessionAffinity = sessionAffinity;
      return this;
    }

    /** The affinity cookie name; default {@value ApimSimulator#DEFAULT_COOKIE_NAME}. */
    public Builder cookieName(String cookieName) {
      Objects.requireNonNull(cookieName, "cookieName");
      if (cookieName.isEmpty() || !cookieName.chars().allMatch(Builder::isTokenChar)) {
        throw new IllegalArgumentException(
            "cookie name must be a non-empty RFC 6265 token, was '" + cookieName + "'");
      }
      this.cookieName = cookieName;
      return this;
    }

    /** What happens when the pinned backend is unavailable; default {@link PinnedBackendMode#REROUTE}. */
    public Builder pinnedBackendMode(PinnedBackendMode mode) {
      this.pinnedBackendMode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /**
     * Makes the gateway answer a request pinned to a killed backend itself, with {@code status}
     * and APIM's own error shape, as APIM does when it cannot connect to the backend:
     * {@code {"statusCode":500,"message":"Internal server error","activityId":"<uuid>"}} for 500
     * ({@code BackendConnectionFailure}), {@code "Bad gateway"} for 502 and
     * {@code "Gateway timeout"} for 504; {@code activityId} is the answer's
     * {@code apim-request-id}. The request is not forwarded and no new cookie is issued.
     *
     * <p>This takes precedence over {@link #pinnedBackendMode(PinnedBackendMode)} for killed
     * backends only: a pin to a backend whose circuit breaker is open still follows the mode
     * (APIM answers an open breaker with 503). Default: not set, the mode decides.
     *
     * @throws IllegalArgumentException unless {@code status} is 500, 502 or 504
     */
    public Builder deadPinnedBackendStatus(int status) {
      if (status != 500 && status != 502 && status != 504) {
        throw new IllegalArgumentException(
            "deadPinnedBackendStatus must be 500, 502 or 504, was " + status);
      }
      this.deadPinnedBackendStatus = status;
      return this;
    }

    /**
     * The retrieval ({@code GET …/responses/{id}}) on which a background response
     * ({@code background: true}) completes; earlier ones show it {@code in_progress}. Default 2:
     * the create answers {@code queued}, the first poll {@code in_progress}, the second
     * {@code completed} with the output. Replaces {@link #backgroundCompletesAfter(Duration)}.
     *
     * @throws IllegalArgumentException if {@code poll} is less than 1
     */
    public Builder backgroundCompletesOnPoll(int poll) {
      if (poll < 1) {
        throw new IllegalArgumentException("backgroundCompletesOnPoll must be 1 or more, was " + poll);
      }
      this.backgroundCompletesOnPoll = poll;
      this.backgroundRunTime = null;
      return this;
    }

    /**
     * Makes a background response complete once {@code runTime} has passed on the
     * {@link #clock(Clock) clock} since it was created, whatever the number of polls: a
     * retrieval before then shows it {@code in_progress}, the first one after
     * {@code completed}. Replaces {@link #backgroundCompletesOnPoll(int)}.
     *
     * @throws IllegalArgumentException if {@code runTime} is negative
     */
    public Builder backgroundCompletesAfter(Duration runTime) {
      Objects.requireNonNull(runTime, "runTime");
      if (runTime.isNegative()) {
        throw new IllegalArgumentException("backgroundCompletesAfter must not be negative, was " + runTime);
      }
      this.backgroundRunTime = runTime;
      return this;
    }

    /** A circuit breaker for every backend; default none. */
    public Builder circuitBreaker(CircuitBreakerRule rule) {
      this.circuitBreaker = Objects.requireNonNull(rule, "rule");
      return this;
    }

    /** The clock for breaker windows, rate-limit windows and timestamps; default system UTC. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** The source of ids and cookie values; pass a seeded one for repeatable runs. */
    public Builder random(Random random) {
      this.random = Objects.requireNonNull(random, "random");
      return this;
    }

    /** Whether {@link LoggedRequest#body()} keeps request bodies; default false. */
    public Builder recordRequestBodies(boolean recordRequestBodies) {
      this.recordRequestBodies = recordRequestBodies;
      return this;
    }

    /** How many requests the log keeps, the oldest dropped first; default 100 000. */
    public Builder requestLogLimit(int requestLogLimit) {
      if (requestLogLimit < 0) {
        throw new IllegalArgumentException("requestLogLimit must be 0 or more, was " + requestLogLimit);
      }
      this.requestLogLimit = requestLogLimit;
      return this;
    }

    /** The loopback port; default 0, any free port. */
    public Builder port(int port) {
      if (port < 0 || port > 65_535) {
        throw new IllegalArgumentException("port must be 0..65535, was " + port);
      }
      this.port = port;
      return this;
    }

    /**
     * Starts the simulator on loopback.
     *
     * @throws IllegalStateException if no backend was added or two share a name
     * @throws UncheckedIOException if the port cannot be bound
     */
    public ApimSimulator start() {
      if (backends.isEmpty()) {
        throw new IllegalStateException(
            "add backends first, e.g. backends(3) or backend(BackendSpec.of(\"east\", \"East US\"))");
      }
      Set<String> names = new HashSet<>();
      for (BackendSpec backend : backends) {
        if (!names.add(backend.name())) {
          throw new IllegalStateException("two backends are named '" + backend.name() + "'");
        }
      }
      try {
        return new ApimSimulator(this);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot start the APIM simulator on port " + port, e);
      }
    }

    private static boolean isTokenChar(int c) {
      return c > 0x20 && c < 0x7f && "()<>@,;:\\\"/[]?={}".indexOf(c) < 0;
    }
  }

  private static final class SimulatorThreads implements ThreadFactory {
    private static final AtomicInteger POOLS = new AtomicInteger();
    private final int pool = POOLS.incrementAndGet();
    private final AtomicInteger threads = new AtomicInteger();

    @Override
    public Thread newThread(Runnable task) {
      Thread thread = new Thread(task, "apim-simulator-" + pool + "-" + threads.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    }
  }
}
