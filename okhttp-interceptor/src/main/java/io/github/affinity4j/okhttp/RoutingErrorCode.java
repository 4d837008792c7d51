package io.github.affinity4j.okhttp;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.github.affinity4j.core.internal.Json;
import java.io.IOException;
import org.jspecify.annotations.Nullable;

/**
 * The {@code error=} field of a routing-log line: the API error's {@code code}, else its
 * {@code type}, from the body of a failed answer
 * ({@code {"error":{"code":"previous_response_not_found","type":"invalid_request_error",…}}}).
 *
 * <p>The body comes from a server, or from whatever stands between it and the client, so the value
 * is made harmless here: only ASCII letters, digits and {@code . _ : -} are kept (any other
 * character becomes {@code _}), and it is cut at {@value #MAX_CHARS} characters. Such a value never
 * needs quoting, so it cannot close its field, start another one or break the line. The message is
 * never read into the line: it may quote the caller's input. Stateless and thread-safe.
 */
final class RoutingErrorCode {
  /** The longest value kept; real codes are under 40 characters. */
  static final int MAX_CHARS = 64;

  private RoutingErrorCode() {}

  /**
   * The error's {@code code} (a string or a number), else its {@code type}, sanitised; null if the
   * body has neither, is not a JSON object, or was cut before them. The gateway's own shape
   * ({@code {"statusCode":500,"message":…}}) has neither.
   */
  static @Nullable String of(byte[] body) {
    if (body.length == 0) {
      return null;
    }
    String code = null;
    String type = null;
    try (JsonParser parser = Json.FACTORY.createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if (!"error".equals(field) || value != JsonToken.START_OBJECT) {
          parser.skipChildren();
          continue;
        }
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String name = parser.currentName();
          JsonToken token = parser.nextToken();
          boolean scalar = token == JsonToken.VALUE_STRING || token == JsonToken.VALUE_NUMBER_INT;
          if ("code".equals(name) && scalar) {
            code = parser.getText();
          } else if ("type".equals(name) && token == JsonToken.VALUE_STRING) {
            type = parser.getText();
          } else {
            parser.skipChildren();
          }
        }
        break;
      }
    } catch (IOException e) {
      // Cut off by the read bound, or not JSON: what was read so far still counts.
    }
    String chosen = code != null && !code.isBlank() ? code : type;
    return chosen == null || chosen.isBlank() ? null : sanitise(chosen);
  }

  /** {@code text} with every character but ASCII letters, digits and {@code ._:-} made {@code _}, cut. */
  static String sanitise(String text) {
    int length = Math.min(text.length(), MAX_CHARS);
    StringBuilder out = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      char c = text.charAt(i);
      boolean kept = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '_' || c == ':' || c == '-';
      out.append(kept ? c : '_');
    }
    return out.toString();
  }
}
