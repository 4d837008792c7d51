package io.github.affinity4j.openai;

import static java.util.Objects.requireNonNull;

import com.openai.core.http.Headers;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIException;
import com.openai.errors.OpenAIInvalidDataException;
import com.openai.errors.OpenAIIoException;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseRetrieveParams;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.core.internal.RepairDecision;
import io.github.affinity4j.core.internal.Turn;
import io.github.affinity4j.core.internal.TurnOutput;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import io.github.affinity4j.okhttp.internal.CookieNameCheck;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One turn of one conversation, from the SDK's side: the SDK-level transport of the engine's
 * {@link Turn}. It adds the turn's pin to the request as a per-request {@code Cookie} header,
 * sends each attempt through the wrapped client, and tells the turn what came back; the turn
 * decides (retry on the pin, replay without it, or the error the caller gets) and binds and
 * journals the response. Nothing is decided here.
 *
 * <p>The SDK's own retries run inside each {@code create} call, so one SDK call is one attempt
 * here. Not thread-safe: one exchange per turn, its calls one after another (an async turn's
 * steps run on the SDK's threads, in sequence).
 */
final class TurnExchange {
  private static final Logger logger = LoggerFactory.getLogger(TurnExchange.class);

  private final AffinityConversations engine;
  private final Turn turn;
  private final ResponseCreateParams sent;
  private final ResponseCreateParams unpinned;
  private final CookieNameCheck cookieNames;

  private TurnExchange(AffinityConversations engine, Turn turn, ResponseCreateParams sent,
      ResponseCreateParams unpinned, CookieNameCheck cookieNames) {
    this.engine = engine;
    this.turn = turn;
    this.sent = sent;
    this.unpinned = unpinned;
    this.cookieNames = cookieNames;
  }

  /**
   * Prepares the turn that sends {@code turn}: the request with {@code previous_response_id} (if
   * it continues a stored chain) and the pin, and the request as a replay would carry its headers.
   */
  static TurnExchange prepare(AffinityConversations engine, TurnRequest turn) {
    String previousResponseId = turn.previousResponseId();
    ResponseCreateParams request = previousResponseId == null ? turn.params()
        : turn.params().toBuilder().previousResponseId(previousResponseId).build();
    byte[] body = SdkJson.body(request);
    ChainRegistry registry = engine.registry();

    String ownCookies = AffinityCookies.join(request._additionalHeaders().values("Cookie"));
    boolean perRequest = ownCookies != null;
    String cookies = cookiesSent(engine, request);
    boolean callerPinned = AffinityCookies.carriesAffinityCookie(registry, cookies);

    HttpUrl url = engine.responsesUrl();
    Turn made = requireNonNull(engine.engine().turn(engine.scope(), "POST", url.scheme(), url.host(),
        url.encodedPath(), body, callerPinned), "a POST to …/responses is a turn");
    AffinityToken pin = made.pin();
    CookieNameCheck cookieNames = engine.cookieNameCheck();
    if (pin != null) {
      cookieNames.sending(registry, pin.cookiePair());
    } else if (callerPinned) {
      cookieNames.sending(registry, cookies);
    }
    ResponseCreateParams sent = withPin(request, cookies, pin);
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
    return new TurnExchange(engine, made, sent, unpinned, cookieNames);
  }

  /**
   * Prepares a poll of the background response {@code responseId}: a {@code GET} on the backend
   * that holds it (the response's pin), whose finished output the engine journals. Never
   * repaired: only that backend has the response.
   */
  private TurnExchange poll(String responseId) {
    HttpUrl url = engine.responsesUrl();
    String cookies = cookiesSent(engine, unpinned);
    Turn polling = requireNonNull(engine.engine().turn(engine.scope(), "GET", url.scheme(), url.host(),
        url.encodedPath() + "/" + responseId, null,
        AffinityCookies.carriesAffinityCookie(engine.registry(), cookies)), "a GET of …/responses/{id} is a turn");
    ResponseCreateParams headers = withPin(unpinned, cookies, polling.pin());
    return new TurnExchange(engine, polling, headers, headers, cookieNames);
  }

  /**
   * The cookies {@code params} go with: a Cookie header on the params replaces the client's own
   * (the SDK's replaceAllHeaders), so the params' if set, else the client's default.
   */
  private static @Nullable String cookiesSent(AffinityConversations engine, ResponseCreateParams params) {
    String own = AffinityCookies.join(params._additionalHeaders().values("Cookie"));
    return own != null ? own : engine.clientCookies();
  }

  /** Returns {@code params} sending {@code cookies} with {@code pin}'s in place of any affinity cookie. */
  private static ResponseCreateParams withPin(ResponseCreateParams params, @Nullable String cookies,
      @Nullable AffinityToken pin) {
    return pin == null ? params : params.toBuilder()
        .replaceAdditionalHeaders("Cookie", AffinityCookies.merge(cookies, pin.cookiePair()))
        .build();
  }

  /** What a successful turn leaves behind: the response and its routing facts. */
  record Outcome(Response response, RoutingInfo routing) {}

  /** A streamed turn before its events: the SDK's stream, and what binds and journals it. */
  record Streamed(StreamResponse<ResponseStreamEvent> events, Success success) {}

  /** One attempt: the raw response, or the SDK's exception in its place. */
  private record Attempt<T>(@Nullable HttpResponseFor<T> raw, @Nullable RuntimeException error) {
    HttpResponseFor<T> get() {
      RuntimeException failure = error;
      if (failure != null) {
        throw failure;
      }
      return requireNonNull(raw);
    }
  }

  // --- sync and streaming ---

  /**
   * Runs the turn and returns its finished response: a background response is polled on its
   * backend, every {@link AffinityConversations.Builder#backgroundPollInterval poll interval},
   * until it is no longer {@code queued} or {@code in_progress}.
   *
   * @throws OpenAIIoException if interrupted while waiting for a background response (the
   *     thread's interrupt flag is set again)
   */
  // Each raw response is closed by finished(), which reads its body whole.
  @SuppressWarnings("MustBeClosedChecker")
  Outcome execute() {
    Outcome outcome = finished(run(params -> engine.client().responses().withRawResponse().create(params)));
    while (isPending(outcome.response())) {
      String id = outcome.response().id();
      try {
        Thread.sleep(engine.backgroundPollInterval().toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new OpenAIIoException("affinity4j: chain response:" + id + ": interrupted while polling its"
            + " background response (see docs/conversations.md#background-turns)", e);
      }
      TurnExchange polling = poll(id);
      outcome = polling.finished(polling.run(params -> engine.client().responses().withRawResponse()
          .retrieve(retrieveParams(id, params))));
    }
    return outcome;
  }

  // The raw response's stream goes to the caller, who closes it (Conversation.stream's contract).
  @SuppressWarnings("MustBeClosedChecker")
  Streamed stream() {
    HttpResponseFor<StreamResponse<ResponseStreamEvent>> raw =
        run(params -> engine.client().responses().withRawResponse().createStreaming(params)).get();
    return new Streamed(raw.parse(), success(raw.headers()));
  }

  private <T> Attempt<T> run(Function<ResponseCreateParams, HttpResponseFor<T>> call) {
    Turn.MdcScope mdc = turn.inMdc();
    try {
      return turn.run(new SyncSdk<>(call));
    } finally {
      mdc.close();
    }
  }

  private final class SyncSdk<T> extends Sdk<T> implements Turn.Transport<Attempt<T>> {
    private final Function<ResponseCreateParams, HttpResponseFor<T>> call;

    SyncSdk(Function<ResponseCreateParams, HttpResponseFor<T>> call) {
      this.call = call;
    }

    @Override
    public Attempt<T> send(byte @Nullable [] replayBody) {
      try {
        return new Attempt<>(call.apply(params(replayBody)), null);
      } catch (OpenAIServiceException | OpenAIIoException e) {
        return new Attempt<>(null, e);
      }
    }
  }

  // --- async ---

  /** As {@link #execute()}, without blocking: a poll waits on a delay, not a sleeping thread. */
  CompletableFuture<Outcome> executeAsync() {
    return turn.runAsync(new AsyncSdk(params -> engine.client().async().responses().withRawResponse().create(params)))
        .thenApply(this::finished)
        .thenCompose(this::pollAsyncUntilDone);
  }

  private CompletableFuture<Outcome> pollAsyncUntilDone(Outcome outcome) {
    if (!isPending(outcome.response())) {
      return CompletableFuture.completedFuture(outcome);
    }
    String id = outcome.response().id();
    Executor later = CompletableFuture.delayedExecutor(engine.backgroundPollInterval().toMillis(),
        TimeUnit.MILLISECONDS);
    return CompletableFuture.supplyAsync(() -> poll(id), later).thenCompose(polling -> polling.turn
        .runAsync(polling.new AsyncSdk(params -> engine.client().async().responses().withRawResponse()
            .retrieve(retrieveParams(id, params))))
        .thenApply(polling::finished)
        .thenCompose(polling::pollAsyncUntilDone));
  }

  private final class AsyncSdk extends Sdk<Response> implements Turn.AsyncTransport<Attempt<Response>> {
    private final Function<ResponseCreateParams, CompletableFuture<HttpResponseFor<Response>>> call;

    AsyncSdk(Function<ResponseCreateParams, CompletableFuture<HttpResponseFor<Response>>> call) {
      this.call = call;
    }

    @Override
    public CompletableFuture<Attempt<Response>> send(byte @Nullable [] replayBody) {
      CompletableFuture<HttpResponseFor<Response>> sent;
      try {
        sent = call.apply(params(replayBody));
      } catch (RuntimeException e) {
        sent = CompletableFuture.failedFuture(e);
      }
      return sent.handle((raw, error) -> error == null ? new Attempt<>(raw, null)
          : new Attempt<>(null, asRuntime(unwrap(error))));
    }
  }

  /** The response of a successful attempt, read, bound and journaled, with its routing facts. */
  // The raw response is closed by parse(), which reads its body whole.
  @SuppressWarnings("MustBeClosedChecker")
  private Outcome finished(Attempt<Response> attempt) {
    HttpResponseFor<Response> raw = attempt.get();
    Success success = success(raw.headers());
    Response response = success.parse(raw);
    success.completed(response);
    return new Outcome(response, success.routing);
  }

  private static boolean isPending(Response response) {
    return response.status().filter(status -> status.equals(ResponseStatus.QUEUED)
        || status.equals(ResponseStatus.IN_PROGRESS)).isPresent();
  }

  /** A retrieval of {@code responseId} with the headers and query parameters of {@code like}. */
  private static ResponseRetrieveParams retrieveParams(String responseId, ResponseCreateParams like) {
    return ResponseRetrieveParams.builder()
        .responseId(responseId)
        .additionalHeaders(like._additionalHeaders())
        .additionalQueryParams(like._additionalQueryParams())
        .build();
  }

  // --- shared ---

  /**
   * The params of an attempt: as prepared (or with the body the turn sends on its pin), or the
   * replay body without the stale pin.
   */
  private ResponseCreateParams params(byte @Nullable [] replayBody) {
    if (replayBody != null) {
      return SdkJson.replay(replayBody, unpinned);
    }
    byte[] pinnedBody = turn.pinnedBody();
    return pinnedBody == null ? sent : SdkJson.replay(pinnedBody, sent);
  }

  /** Reads the SDK's attempts for the turn, and gives the caller what the turn decided. */
  private abstract class Sdk<T> implements Turn.Attempts<Attempt<T>> {
    @Override
    public Turn.Outcome judge(Attempt<T> attempt) {
      HttpResponseFor<T> raw = attempt.raw();
      if (raw != null) {
        return Turn.Outcome.succeeded(fresh(raw.headers()), () -> SdkCookies.routing(raw.headers()));
      }
      RuntimeException error = attempt.error();
      if (error instanceof OpenAIServiceException e) {
        return Turn.Outcome.error(e.statusCode(), SdkJson.errorBody(e), fresh(e.headers()),
            e.headers().values(ChainNote.HEADER).stream().findFirst().orElse(null));
      }
      if (error instanceof OpenAIIoException e) {
        return Turn.Outcome.connectionFailed(e);
      }
      return Turn.Outcome.notJudged();
    }

    @Override
    public void discard(Attempt<T> attempt) {
      // An error holds no open body; a success is never discarded.
    }

    @Override
    public Attempt<T> deliver(Attempt<T> attempt, RepairDecision decision) {
      RuntimeException error = requireNonNull(attempt.error(), "only a failure is delivered");
      RuntimeException given = error;
      if (error instanceof OpenAIServiceException e) {
        given = decision.errorBody().map(body -> SdkJson.amended(e, body)).orElse(e);
      } else if (error instanceof OpenAIIoException e && decision.action() == RepairDecision.Action.FAIL) {
        given = new OpenAIIoException(decision.message(), e);
      }
      RuntimeException named = given;
      decision.note().ifPresent(note -> note.attachTo(named));
      return new Attempt<>(null, named);
    }
  }

  /**
   * The affinity cookie a response set; null if none, or unreadable (logged). Its cookie names
   * are checked against the configured ones first, while that check is not settled.
   */
  private @Nullable AffinityToken fresh(Headers headers) {
    try {
      cookieNames.received(engine.registry(), engine.responsesUrl(), headers.values("Set-Cookie"));
      return SdkCookies.fromResponse(engine.registry(), engine.responsesUrl(), headers);
    } catch (RuntimeException failure) {
      logger.error("Affinity cookie not read for {}: unexpected failure", turn, failure);
      return null;
    }
  }

  private Success success(Headers headers) {
    RoutingInfo routing = RoutingInfo.EMPTY;
    try {
      routing = SdkCookies.routing(headers);
    } catch (RuntimeException e) {
      logger.error("Routing not read for {}: unexpected failure", turn, e);
    }
    return new Success(routing);
  }

  /** Binds and journals a successful turn once its response id and output are known. */
  final class Success {
    final RoutingInfo routing;

    private Success(RoutingInfo routing) {
      this.routing = routing;
    }

    /** The response, read; a failure while reading it names the chain. */
    Response parse(HttpResponseFor<Response> raw) {
      try {
        return raw.parse();
      } catch (OpenAIException e) {
        throw turn.brokeOff(e);
      }
    }

    /** {@code failure}, of the response after it began, with the chain's note on it. */
    <T extends Throwable> T brokeOff(T failure) {
      return turn.brokeOff(failure);
    }

    /** Binds the response id to the pin: from {@code response.created} in a stream. */
    void created(String responseId) {
      turn.created(responseId);
    }

    /** Binds (if not yet) and journals the finished response. */
    void completed(Response response) {
      try {
        Optional<TurnOutput> output = SdkJson.output(response);
        if (output.isPresent()) {
          turn.completed(output.get());
        } else {
          turn.created(response.id());
        }
      } catch (OpenAIInvalidDataException e) {
        // The gateway's bad data (a required field missing or mistyped), not a failure of ours.
        // Its message may quote the data, so only its type is logged.
        logger.debug("Turn not journaled for {}: the SDK could not read the response ({})", turn,
            e.getClass().getSimpleName());
      } catch (RuntimeException e) {
        logger.error("Turn not journaled for {}: unexpected failure", turn, e);
      }
    }
  }

  private static RuntimeException asRuntime(Throwable error) {
    if (error instanceof RuntimeException e) {
      return e;
    }
    if (error instanceof Error e) {
      throw e;
    }
    return new CompletionException(error);
  }

  static Throwable unwrap(Throwable error) {
    Throwable current = error;
    while ((current instanceof CompletionException || current instanceof ExecutionException)
        && current.getCause() != null) {
      current = current.getCause();
    }
    return current;
  }
}
