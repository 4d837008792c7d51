package io.github.affinity4j.okhttp;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.internal.StreamWatch;
import io.github.affinity4j.core.internal.TurnInput;
import io.github.affinity4j.core.internal.TurnOutput;
import io.github.affinity4j.okhttp.ChainBackends.Backend;
import java.io.IOException;
import java.util.Optional;
import java.util.function.Function;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Okio;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads an exchange's bodies for the routing log: the chain a request continues (its body read
 * within a bound, as {@link BoundedBodies} allows, and sent from that copy) and the chain its answer
 * creates (a JSON answer peeked, a stream teed into {@link ChainBackends}). Thread-safe.
 */
final class RoutingBodies {
  // Named after the interceptor: that is the logger users configure for the routing log.
  private static final Logger logger = LoggerFactory.getLogger(RoutingLogInterceptor.class);
  // A Responses API object starts with "id" and "object"; 64 KiB is ample and bounds the peek.
  private static final long RESPONSE_PEEK_BYTES = 64 * 1024;
  // API error bodies are a few hundred bytes; "error" comes first in every shape seen.
  private static final long ERROR_PEEK_BYTES = 16 * 1024;

  private final long maxBodyBytes;
  private final ChainBackends backends;
  private final Function<Request, ChainScope> scopes;

  /**
   * Reads request bodies up to {@code maxBodyBytes}; remembers created chains in {@code backends};
   * scopes chains with {@code scopes}.
   */
  RoutingBodies(long maxBodyBytes, ChainBackends backends, Function<Request, ChainScope> scopes) {
    this.scopes = scopes;
    this.maxBodyBytes = maxBodyBytes;
    this.backends = backends;
  }

  /** The request to send in place of one, and the chain it continues (null if none or unknown). */
  record Outgoing(Request request, @Nullable ChainKey chain) {}

  /** The response to pass on in place of one, and the chain it created (null if none, or later). */
  record Incoming(Response response, @Nullable ChainKey created) {}

  /**
   * The chain {@code request} continues, from its body or path. A body that is read is sent from
   * the bytes read: it may not write the same twice.
   *
   * @throws IOException if the body fails to write, as it would fail when sent
   */
  Outgoing outgoing(Request request) throws IOException {
    String path = request.url().encodedPath();
    Request sent = request;
    try {
      if (TurnInput.hasBodyKey(request.method(), path)) {
        byte[] bytes = readBody(request, path);
        if (bytes == null) {
          return new Outgoing(request, null);
        }
        sent = request.newBuilder()
            .method(request.method(), RequestBody.create(bytes, requireNonNull(request.body(), "read, so present").contentType()))
            .build();
        return new Outgoing(sent, inScope(TurnInput.fromRequestBody(bytes, 0, bytes.length).flatMap(TurnInput::chain), request));
      }
      if (TurnInput.isAffected(request.method(), path)) {
        return new Outgoing(request, inScope(TurnInput.fromPath(path), request));
      }
      return new Outgoing(request, null);
    } catch (RuntimeException e) {
      // The routing log does without a chain; what is sent is the body whole, read or not.
      logger.debug("Request body of {} {} not parsed ({}); chain unknown",
          request.method(), path, e.getClass().getSimpleName());
      return new Outgoing(sent, null);
    }
  }

  /**
   * The chain a successful answer served by {@code current} creates, remembered as served there.
   * A JSON answer is peeked now; a stream's chain is read as the caller reads it, from the response
   * returned here. A compressed stream is passed on unread: its id would need a decoder beside the
   * caller's.
   */
  Incoming incoming(Request sent, Response response, @Nullable Backend current) {
    ResponseBody body = response.body();
    if (current == null || body == null || !response.isSuccessful()
        || !TurnInput.isAffected(sent.method(), sent.url().encodedPath())) {
      return new Incoming(response, null);
    }
    if (!BoundedBodies.isEventStream(response)) {
      ChainKey created = inScope(createdKey(response), sent);
      if (created != null) {
        backends.created(created, current);
      }
      return new Incoming(response, created);
    }
    if (!BoundedBodies.isIdentityEncoded(response)) {
      return new Incoming(response, null);
    }
    ChainScope scope = scopes.apply(sent);
    SseTee tee = new SseTee(body.source(),
        StreamWatch.ids(created -> backends.created(created.in(scope), current)), failure -> failure);
    return new Incoming(response.newBuilder()
        .body(ResponseBody.create(Okio.buffer(tee), body.contentType(), body.contentLength()))
        .build(), null);
  }

  /**
   * The {@code error=} value of a failed (non-2xx) answer: its API error's code, else its type,
   * sanitised ({@link RoutingErrorCode}), from the first 16 KiB of the body, peeked, gzip decoded;
   * null for a successful answer, a stream, or a body without either.
   */
  @Nullable String errorCode(Response response) {
    if (response.isSuccessful() || response.body() == null || BoundedBodies.isEventStream(response)) {
      return null;
    }
    try {
      return RoutingErrorCode.of(BoundedBodies.peekDecoded(response, ERROR_PEEK_BYTES, null));
    } catch (IOException e) {
      // The caller reads the body next and meets the same failure.
      logger.debug("Error body unreadable ({}); no error code", e.getClass().getSimpleName());
      return null;
    }
  }

  /** The body's bytes, read only as {@link BoundedBodies} allows, so it is sent whole; else null. */
  private byte @Nullable [] readBody(Request request, String path) throws IOException {
    RequestBody body = request.body();
    if (body == null) {
      return null;
    }
    String unreadable = BoundedBodies.unreadable(body, maxBodyBytes);
    if (unreadable != null) {
      logger.debug("Request body of {} {} not read: it {}; chain unknown",
          request.method(), path, unreadable);
      return null;
    }
    return BoundedBodies.read(body, maxBodyBytes);
  }

  /**
   * The key in the scope of {@code request}, so that a host reusing another's response id cannot
   * make the log report a move that did not happen.
   */
  private @Nullable ChainKey inScope(Optional<ChainKey> key, Request request) {
    return key.map(k -> k.in(scopes.apply(request))).orElse(null);
  }

  /**
   * The chain key a successful JSON answer creates, from a bounded peek, gzip decoded; empty if
   * none, or if the body is in another encoding.
   */
  private static Optional<ChainKey> createdKey(Response response) {
    try {
      byte[] peeked = BoundedBodies.peekDecoded(response, RESPONSE_PEEK_BYTES, null);
      return TurnOutput.chainOf(peeked, 0, peeked.length);
    } catch (IOException e) {
      // The caller reads the body next and meets the same failure.
      logger.debug("Response body unreadable ({}); no response id", e.getClass().getSimpleName());
      return Optional.empty();
    }
  }
}
