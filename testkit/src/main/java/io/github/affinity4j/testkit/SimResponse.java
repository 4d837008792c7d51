package io.github.affinity4j.testkit;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What a backend or the gateway answers: a status, headers, and either a whole body or a list of
 * server-sent events written one at a time.
 */
final class SimResponse {
  final int status;
  final Map<String, String> headers = new LinkedHashMap<>();
  /** The whole body; non-null unless this is a stream. */
  final byte @Nullable [] body;
  /** Complete SSE frames ({@code event: …\ndata: …\n\n}); non-null for a stream. */
  final @Nullable List<String> events;
  /** Id of the response a backend created while answering, or null; for the request log. */
  @Nullable String createdResponseId;
  /** The {@code code} of an error answer, or null; for the request log. */
  @Nullable String errorCode;
  /** The {@code status} of the response object answered, or null; for the request log. */
  @Nullable String responseStatus;
  /** Whether this answers a retrieval of a background response; for the request log. */
  boolean backgroundPoll;

  private SimResponse(int status, byte @Nullable [] body, @Nullable List<String> events) {
    this.status = status;
    this.body = body;
    this.events = events;
  }

  static SimResponse json(int status, String json) {
    SimResponse response = new SimResponse(status, json.getBytes(StandardCharsets.UTF_8), null);
    response.headers.put("Content-Type", "application/json");
    return response;
  }

  static SimResponse stream(List<String> events) {
    SimResponse response = new SimResponse(200, null, List.copyOf(events));
    response.headers.put("Content-Type", "text/event-stream; charset=utf-8");
    response.headers.put("Cache-Control", "no-cache");
    return response;
  }

  SimResponse header(String name, String value) {
    headers.put(name, value);
    return this;
  }

  boolean isStream() {
    return events != null;
  }
}
