package io.github.affinity4j.core.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.github.affinity4j.core.ChainKey.Kind;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import java.io.IOException;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which requests start or continue a chain, and the chain a request's path names
 * ({@code …/responses/{id}}, {@code …/conversations/{id}}, {@code …/threads/{id}}). A request
 * body's chain is read by {@link TurnInput}, a response body's by {@link TurnOutput}: one reader
 * per wire format. Used by the {@link Engine}; not API.
 *
 * <p>Bodies are read with Jackson's streaming parser: only the few top-level fields that matter are
 * decoded, nested values are skipped, and reading stops as soon as the answer is known, so a
 * multi-MiB body costs a scan, not a tree. Bad data (not JSON, wrong types, missing fields, invalid
 * ids) yields an empty result and one DEBUG line, never an exception. Parser messages are not
 * logged, because they quote the body.
 *
 * <p>Stateless and thread-safe.
 */
public final class ChainKeys {

  private static final Logger logger = LoggerFactory.getLogger(ChainKeys.class);

  // Thread-safe once configured; shares the field-name symbol table across parsers.
  private static final JsonFactory JSON = new JsonFactory();

  private static final String RESPONSES = "/responses";
  private static final String CONVERSATIONS = "/conversations";
  private static final String THREADS = "/threads";
  private static final String RESPONSES_SLASH = RESPONSES + '/';
  private static final String CONVERSATIONS_SLASH = CONVERSATIONS + '/';
  private static final String THREADS_SLASH = THREADS + '/';

  // Path segments in the id position that name an operation, not an id:
  // POST /responses/input_tokens, POST /responses/compact, POST /threads/runs.
  private static final Set<String> NOT_IDS = Set.of("input_tokens", "compact", "runs");

  private ChainKeys() {}

  /**
   * Returns true if a request may start or continue a chain, so its chain key and response must
   * be looked at: {@code POST …/responses}, {@code POST …/conversations}, {@code POST …/threads},
   * and any request under {@code …/responses/{id}}, {@code …/conversations/{id}} or
   * {@code …/threads/{id}}. Everything else passes through untouched. Cheap: no allocation.
   *
   * @param method the HTTP method, upper case as OkHttp gives it
   * @param encodedPath the request path without the query
   */
  public static boolean isAffected(String method, String encodedPath) {
    if (method == null || encodedPath == null) {
      return false;
    }
    if ("POST".equals(method)
        && (endsWithSegment(encodedPath, RESPONSES)
            || endsWithSegment(encodedPath, CONVERSATIONS)
            || endsWithSegment(encodedPath, THREADS))) {
      return true;
    }
    return containsParent(encodedPath, RESPONSES)
        || containsParent(encodedPath, CONVERSATIONS)
        || containsParent(encodedPath, THREADS);
  }

  /**
   * Returns true if the request's chain key is in its JSON body ({@code POST …/responses}), so the
   * adapter must read the body ({@link TurnInput}); otherwise the key, if any, is in
   * the path ({@link #fromPath}).
   */
  public static boolean hasBodyKey(String method, String encodedPath) {
    return "POST".equals(method) && encodedPath != null && endsWithSegment(encodedPath, RESPONSES);
  }

  /**
   * Returns the chain a request path continues: the id after the last {@code /responses/},
   * {@code /conversations/} or {@code /threads/} segment, e.g. {@code thread_abc} in
   * {@code /openai/v1/threads/thread_abc/runs}. Operation names in the id position
   * ({@code input_tokens}, {@code compact}, {@code runs}) and invalid ids give empty.
   *
   * @param encodedPath the request path without the query; null gives empty
   */
  public static Optional<ChainKey> fromPath(@Nullable String encodedPath) {
    if (encodedPath == null) {
      return Optional.empty();
    }
    int responses = encodedPath.lastIndexOf(RESPONSES_SLASH);
    int conversations = encodedPath.lastIndexOf(CONVERSATIONS_SLASH);
    int threads = encodedPath.lastIndexOf(THREADS_SLASH);
    int start;
    Kind kind;
    if (responses > conversations && responses > threads) {
      start = responses + RESPONSES_SLASH.length();
      kind = Kind.RESPONSE;
    } else if (conversations > threads) {
      start = conversations + CONVERSATIONS_SLASH.length();
      kind = Kind.CONVERSATION;
    } else if (threads >= 0) {
      start = threads + THREADS_SLASH.length();
      kind = Kind.THREAD;
    } else {
      return Optional.empty();
    }
    int end = encodedPath.indexOf('/', start);
    String id = encodedPath.substring(start, end < 0 ? encodedPath.length() : end);
    if (NOT_IDS.contains(id)) {
      return Optional.empty();
    }
    return ChainKey.parse(kind, id);
  }

  /**
   * Returns the API's base path in a request path: what comes before its last {@code /responses},
   * {@code /conversations} or {@code /threads} segment, e.g. {@code /inference/openai/v1} in
   * {@code /inference/openai/v1/responses/resp_1}; the whole path if it has none of them. Part of a
   * chain's {@link ChainScope}: two APIs behind one host keep their chains apart.
   *
   * @param encodedPath the request path without the query; null gives empty
   */
  public static String basePath(@Nullable String encodedPath) {
    if (encodedPath == null) {
      return "";
    }
    int end = -1;
    for (String segment : new String[] {RESPONSES, CONVERSATIONS, THREADS}) {
      int at = encodedPath.lastIndexOf(segment);
      while (at >= 0 && !isSegmentAt(encodedPath, at, segment)) {
        at = at == 0 ? -1 : encodedPath.lastIndexOf(segment, at - 1);
      }
      end = Math.max(end, at);
    }
    return end < 0 ? encodedPath : encodedPath.substring(0, end);
  }

  private static boolean isSegmentAt(String path, int at, String segment) {
    int after = at + segment.length();
    return after == path.length() || path.charAt(after) == '/';
  }

  /**
   * Reads the data of one SSE event: {@code {"type":"response.created","response":{"id":…}}}.
   * Without a {@code type}, the event's name decides.
   */
  static Optional<ChainKey> fromResponseCreated(byte[] data, int offset, int length, boolean named) {
    try (JsonParser parser = JSON.createParser(data, offset, length)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        logger.debug("First SSE event data is not a JSON object; no response id");
        return Optional.empty();
      }
      String type = null;
      ChainKey created = null;
      boolean hasResponse = false;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("type".equals(field) && value == JsonToken.VALUE_STRING) {
          type = parser.getText();
          if (!SseResponseIdScanner.RESPONSE_CREATED.equals(type)) {
            logger.debug("First SSE event is {}, not response.created; no response id",
                ChainKey.isValidId(type) ? type : Names.describe(type));
            return Optional.empty();
          }
        } else if ("response".equals(field) && value == JsonToken.START_OBJECT) {
          hasResponse = true;
          created = TurnOutput.readObject(parser, data, offset, false, Kind.RESPONSE).chain();
        } else {
          parser.skipChildren();
        }
        if (type != null && hasResponse) {
          break;
        }
      }
      if (type == null && !named) {
        logger.debug("First SSE event has no type; no response id");
        return Optional.empty();
      }
      if (created == null || created.kind() != Kind.RESPONSE) {
        logger.debug("response.created event has no response id; nothing to bind");
        return Optional.empty();
      }
      return Optional.of(created);
    } catch (IOException e) {
      logger.debug("First SSE event data is not valid JSON ({}); no response id",
          e.getClass().getSimpleName());
      return Optional.empty();
    }
  }

  /** {@code path} ends with {@code segment}, optionally followed by one slash. */
  private static boolean endsWithSegment(String path, String segment) {
    int end = path.endsWith("/") ? path.length() - 1 : path.length();
    return path.startsWith(segment, end - segment.length());
  }

  /** {@code path} has {@code segment} followed by a slash and at least one more character. */
  private static boolean containsParent(String path, String segment) {
    int at = path.indexOf(segment);
    while (at >= 0) {
      int next = at + segment.length();
      if (next + 1 < path.length() && path.charAt(next) == '/' && path.charAt(next + 1) != '/') {
        return true;
      }
      at = path.indexOf(segment, next);
    }
    return false;
  }
}
