package io.github.affinity4j.testkit;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * A recognised API operation: the resource path after one of the accepted prefixes
 * ({@code /openai/v1/}, {@code /v1/}, or {@code /openai/} with an {@code api-version} query).
 *
 * @param kind what is asked for
 * @param id the response or conversation id in the path, or {@code null}
 * @param query the raw query string, or {@code null}
 */
record Operation(Kind kind, @Nullable String id, @Nullable String query) {
  enum Kind {
    CREATE_RESPONSE, GET_RESPONSE, DELETE_RESPONSE,
    CANCEL_RESPONSE, LIST_INPUT_ITEMS, COMPACT_RESPONSE, COUNT_INPUT_TOKENS,
    CREATE_CONVERSATION, GET_CONVERSATION, DELETE_CONVERSATION
  }

  Operation(Kind kind, @Nullable String id) {
    this(kind, id, null);
  }

  /** The operation a request asks for, or {@code null} when the gateway does not know it. */
  static @Nullable Operation parse(String method, String path, @Nullable String query) {
    String rest;
    if (path.startsWith("/openai/v1/")) {
      rest = path.substring("/openai/v1/".length());
    } else if (path.startsWith("/v1/")) {
      rest = path.substring("/v1/".length());
    } else if (path.startsWith("/openai/") && query != null && query.contains("api-version=")) {
      rest = path.substring("/openai/".length());
    } else {
      return null;
    }
    String[] segments = rest.split("/", -1);
    for (String segment : segments) {
      if (segment.isEmpty()) {
        return null;
      }
    }
    Kind kind;
    if (segments[0].equals("responses")) {
      kind = responsesKind(method, segments);
    } else if (segments[0].equals("conversations")) {
      kind = conversationsKind(method, segments);
    } else {
      return null;
    }
    if (kind == null) {
      return null;
    }
    boolean hasId = segments.length > 1 && kind != Kind.COMPACT_RESPONSE
        && kind != Kind.COUNT_INPUT_TOKENS;
    return new Operation(kind, hasId ? segments[1] : null, query);
  }

  private static @Nullable Kind responsesKind(String method, String[] segments) {
    switch (segments.length) {
      case 1:
        return method.equals("POST") ? Kind.CREATE_RESPONSE : null;
      case 2:
        if (method.equals("POST")) {
          return segments[1].equals("compact") ? Kind.COMPACT_RESPONSE
              : segments[1].equals("input_tokens") ? Kind.COUNT_INPUT_TOKENS : null;
        }
        return method.equals("GET") ? Kind.GET_RESPONSE
            : method.equals("DELETE") ? Kind.DELETE_RESPONSE : null;
      case 3:
        if (method.equals("POST") && segments[2].equals("cancel")) {
          return Kind.CANCEL_RESPONSE;
        }
        return method.equals("GET") && segments[2].equals("input_items") ? Kind.LIST_INPUT_ITEMS : null;
      default:
        return null;
    }
  }

  private static @Nullable Kind conversationsKind(String method, String[] segments) {
    switch (segments.length) {
      case 1:
        return method.equals("POST") ? Kind.CREATE_CONVERSATION : null;
      case 2:
        return method.equals("GET") ? Kind.GET_CONVERSATION
            : method.equals("DELETE") ? Kind.DELETE_CONVERSATION : null;
      default:
        return null;
    }
  }

  /** The decoded value of query parameter {@code name}, or {@code null} when it is absent. */
  @Nullable String queryParam(String name) {
    if (query == null) {
      return null;
    }
    for (String pair : query.split("&")) {
      int eq = pair.indexOf('=');
      String key = eq < 0 ? pair : pair.substring(0, eq);
      if (URLDecoder.decode(key, StandardCharsets.UTF_8).equals(name)) {
        return eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      }
    }
    return null;
  }
}
