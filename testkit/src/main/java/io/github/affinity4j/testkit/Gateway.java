package io.github.affinity4j.testkit;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
  /** The status the gateway answers itself for a pin to a killed backend, or 0 to follow pinnedMode. */
  private final int deadPinStatus;

  private final Map<String, SimulatedBackend> sessions = new ConcurrentHashMap<>();
  private final ConcurrentLinkedDeque<LoggedRequest> log = new ConcurrentLinkedDeque<>();
  private final AtomicInteger logSize = new AtomicInteger();
  private final AtomicLong sequence = new AtomicLong();
  private final Object routingLock = new Object();

  Gateway(List<SimulatedBackend> backends, boolean affinity, String cookieName,
      PinnedBackendMode pinnedMode, IdGenerator ids, boolean recordBodies, int logLimit,
      int deadPinStatus) {
    this.deadPinStatus = deadPinStatus;
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
    String activityId = ids.uuid();
    headers.set("apim-request-id", activityId);

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
      } else if (pinned != null && !pinned.isAlive() && deadPinStatus != 0) {
        target = null;
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
      } else if (pinned != null && !pinned.isAlive() && deadPinStatus != 0) {
        response = backendConnectionFailure(deadPinStatus, activityId);
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
    RequestFacts facts = operation != null && body != null && carriesInput(operation.kind())
        ? RequestFacts.read(body) : RequestFacts.NONE;
    record(new LoggedRequest(seq, method, pathAndQuery, cookie,
        target == null ? null : target.name(), response.status, issued,
        recordBodies && body != null ? new String(body, StandardCharsets.UTF_8) : null,
        facts.previousResponseId(), response.createdResponseId, facts.encryptedInputItems(),
        response.errorCode, response.responseStatus, response.backgroundPoll));
    write(exchange, response, target);
  }

  private static SimResponse gatewayError(int status, String message) {
    return SimResponse.json(status, Json.gatewayErrorBody(status, message));
  }

  /**
   * APIM's own answer when it cannot reach the backend it forwards to: 500 (its
   * {@code BackendConnectionFailure}), or the 502 or 504 some gateways give, with the request's
   * {@code apim-request-id} as {@code activityId}.
   */
  private static SimResponse backendConnectionFailure(int status, String activityId) {
    String message = status == 502 ? "Bad gateway" : status == 504 ? "Gateway timeout"
        : "Internal server error";
    ObjectNode body = Json.object();
    body.put("statusCode", status);
    body.put("message", message);
    body.put("activityId", activityId);
    return SimResponse.json(status, Json.write(body));
  }

  private static boolean carriesInput(Operation.Kind kind) {
    return kind == Operation.Kind.CREATE_RESPONSE || kind == Operation.Kind.COMPACT_RESPONSE
        || kind == Operation.Kind.COUNT_INPUT_TOKENS;
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
   * What the request log records of a body that may continue a chain: its top-level
   * {@code previous_response_id}, and how many items of its top-level {@code input} array carry
   * {@code encrypted_content}. Read by streaming over the body without building a tree; a body
   * that is not a JSON object has neither (the backend answers 400).
   */
  record RequestFacts(@Nullable String previousResponseId, int encryptedInputItems) {
    static final RequestFacts NONE = new RequestFacts(null, 0);

    static RequestFacts read(byte[] body) {
      String previousResponseId = null;
      int encrypted = 0;
      try (JsonParser parser = Json.MAPPER.getFactory().createParser(body)) {
        if (parser.nextToken() != JsonToken.START_OBJECT) {
          return NONE;
        }
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String field = parser.currentName();
          JsonToken value = parser.nextToken();
          if ("previous_response_id".equals(field) && value == JsonToken.VALUE_STRING) {
            previousResponseId = parser.getText();
          } else if ("input".equals(field) && value == JsonToken.START_ARRAY) {
            encrypted = countEncryptedItems(parser);
          } else {
            parser.skipChildren();
          }
        }
      } catch (IOException e) {
        // Not JSON, or cut short: keep what was read before the fault.
      }
      return new RequestFacts(previousResponseId, encrypted);
    }

    /** Counts the objects of the array the parser is at whose {@code encrypted_content} is set. */
    private static int countEncryptedItems(JsonParser parser) throws IOException {
      int count = 0;
      JsonToken element;
      while ((element = parser.nextToken()) != JsonToken.END_ARRAY && element != null) {
        if (element != JsonToken.START_OBJECT) {
          parser.skipChildren();
          continue;
        }
        boolean encrypted = false;
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String field = parser.currentName();
          JsonToken value = parser.nextToken();
          if ("encrypted_content".equals(field) && value == JsonToken.VALUE_STRING
              && !parser.getText().isEmpty()) {
            encrypted = true;
          }
          parser.skipChildren();
        }
        if (encrypted) {
          count++;
        }
      }
      return count;
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
