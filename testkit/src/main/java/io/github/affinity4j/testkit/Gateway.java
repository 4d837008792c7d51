package io.github.affinity4j.testkit;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * The gateway: routes each request to a backend of the pool (priority groups, then smooth
 * weighted round-robin), keeps session affinity by cookie, answers for the pool when no backend
 * can, and adds the headers the reference APIM policy sets.
 */
final class Gateway implements HttpHandler {
  private static final System.Logger logger = System.getLogger(Gateway.class.getName());
  static final int MAX_BODY_BYTES = 32 * 1024 * 1024;

  private final List<SimulatedBackend> backends;
  private final boolean affinity;
  private final String cookieName;
  private final PinnedBackendMode pinnedMode;
  private final IdGenerator ids;
  private final boolean recordBodies;
  private final int logLimit;

  private final Map<String, SimulatedBackend> sessions = new ConcurrentHashMap<>();
  private final ConcurrentLinkedDeque<LoggedRequest> log = new ConcurrentLinkedDeque<>();
  private final AtomicInteger logSize = new AtomicInteger();
  private final AtomicLong sequence = new AtomicLong();
  private final Object routingLock = new Object();

  Gateway(List<SimulatedBackend> backends, boolean affinity, String cookieName,
      PinnedBackendMode pinnedMode, IdGenerator ids, boolean recordBodies, int logLimit) {
    this.backends = List.copyOf(backends);
    this.affinity = affinity;
    this.cookieName = cookieName;
    this.pinnedMode = pinnedMode;
    this.ids = ids;
    this.recordBodies = recordBodies;
    this.logLimit = logLimit;
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    long seq = sequence.incrementAndGet();
    String method = exchange.getRequestMethod();
    URI uri = exchange.getRequestURI();
    String pathAndQuery = uri.getRawQuery() == null ? uri.getRawPath()
        : uri.getRawPath() + "?" + uri.getRawQuery();
    String cookie = affinity ? cookieValue(exchange.getRequestHeaders(), cookieName) : null;
    byte[] body = readBody(exchange.getRequestBody());
    Headers headers = exchange.getResponseHeaders();
    headers.set("x-request-id", ids.uuid());
    headers.set("apim-request-id", ids.uuid());

    SimulatedBackend target = null;
    String issued = null;
    SimResponse response;
    Operation operation = Operation.parse(method, uri.getRawPath(), uri.getRawQuery());
    if (body == null) {
      response = gatewayError(413, "Request entity too large: the limit is " + MAX_BODY_BYTES + " bytes.");
    } else if (operation == null) {
      response = gatewayError(404, "Resource not found");
    } else {
      SimulatedBackend pinned = cookie == null ? null : sessions.get(cookie);
      if (pinned != null && pinned.isAvailable()) {
        target = pinned;
      } else if (pinned != null && pinnedMode == PinnedBackendMode.STRICT) {
        target = null;
      } else {
        target = choose();
        if (target != null && affinity) {
          issued = ids.next("", 40);
          sessions.put(issued, target);
        }
      }
      if (target != null) {
        try {
          response = target.serve(operation, body);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          response = gatewayError(503, "Service Unavailable: the simulator is shutting down.");
        } catch (RuntimeException e) {
          // A bug of the simulator's own: answer like a failing backend rather than drop the
          // connection, and say so loudly.
          logger.log(System.Logger.Level.ERROR, "APIM simulator backend " + target.name()
              + " failed on " + method + " " + uri.getRawPath(), e);
          response = SimResponse.json(500, Json.errorBody("The simulator failed: " + e,
              "server_error", null, null));
        }
        target.recordOutcome(response.status, response.headers.get("Retry-After"));
        headers.set("x-backend-region", target.region());
      } else if (pinned != null) {
        response = gatewayError(503, pinned.isAlive()
            ? "Service Unavailable: the backend circuit breaker is open."
            : "Service Unavailable: the backend is down.");
      } else {
        response = gatewayError(503, "Service Unavailable: no backend in the pool is available.");
      }
    }
    if (issued != null) {
      headers.add("Set-Cookie", cookieName + "=" + issued + "; Path=/; HttpOnly");
    }
    String previousResponseId = operation != null && operation.kind() == Operation.Kind.CREATE_RESPONSE
        && body != null ? previousResponseId(body) : null;
    record(new LoggedRequest(seq, method, pathAndQuery, cookie,
        target == null ? null : target.name(), response.status, issued,
        recordBodies && body != null ? new String(body, StandardCharsets.UTF_8) : null,
        previousResponseId, response.createdResponseId));
    write(exchange, response, target);
  }

  private static SimResponse gatewayError(int status, String message) {
    return SimResponse.json(status, Json.gatewayErrorBody(status, message));
  }

  /**
   * Picks a backend for a request without a usable pin: the highest-priority group that has an
   * available backend, then smooth weighted round-robin within it (equal weights give plain
   * round-robin). Returns null when no backend is available.
   */
  private @Nullable SimulatedBackend choose() {
    synchronized (routingLock) {
      int bestPriority = Integer.MAX_VALUE;
      List<SimulatedBackend> group = new ArrayList<>();
      for (SimulatedBackend backend : backends) {
        if (!backend.isAvailable()) {
          continue;
        }
        int priority = backend.spec().priority();
        if (priority < bestPriority) {
          bestPriority = priority;
          group.clear();
        }
        if (priority == bestPriority) {
          group.add(backend);
        }
      }
      SimulatedBackend best = null;
      int total = 0;
      for (SimulatedBackend backend : group) {
        backend.currentWeight += backend.spec().weight();
        total += backend.spec().weight();
        if (best == null || backend.currentWeight > best.currentWeight) {
          best = backend;
        }
      }
      if (best != null) {
        best.currentWeight -= total;
      }
      return best;
    }
  }

  private static void write(HttpExchange exchange, SimResponse response,
      @Nullable SimulatedBackend target) throws IOException {
    Headers headers = exchange.getResponseHeaders();
    response.headers.forEach(headers::set);
    if (!response.isStream()) {
      byte[] body = Objects.requireNonNull(response.body, "a non-stream response has a body");
      exchange.sendResponseHeaders(response.status, body.length == 0 ? -1 : body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
      return;
    }
    int cutAfter = target == null ? -1 : target.takeStreamCut();
    List<String> events = Objects.requireNonNull(response.events, "a stream has events");
    exchange.sendResponseHeaders(response.status, 0);
    OutputStream out = exchange.getResponseBody();
    for (int i = 0; i < events.size(); i++) {
      if (i == cutAfter) {
        // Leaving the handler by an exception makes the server drop the connection without the
        // last chunk: the client sees a stream cut mid-way, not a clean end.
        throw new StreamCutException(cutAfter);
      }
      out.write(events.get(i).getBytes(StandardCharsets.UTF_8));
      out.flush();
    }
    out.close();
  }

  /** The value of cookie {@code name} in the request's Cookie headers, or null. */
  static @Nullable String cookieValue(Headers requestHeaders, String name) {
    List<String> cookieHeaders = requestHeaders.get("Cookie");
    if (cookieHeaders == null) {
      return null;
    }
    for (String header : cookieHeaders) {
      for (String pair : header.split(";")) {
        int eq = pair.indexOf('=');
        if (eq > 0 && pair.substring(0, eq).trim().equals(name)) {
          return pair.substring(eq + 1).trim();
        }
      }
    }
    return null;
  }

  /**
   * The top-level {@code previous_response_id} of a create-response body, or null when it has none
   * or is not a JSON object. Streams over the body without building a tree.
   */
  static @Nullable String previousResponseId(byte[] body) {
    try (JsonParser parser = Json.MAPPER.getFactory().createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("previous_response_id".equals(field)) {
          return value == JsonToken.VALUE_STRING ? parser.getText() : null;
        }
        parser.skipChildren();
      }
      return null;
    } catch (IOException e) {
      return null; // not JSON: the backend answers 400, and the log says the request continued nothing
    }
  }

  /** The whole body, or null when it is larger than {@link #MAX_BODY_BYTES}. */
  private static byte @Nullable [] readBody(InputStream in) throws IOException {
    try (in) {
      byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
      if (body.length > MAX_BODY_BYTES) {
        in.transferTo(OutputStream.nullOutputStream());
        return null;
      }
      return body;
    }
  }

  private void record(LoggedRequest entry) {
    log.addLast(entry);
    if (logSize.incrementAndGet() > logLimit && log.pollFirst() != null) {
      logSize.decrementAndGet();
    }
  }

  List<LoggedRequest> requestLog() {
    List<LoggedRequest> entries = new ArrayList<>(log);
    entries.sort((a, b) -> Long.compare(a.sequence(), b.sequence()));
    return entries;
  }

  void clearRequestLog() {
    log.clear();
    logSize.set(0);
  }

  @Nullable SimulatedBackend pinnedBackend(String cookieValue) {
    return sessions.get(cookieValue);
  }

  /** Thrown to make the HTTP server drop a connection mid-stream. */
  static final class StreamCutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    StreamCutException(int events) {
      super("stream cut after " + events + " events", null, false, false);
    }
  }
}
