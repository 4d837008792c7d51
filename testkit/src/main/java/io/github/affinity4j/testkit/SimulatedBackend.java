package io.github.affinity4j.testkit;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * One backend of an {@link ApimSimulator} pool: a stateful Responses API deployment in a region,
 * with its own circuit breaker, counters and fault injection.
 *
 * <pre>{@code
 * SimulatedBackend east = simulator.backend("backend-1");
 * east.failNext(2, 429, Duration.ofSeconds(1));   // the next two requests get 429
 * east.kill();                                    // unavailable until revive()
 * assertThat(east.stats().responsesCreated()).isEqualTo(5);
 * }</pre>
 *
 * <p>A killed backend is known to the gateway at once, as if its health probe or breaker had
 * already marked it down: unpinned requests go elsewhere, and pinned ones follow the pool's
 * {@link PinnedBackendMode}. Its stored responses survive a {@link #revive()}.
 *
 * <p>Thread-safe: faults may be injected while requests are in flight.
 */
public final class SimulatedBackend {
  private static final int REQUESTS_PER_MINUTE = 1_000;
  private static final long TOKENS_PER_MINUTE = 1_000_000;

  private final BackendSpec spec;
  private final ResponsesApi api;
  private final Clock clock;
  private final @Nullable CircuitBreakerRule breakerRule;
  private final AtomicLong requests = new AtomicLong();

  private volatile boolean alive = true;
  private volatile Duration latency = Duration.ZERO;

  // Guarded by this.
  private int failuresToInject;
  private int injectedStatus;
  private @Nullable Duration injectedRetryAfter;
  private int cutNextStreamAfter = -1;
  private final Deque<Instant> recentFailures = new ArrayDeque<>();
  private Instant breakerOpenUntil = Instant.MIN;
  private long rateWindowMinute;
  private int windowRequests;
  private long windowTokens;

  // Smooth weighted round-robin state, guarded by the gateway's routing lock.
  int currentWeight;

  SimulatedBackend(BackendSpec spec, IdGenerator ids, Clock clock,
      @Nullable CircuitBreakerRule breakerRule, BackgroundPolicy backgroundPolicy) {
    this.spec = spec;
    this.api = new ResponsesApi(spec.name(), spec.region(), ids, clock, backgroundPolicy);
    this.clock = clock;
    this.breakerRule = breakerRule;
  }

  /** The backend's name in the pool. */
  public String name() {
    return spec.name();
  }

  /** The region the backend reports in {@code x-ms-region}. */
  public String region() {
    return spec.region();
  }

  /** The definition the pool was built with. */
  public BackendSpec spec() {
    return spec;
  }

  /** Takes the backend down: the gateway stops routing to it until {@link #revive()}. */
  public void kill() {
    alive = false;
  }

  /** Brings a killed backend back, with the responses it had stored. */
  public void revive() {
    alive = true;
  }

  /** Whether the backend is up (not killed). */
  public boolean isAlive() {
    return alive;
  }

  /** Whether the backend's circuit breaker is open now. */
  public synchronized boolean isCircuitOpen() {
    return clock.instant().isBefore(breakerOpenUntil);
  }

  /** Whether the gateway may route to the backend now: alive and its breaker closed. */
  public boolean isAvailable() {
    return alive && !isCircuitOpen();
  }

  /** Answers the next {@code requests} requests with {@code status} instead of serving them. */
  public void failNext(int requests, int status) {
    failNext(requests, status, null);
  }

  /**
   * Answers the next {@code requests} requests with {@code status}, with a {@code Retry-After}
   * (and {@code retry-after-ms}) header when {@code retryAfter} is not null. A 429 gets Azure's
   * rate-limit body; other statuses a {@code server_error} body.
   */
  public synchronized void failNext(int requests, int status, @Nullable Duration retryAfter) {
    if (requests < 0) {
      throw new IllegalArgumentException("requests must be 0 or more, was " + requests);
    }
    if (status < 400 || status > 599) {
      throw new IllegalArgumentException("status must be an error status 400..599, was " + status);
    }
    if (retryAfter != null && retryAfter.isNegative()) {
      throw new IllegalArgumentException("retryAfter must not be negative, was " + retryAfter);
    }
    this.failuresToInject = requests;
    this.injectedStatus = status;
    this.injectedRetryAfter = retryAfter;
  }

  /** Delays every answer of this backend by {@code latency}; {@link Duration#ZERO} to stop. */
  public void latency(Duration latency) {
    Objects.requireNonNull(latency, "latency");
    if (latency.isNegative()) {
      throw new IllegalArgumentException("latency must not be negative, was " + latency);
    }
    this.latency = latency;
  }

  /**
   * Cuts the next streamed response after {@code events} server-sent events: the connection is
   * closed mid-stream, without the final chunk, as a dropped connection would.
   */
  public synchronized void cutNextStreamAfter(int events) {
    if (events < 0) {
      throw new IllegalArgumentException("events must be 0 or more, was " + events);
    }
    this.cutNextStreamAfter = events;
  }

  /** Removes injected failures, latency and stream cuts. Does not revive or reset the breaker. */
  public synchronized void clearFaults() {
    failuresToInject = 0;
    cutNextStreamAfter = -1;
    latency = Duration.ZERO;
  }

  /**
   * Whether this backend sealed {@code encryptedContent}, the {@code encrypted_content} of a
   * reasoning or compaction item: only then does it accept that item as input. Each backend
   * seals with a secret of its own, as each Azure resource does.
   */
  public boolean verifiesEncryptedContent(String encryptedContent) {
    return api.verifies(Objects.requireNonNull(encryptedContent, "encryptedContent"));
  }

  /** A snapshot of the backend's counters. */
  public BackendStats stats() {
    return new BackendStats(requests.get(), api.responsesCreated.sum(), api.notFoundErrors.sum());
  }

  @Override
  public String toString() {
    return "SimulatedBackend{" + spec.name() + " (" + spec.region() + "), alive=" + alive + "}";
  }

  /** Serves one request the gateway forwarded here. */
  SimResponse serve(Operation operation, byte[] body) throws InterruptedException {
    requests.incrementAndGet();
    Duration delay = latency;
    if (!delay.isZero()) {
      Thread.sleep(delay.toMillis(), delay.toNanosPart() % 1_000_000);
    }
    SimResponse response = injectedFailure();
    if (response == null) {
      try {
        response = api.handle(operation, body);
      } catch (ApiException e) {
        response = SimResponse.json(e.status, e.body);
        response.errorCode = e.code;
      }
    }
    response.header("x-ms-region", spec.region());
    if (!response.headers.containsKey("x-ratelimit-remaining-requests")) {
      long[] remaining = consumeRateLimit(1 + body.length / 4);
      response.header("x-ratelimit-remaining-requests", Long.toString(remaining[0]));
      response.header("x-ratelimit-remaining-tokens", Long.toString(remaining[1]));
    }
    return response;
  }

  private synchronized @Nullable SimResponse injectedFailure() {
    if (failuresToInject == 0) {
      return null;
    }
    failuresToInject--;
    SimResponse response;
    Duration retryAfter = injectedRetryAfter;
    long retrySeconds = retryAfter == null ? 0 : (retryAfter.toMillis() + 999) / 1000;
    if (injectedStatus == 429) {
      response = SimResponse.json(429, Json.write(Json.object().set("error", Json.object()
          .put("code", "429")
          .put("message", "Requests to the Responses_Create Operation under Azure OpenAI API version"
              + " 2025-03-01-preview have exceeded token rate limit of your current AIServices S0"
              + " pricing tier. Please retry after " + Math.max(1, retrySeconds) + " seconds."))));
      response.header("x-ratelimit-remaining-requests", "0");
      response.header("x-ratelimit-remaining-tokens", "0");
    } else {
      response = SimResponse.json(injectedStatus, Json.errorBody("Simulated failure: backend "
          + spec.name() + " answered " + injectedStatus + ".", "server_error", null, null));
    }
    if (retryAfter != null) {
      response.header("Retry-After", Long.toString(retrySeconds));
      response.header("retry-after-ms", Long.toString(retryAfter.toMillis()));
    }
    return response;
  }

  /** Counts a request against the per-minute budgets; returns the remaining requests and tokens. */
  private synchronized long[] consumeRateLimit(long tokens) {
    long minute = clock.millis() / 60_000;
    if (minute != rateWindowMinute) {
      rateWindowMinute = minute;
      windowRequests = 0;
      windowTokens = 0;
    }
    windowRequests++;
    windowTokens += tokens;
    return new long[] {
      Math.max(0, REQUESTS_PER_MINUTE - windowRequests), Math.max(0, TOKENS_PER_MINUTE - windowTokens)
    };
  }

  /** One-shot: the number of events after which to cut this stream, or -1 to send it whole. */
  synchronized int takeStreamCut() {
    int cut = cutNextStreamAfter;
    cutNextStreamAfter = -1;
    return cut;
  }

  /** Feeds the circuit breaker with the status the backend answered. */
  synchronized void recordOutcome(int status, @Nullable String retryAfterSeconds) {
    if (breakerRule == null || !breakerRule.isFailure(status)) {
      return;
    }
    Instant now = clock.instant();
    Instant windowStart = now.minus(breakerRule.interval());
    while (!recentFailures.isEmpty() && !recentFailures.peekFirst().isAfter(windowStart)) {
      recentFailures.pollFirst();
    }
    recentFailures.addLast(now);
    if (recentFailures.size() >= breakerRule.count()) {
      Duration open = breakerRule.tripDuration();
      if (breakerRule.acceptRetryAfter() && retryAfterSeconds != null) {
        try {
          open = Duration.ofSeconds(Math.max(0, Long.parseLong(retryAfterSeconds.trim())));
        } catch (NumberFormatException ignored) {
          // Not a delay in seconds (an HTTP date, or garbage): keep the rule's trip duration.
        }
      }
      breakerOpenUntil = now.plus(open);
      recentFailures.clear();
    }
  }
}
