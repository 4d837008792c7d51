package io.github.affinity4j.testkit;

import org.jspecify.annotations.Nullable;

/**
 * A recognised API operation: the resource path after one of the accepted prefixes
 * ({@code /openai/v1/}, {@code /v1/}, or {@code /openai/} with an {@code api-version} query).
 *
 * @param kind what is asked for
 * @param id the response or conversation id in the path, or {@code null}
 */
record Operation(Kind kind, @Nullable String id) {
  enum Kind {
    CREATE_RESPONSE, GET_RESPONSE, DELETE_RESPONSE,
    CREATE_CONVERSATION, GET_CONVERSATION, DELETE_CONVERSATION
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
    int slash = rest.indexOf('/');
    String collection = slash < 0 ? rest : rest.substring(0, slash);
    String id = slash < 0 ? null : rest.substring(slash + 1);
    if (id != null && (id.isEmpty() || id.indexOf('/') >= 0)) {
      return null;
    }
    boolean responses = collection.equals("responses");
    if (!responses && !collection.equals("conversations")) {
      return null;
    }
    switch (method) {
      case "POST":
        return id != null ? null
            : new Operation(responses ? Kind.CREATE_RESPONSE : Kind.CREATE_CONVERSATION, null);
      case "GET":
        return id == null ? null
            : new Operation(responses ? Kind.GET_RESPONSE : Kind.GET_CONVERSATION, id);
      case "DELETE":
        return id == null ? null
            : new Operation(responses ? Kind.DELETE_RESPONSE : Kind.DELETE_CONVERSATION, id);
      default:
        return null;
    }
  }
}
