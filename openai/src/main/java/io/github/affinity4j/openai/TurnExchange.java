package io.github.affinity4j.openai;

import com.openai.core.http.Headers;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIException;
import com.openai.errors.OpenAIInvalidDataException;
import com.openai.errors.OpenAIIoException;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainRegistry;
import io.github.affinity4j.core.ChainTurn;
import io.github.affinity4j.core.RepairDecision;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One turn of one conversation, from the SDK's side: the SDK-level twin of the
 * {@link AffinityInterceptor}'s exchange. It adds the chain's pin to the request as a
 * per-request {@code Cookie} header, sends the request through the wrapped client, and follows
 * {@link ChainTurn}'s contract: on an error, act on the engine's {@link RepairDecision} (retry on
 * the pin, replay without it, or fail with the amended error); on success, report it, bind the new
 * response id to the cookie the raw response set, and journal the turn. It decides nothing itself.
 *
 * <p>The SDK's own retries run inside each {@code create} call, so one SDK call is one attempt
 * here. Not thread-safe: one exchange per turn, its calls one after another (an async turn's
 * steps run on the SDK's threads, in sequence).
 */
final class TurnExchange {
  private static final Logger logger = LoggerFactory.getLogger(TurnExchange.class);

  private final AffinityConversations engine;
  private final @Nullable ChainKey key;
  private final ChainTurn turn;
  private final ResponseCreateParams sent;
  private final ResponseCreateParams unpinned;
  private final @Nullable AffinityToken pin;

  private TurnExchange(AffinityConversations engine, @Nullable ChainKey key, ChainTurn turn, ResponseCreateParams sent,
      ResponseCreateParams unpinned, @Nullable AffinityToken pin) {
    this.engine = engine;
    this.key = key;
    this.turn = turn;
    this.sent = sent;
    this.unpinned = unpinned;
    this.pin = pin;
  }

  /**
   * Prepares the turn that sends {@code params} after {@code previousResponseId} (null for the
   * first turn of a chain): the request with {@code previous_response_id} and the pin, the engine's
   * turn, and the request as a replay would carry its headers.
   */
  static TurnExchange prepare(AffinityConversations engine, ResponseCreateParams params,
      @Nullable String previousResponseId) {
    // The server issued the id, whatever it looks like; one that no chain key can hold (a gateway's
    // garbage) is still sent, but gets no pin and no repair.
    ChainKey key = previousResponseId == null ? null
        : ChainKey.parse(ChainKey.Kind.RESPONSE, previousResponseId).map(k -> k.in(engine.scope())).orElse(null);
    ResponseCreateParams request = previousResponseId == null ? params
        : params.toBuilder().previousResponseId(previousResponseId).build();
    byte[] body = SdkJson.body(request);
    ChainRegistry registry = engine.registry();

    // A Cookie header on the params replaces the client's own (the SDK's replaceAllHeaders), so the
    // one the request carries is the params' if set, else the client's default.
    String ownCookies = AffinityCookies.join(request._additionalHeaders().values("Cookie"));
    boolean perRequest = ownCookies != null;
    String cookies = perRequest ? ownCookies : engine.clientCookies();
    boolean callerPinned = AffinityCookies.carriesAffinityCookie(registry, cookies);

    AffinityToken pin = null;
    if (key != null && !callerPinned) {
      HttpUrl url = engine.responsesUrl();
      pin = registry.pinFor(key, url.scheme(), url.host(), url.encodedPath()).orElse(null);
    } else if (callerPinned) {
      logger.debug("Request for {} already carries an affinity cookie; left as the caller set it",
          key == null ? "a new chain" : key);
    }
    ResponseCreateParams sent = pin == null ? request : request.toBuilder()
        .replaceAdditionalHeaders("Cookie", AffinityCookies.merge(cookies, pin.cookiePair()))
        .build();
    // The replay goes without any affinity cookie. One the caller set on the client's own headers
    // cannot be taken off per request; such a caller manages affinity itself.
    ResponseCreateParams unpinned = request;
    if (perRequest && callerPinned) {
      String kept = AffinityCookies.withoutAffinityCookies(registry, ownCookies);
      ResponseCreateParams.Builder stripped = request.toBuilder();
      if (kept == null) {
        stripped.removeAdditionalHeaders("Cookie");
      } else {
        stripped.replaceAdditionalHeaders("Cookie", kept);
      }
      unpinned = stripped.build();
    }
    ChainTurn turn = engine.repairer().turn(body, pin, engine.scope());
    return new TurnExchange(engine, key, turn, sent, unpinned, pin);
  }

  /** What a successful turn leaves behind: the response and its routing facts. */
  record Outcome(Response response, RoutingInfo routing) {}

  /** A streamed turn before its events: the SDK's stream, and what binds and journals it. */
  record Streamed(StreamResponse<ResponseStreamEvent> events, Success success) {}

  // --- sync ---

  // The raw response is closed by parse(), which reads its body whole.
  @SuppressWarnings("MustBeClosedChecker")
  Outcome execute() {
    return withMdc(() -> {
      ResponseCreateParams attempt = sent;
      while (true) {
        HttpResponseFor<Response> raw;
        try {
          raw = engine.client().responses().withRawResponse().create(attempt);
        } catch (OpenAIServiceException | OpenAIIoException e) {
          Step step = onFailure(e);
          pause(step.pause());
          attempt = step.params();
          continue;
        }
        Success success = succeeded(raw.headers());
        Response response = success.parse(raw);
        success.completed(response);
        return new Outcome(response, success.routing);
      }
    });
  }

  // --- streaming ---

  // The raw response's stream goes to the caller, who closes it (Conversation.stream's contract).
  @SuppressWarnings("MustBeClosedChecker")
  Streamed stream() {
    return withMdc(() -> {
      ResponseCreateParams attempt = sent;
      while (true) {
        HttpResponseFor<StreamResponse<ResponseStreamEvent>> raw;
        try {
          raw = engine.client().responses().withRawResponse().createStreaming(attempt);
        } catch (OpenAIServiceException | OpenAIIoException e) {
          // A break arrives as an error before any event: nothing has reached the caller yet.
          Step step = onFailure(e);
          pause(step.pause());
          attempt = step.params();
          continue;
        }
        Success success = succeeded(raw.headers());
        return new Streamed(raw.parse(), success);
      }
    });
  }

  // --- async ---

  CompletableFuture<Outcome> executeAsync() {
    return executeAsync(sent);
  }

  private CompletableFuture<Outcome> executeAsync(ResponseCreateParams attempt) {
    CompletableFuture<HttpResponseFor<Response>> call;
    try {
      call = engine.client().async().responses().withRawResponse().create(attempt);
    } catch (RuntimeException e) {
      call = CompletableFuture.failedFuture(e);
    }
    return call.handle((raw, error) -> {
      if (error == null) {
        Success success = succeeded(raw.headers());
        Response response = success.parse(raw);
        success.completed(response);
        return CompletableFuture.completedFuture(new Outcome(response, success.routing));
      }
      Step step = onFailure(error);
      if (step.pause().isZero()) {
        return executeAsync(step.params());
      }
      // Never block an SDK thread for the pause.
      return CompletableFuture.runAsync(() -> { },
              CompletableFuture.delayedExecutor(step.pause().toMillis(), TimeUnit.MILLISECONDS))
          .thenCompose(ignored -> executeAsync(step.params()));
    }).thenCompose(next -> next);
  }

  // --- shared ---

  /** What to send next after a failure. */
  private record Step(ResponseCreateParams params, Duration pause) {}

  /**
   * Acts on the engine's decision for a failure: returns the next attempt, or throws what the
   * caller gets (the SDK's exception as it was, or rebuilt with the engine's amended error).
   */
  private Step onFailure(Throwable failure) {
    Throwable error = unwrap(failure);
    RepairDecision decision;
    if (error instanceof OpenAIServiceException e) {
      if (SdkJson.repairFailedBelow(e)) {
        // An AffinityInterceptor on the client already judged this break; its verdict stands.
        logger.debug("HTTP {} for {} was already through a repair below the SDK; passed on",
            e.statusCode(), describe(key));
        throw e;
      }
      byte[] errorBody = SdkJson.errorBody(e);
      boolean rerouted = reroutedBy(e);
      decision = decide(() -> turn.decide(e.statusCode(), errorBody, rerouted));
      switch (decision.action()) {
        case RETRY:
        case REPLAY:
          return step(decision);
        default: // FAIL, or NONE: the error goes to the caller, naming the chain if it had one
          RuntimeException amended = decision.errorBody().map(body -> SdkJson.amended(e, body)).orElse(e);
          throw amended == e ? named(e, decision.note()) : amended;
      }
    }
    if (error instanceof OpenAIIoException e) {
      decision = decide(turn::decideConnectionFailure);
      switch (decision.action()) {
        case FAIL:
          throw new OpenAIIoException(decision.message(), e);
        case RETRY:
        case REPLAY:
          return step(decision);
        default:
          throw named(e, decision.note());
      }
    }
    if (error instanceof RuntimeException e) {
      throw e;
    }
    if (error instanceof Error e) {
      throw e;
    }
    throw new CompletionException(error);
  }

  /**
   * Whether an error came from a backend the gateway chose anew: it set an affinity cookie other
   * than the pin sent. Then a retry on the old pin would only be re-routed again.
   */
  private boolean reroutedBy(OpenAIServiceException e) {
    try {
      AffinityToken fresh = SdkCookies.fromResponse(engine.registry(), engine.responsesUrl(), e.headers());
      return fresh != null && (pin == null || !fresh.value().equals(pin.value()));
    } catch (RuntimeException failure) {
      logger.error("Re-route check skipped for {}: unexpected failure", describe(key), failure);
      return false;
    }
  }

  private Step step(RepairDecision decision) {
    if (decision.action() == RepairDecision.Action.RETRY) {
      return new Step(sent, decision.pause());
    }
    // Without previous_response_id (the replay body has none) and without the stale pin.
    return new Step(SdkJson.replay(decision.replayBody(), unpinned), Duration.ZERO);
  }

  private RepairDecision decide(Supplier<RepairDecision> decision) {
    try {
      return decision.get();
    } catch (RuntimeException e) {
      logger.error("Repair skipped for {}: unexpected failure", describe(key), e);
      return RepairDecision.NONE;
    }
  }

  /**
   * Reports a successful response to the engine; returns what binds its id when it is known (at
   * once for JSON, at {@code response.created} for a stream).
   */
  private Success succeeded(Headers headers) {
    AffinityToken fresh = null;
    RoutingInfo routing = RoutingInfo.EMPTY;
    try {
      routing = SdkCookies.routing(headers);
      fresh = SdkCookies.fromResponse(engine.registry(), engine.responsesUrl(), headers);
      turn.succeeded(fresh, routing);
    } catch (RuntimeException e) {
      logger.error("Affinity not recorded for {}: unexpected failure", describe(key), e);
    }
    // After a replay the chain lives where the replay went: the stale pin must not be inherited.
    ChainKey previous = turn.isReplay() ? null : key;
    return new Success(previous, fresh, routing);
  }

  /** Binds and journals a successful turn once its response id and output are known. */
  final class Success {
    private final @Nullable ChainKey previous;
    private final @Nullable AffinityToken fresh;
    final RoutingInfo routing;
    private boolean bound;

    private Success(@Nullable ChainKey previous, @Nullable AffinityToken fresh, RoutingInfo routing) {
      this.previous = previous;
      this.fresh = fresh;
      this.routing = routing;
    }

    /** The response, read; a failure while reading it names the chain. */
    Response parse(HttpResponseFor<Response> raw) {
      try {
        return raw.parse();
      } catch (OpenAIException e) {
        throw brokeOff(e);
      }
    }

    /** {@code failure}, of the response after it began, with the chain's note on it. */
    <T extends Throwable> T brokeOff(T failure) {
      return named(failure, turn.brokeOff());
    }

    /** Binds the response id to the pin: from {@code response.created} in a stream. */
    void created(String responseId) {
      if (bound) {
        return;
      }
      bound = true;
      try {
        ChainKey created = ChainKey.parse(ChainKey.Kind.RESPONSE, responseId).map(k -> k.in(engine.scope()))
            .orElse(null);
        engine.registry().bind(created, previous, fresh);
      } catch (RuntimeException e) {
        logger.error("Affinity not recorded for {}: unexpected failure", describe(key), e);
      }
    }

    /** Binds (if not yet) and journals the finished response. */
    void completed(Response response) {
      try {
        created(response.id());
        SdkJson.output(response).ifPresent(turn::record);
      } catch (OpenAIInvalidDataException e) {
        // The gateway's bad data (a required field missing or mistyped), not a failure of ours.
        // Its message may quote the data, so only its type is logged.
        logger.debug("Turn not journaled for {}: the SDK could not read the response ({})", describe(key),
            e.getClass().getSimpleName());
      } catch (RuntimeException e) {
        logger.error("Turn not journaled for {}: unexpected failure", describe(key), e);
      }
    }
  }

  private <T> T withMdc(Supplier<T> body) {
    if (key == null) {
      return body.get();
    }
    String outer = MDC.get(AffinityInterceptor.MDC_CHAIN);
    MDC.put(AffinityInterceptor.MDC_CHAIN, key.toString());
    try {
      return body.get();
    } finally {
      if (outer == null) {
        MDC.remove(AffinityInterceptor.MDC_CHAIN);
      } else {
        MDC.put(AffinityInterceptor.MDC_CHAIN, outer);
      }
    }
  }

  private static void pause(Duration pause) {
    if (pause.isZero()) {
      return;
    }
    try {
      Thread.sleep(pause.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new OpenAIIoException("Interrupted while pausing before the retry of a broken chain",
          new InterruptedIOException());
    }
  }

  /** {@code failure} with the chain's note on it, if the turn continued a chain. */
  private static <T extends Throwable> T named(T failure, Optional<ChainNote> note) {
    note.ifPresent(n -> n.attachTo(failure));
    return failure;
  }

  static Throwable unwrap(Throwable error) {
    Throwable current = error;
    while ((current instanceof CompletionException || current instanceof ExecutionException)
        && current.getCause() != null) {
      current = current.getCause();
    }
    return current;
  }

  private static String describe(@Nullable ChainKey key) {
    return key == null ? "a new chain" : key.toString();
  }
}
