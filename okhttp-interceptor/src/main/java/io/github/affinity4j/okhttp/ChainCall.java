package io.github.affinity4j.okhttp;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.Engine;
import io.github.affinity4j.core.internal.RepairDecision;
import io.github.affinity4j.core.internal.Turn;
import io.github.affinity4j.okhttp.internal.AddedHeaders;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import io.github.affinity4j.okhttp.internal.CookieNameCheck;
import java.io.IOException;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call through the {@link AffinityInterceptor}, as the engine's {@link Turn.Transport}: sends
 * each attempt down the OkHttp chain (with the turn's pin, or the replay body without any
 * affinity cookie), tells the turn what came back, and gives the caller what the turn decided.
 * The I/O only; the turn decides. Not thread-safe: one per call.
 */
final class ChainCall implements Turn.Transport<ChainCall.Attempt> {
  private static final Logger logger = LoggerFactory.getLogger(AffinityInterceptor.class);

  /** Error bodies are small; this much is enough to classify one. */
  private static final long MAX_ERROR_BODY_BYTES = 64 * 1024;

  private final Engine engine;
  private final Interceptor.Chain chain;
  private final Request request;
  private final Turn turn;
  private final AtomicBoolean warnedRedirect;
  private final CookieNameCheck cookieNames;

  /** One attempt's result: a response, or the connection failure in its place. */
  static final class Attempt {
    final @Nullable Response response;
    final @Nullable IOException failure;

    Attempt(@Nullable Response response, @Nullable IOException failure) {
      this.response = response;
      this.failure = failure;
    }
  }

  ChainCall(Engine engine, Interceptor.Chain chain, Request request, Turn turn, AtomicBoolean warnedRedirect,
      CookieNameCheck cookieNames) {
    this.engine = engine;
    this.chain = chain;
    this.request = request;
    this.turn = turn;
    this.warnedRedirect = warnedRedirect;
    this.cookieNames = cookieNames;
  }

  /** Runs the turn: its attempts, as it decides; returns the response, or throws the failure. */
  Response run() throws IOException {
    Attempt attempt = turn.run(this);
    IOException failure = attempt.failure;
    if (failure != null) {
      throw failure;
    }
    return requireNonNull(attempt.response);
  }

  @Override
  public Attempt send(byte @Nullable [] replayBody) {
    Request attempt = replayBody == null ? withPin(withBody(request, turn.pinnedBody()), turn.pin())
        : replay(request, replayBody);
    cookieNames.sending(engine.registry(), AffinityCookies.cookieHeader(attempt.headers()));
    try {
      Response response = chain.proceed(attempt);
      if (turn.pin() != null && replayBody == null) {
        checkRedirect(attempt, response);
      }
      return new Attempt(response, null);
    } catch (IOException e) {
      return new Attempt(null, e);
    }
  }

  @Override
  public Turn.Outcome judge(Attempt attempt) {
    Response response = attempt.response;
    if (response == null) {
      return Turn.Outcome.connectionFailed(requireNonNull(attempt.failure));
    }
    cookieNames.received(engine.registry(), response.request().url(), response.headers("Set-Cookie"));
    AffinityToken fresh = freshCookie(response);
    if (response.isSuccessful()) {
      return Turn.Outcome.succeeded(fresh, () -> RoutingInfo.from(response::header));
    }
    byte[] errorBody;
    try {
      errorBody = BoundedBodies.peekDecoded(response, MAX_ERROR_BODY_BYTES, logger);
    } catch (IOException e) {
      errorBody = new byte[0];
    }
    return Turn.Outcome.error(response.code(), errorBody, fresh, response.header(ChainNote.HEADER));
  }

  @Override
  public void discard(Attempt attempt) {
    if (attempt.response != null) {
      attempt.response.close();
    }
  }

  @Override
  public Attempt deliver(Attempt attempt, RepairDecision decision) {
    Optional<ChainNote> note = decision.note();
    IOException failure = attempt.failure;
    if (failure != null) {
      IOException given = decision.action() == RepairDecision.Action.FAIL
          ? new IOException(decision.message(), failure) : failure;
      note.ifPresent(n -> n.attachTo(given));
      return new Attempt(null, given);
    }
    return new Attempt(amended(requireNonNull(attempt.response), decision), null);
  }

  /** The affinity cookie a response set, read once per response; null if none or unusable. */
  private @Nullable AffinityToken freshCookie(Response response) {
    try {
      return AffinityCookies.fromResponse(engine.registry(), response.request().url(), response.headers());
    } catch (RuntimeException e) {
      logger.error("Affinity cookie of {} not read: unexpected failure",
          AffinityCookies.redacted(response.request().url()), e);
      return null;
    }
  }

  /** {@code request} with {@code body} in place of its own; itself if {@code body} is null. */
  private static Request withBody(Request request, byte @Nullable [] body) {
    return body == null ? request : request.newBuilder()
        .method(request.method(), RequestBody.create(body, requireNonNull(request.body()).contentType())).build();
  }

  /** The replay request: the replay body, and the caller's cookies without any affinity cookie. */
  private Request replay(Request request, byte[] replayBody) {
    RequestBody body = requireNonNull(request.body());
    Request.Builder replay = request.newBuilder().method(request.method(),
        RequestBody.create(replayBody, body.contentType()));
    String cookies = AffinityCookies.withoutAffinityCookies(engine.registry(),
        AffinityCookies.cookieHeader(request.headers()));
    AffinityCookies.setCookieHeader(replay, cookies);
    return replay.build();
  }

  /**
   * The error response as the caller gets it: with the decision's amended body, if it made one,
   * and its note as header {@link ChainNote#HEADER}, so a layer above knows it was judged.
   */
  private static Response amended(Response response, RepairDecision decision) {
    Optional<ChainNote> note = decision.note();
    Optional<byte[]> amended = decision.errorBody();
    if (note.isEmpty() && amended.isEmpty()) {
      return response;
    }
    Response.Builder builder = response.newBuilder();
    note.ifPresent(n -> builder.header(ChainNote.HEADER, n.headerValue()));
    if (amended.isPresent()) {
      byte[] body = BoundedBodies.encodedLike(response, amended.get());
      MediaType type = response.body() == null ? null : response.body().contentType();
      response.close();
      builder.body(ResponseBody.create(body, type));
      if (response.header("Content-Length") != null) {
        builder.header("Content-Length", Integer.toString(body.length));
      }
    }
    return builder.build();
  }

  private static Request withPin(Request request, @Nullable AffinityToken pin) {
    if (pin == null) {
      return request;
    }
    String pair = pin.cookiePair();
    return AddedHeaders.cookie(request, AffinityCookies.merge(AffinityCookies.cookieHeader(request.headers()), pair),
        pair);
  }

  /**
   * Says once, at WARN, that a request with a pin followed a redirect without the guard: the pin
   * and added headers may have reached the redirect's target.
   */
  private void checkRedirect(Request sent, Response response) {
    if (response.priorResponse() != null && !warnedRedirect.get()
        && AddedHeaders.leftOriginUnguarded(sent, response) && warnedRedirect.compareAndSet(false, true)) {
      logger.warn("A request carrying an affinity pin to {} followed a redirect without"
          + " AffinityInterceptor.redirectGuard() installed as a network interceptor; the pin may have"
          + " reached another origin. Install the guard, or turn redirects off; see docs/security.md",
          AffinityCookies.redacted(sent.url()));
    }
  }
}
