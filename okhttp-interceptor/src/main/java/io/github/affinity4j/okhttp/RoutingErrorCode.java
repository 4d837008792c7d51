package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.internal.ChainBreaks;
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
 * never read into the line: it may quote the caller's input. The body is read by the engine's
 * reader of error bodies ({@link ChainBreaks#errorCode}). Stateless and thread-safe.
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
    String chosen = ChainBreaks.errorCode(body, 0, body.length);
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
