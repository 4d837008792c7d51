package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.okhttp.ChainBackends.Backend;
import java.io.IOException;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import okhttp3.Headers;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * The text of {@link RoutingLogInterceptor}'s lines and its redaction rules: which fields a line
 * holds and how they are quoted, affinity cookies as {@code name:fingerprint}, redacted headers
 * (shown as the configured marker), control characters made harmless. Does no I/O. Immutable and
 * thread-safe.
 */
final class RoutingLineFormat {
  private static final int MAX_FIELD_CHARS = 200;

  private static final List<String> DEFAULT_REDACTED_HEADERS = List.of(
      "Authorization", "Proxy-Authorization", "api-key", "x-api-key", "Ocp-Apim-Subscription-Key");

  private final Set<String> cookieNames;
  private final String marker;

  /**
   * A format that recognises the affinity cookies named {@code cookieNames} and shows a redacted
   * value as {@code marker}.
   */
  RoutingLineFormat(Set<String> cookieNames, String marker) {
    this.cookieNames = Set.copyOf(cookieNames);
    this.marker = marker;
  }

  /** What a redacted value shows. */
  String marker() {
    return marker;
  }

  /** The affinity cookie names. */
  Set<String> cookieNames() {
    return cookieNames;
  }

  /**
   * What the routing log learned of one exchange: the gateway's routing headers, the affinity
   * cookie sent and set (labels), the chain continued and created, the backend it moved away
   * from, and the API error's code of a failed answer ({@link RoutingErrorCode}, already
   * sanitised); all but {@code routing} may be null.
   */
  record Facts(RoutingInfo routing, @Nullable String cookieSent, @Nullable String cookieSet,
      @Nullable ChainKey chain, @Nullable ChainKey created, @Nullable Backend before,
      @Nullable String error) {}

  /**
   * The line of an exchange that got a response, followed by its headers when {@code dump} (the
   * headers to redact) is not null.
   */
  String exchange(Request sent, Response response, long tookNanos, Facts facts, @Nullable Set<String> dump) {
    RoutingInfo routing = facts.routing();
    StringBuilder line = start(sent, 256)
        .append(' ').append(response.code())
        .append(' ').append(TimeUnit.NANOSECONDS.toMillis(tookNanos)).append("ms");
    field(line, "error", facts.error());
    field(line, "region", routing.region());
    field(line, "x-request-id", routing.requestId());
    field(line, "apim-request-id", routing.apimRequestId());
    field(line, "remaining-requests", routing.remainingRequests());
    field(line, "remaining-tokens", routing.remainingTokens());
    field(line, "retry-after", routing.retryAfter() == null ? null : routing.retryAfter().toMillis() + "ms");
    field(line, "cookie-sent", facts.cookieSent());
    field(line, "cookie-set", facts.cookieSet());
    field(line, "chain", facts.chain());
    field(line, "created", facts.created());
    backendChanged(line, facts.before());
    if (dump != null) {
      appendHeaders(line, "> ", sent.headers(), dump);
      appendHeaders(line, "< ", response.headers(), dump);
    }
    return line.toString();
  }

  /**
   * The line of an exchange that failed with {@code e}, followed by the request headers when
   * {@code dump} (the headers to redact) is not null.
   */
  String failure(Request sent, long tookNanos, IOException e, @Nullable ChainKey chain,
      @Nullable Set<String> dump) {
    StringBuilder line = start(sent, 128)
        .append(" failed after ").append(TimeUnit.NANOSECONDS.toMillis(tookNanos)).append("ms: ")
        // Only the type: messages may quote URLs with their query.
        .append(e.getClass().getSimpleName());
    field(line, "cookie-sent", cookieSent(sent.headers()));
    field(line, "chain", chain);
    if (dump != null) {
      appendHeaders(line, "> ", sent.headers(), dump);
    }
    return line.toString();
  }

  /** The first affinity cookie in the request's Cookie headers, as {@code name:fingerprint}. */
  @Nullable String cookieSent(Headers headers) {
    for (String header : headers.values("Cookie")) {
      for (String pair : header.split(";")) {
        String label = affinityLabel(pair);
        if (label != null) {
          return label;
        }
      }
    }
    return null;
  }

  /** The first affinity cookie the response sets, as {@code name:fingerprint}. */
  @Nullable String cookieSet(Headers headers) {
    for (String header : headers.values("Set-Cookie")) {
      int end = header.indexOf(';');
      String label = affinityLabel(end < 0 ? header : header.substring(0, end));
      if (label != null) {
        return label;
      }
    }
    return null;
  }

  /**
   * The headers to redact, any case: those redacted by default, {@code configured} and
   * {@code more}; unmodifiable.
   */
  static Set<String> redactedHeaders(Collection<String> configured, String... more) {
    Set<String> names = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    names.addAll(DEFAULT_REDACTED_HEADERS);
    names.addAll(configured);
    names.addAll(List.of(more));
    return Collections.unmodifiableSet(names);
  }

  /** {@code text} as one field shows it: cleaned, and cut after 200 characters. */
  static String cleanField(String text) {
    return clean(text, MAX_FIELD_CHARS);
  }

  /** Control characters become {@code ?}, so a header cannot forge log lines; long text is cut. */
  private static String clean(String text, int max) {
    StringBuilder out = null;
    int length = Math.min(text.length(), max);
    for (int i = 0; i < length; i++) {
      char c = text.charAt(i);
      if (c < 0x20 || c == 0x7F) {
        if (out == null) {
          out = new StringBuilder(text.substring(0, i));
        }
        out.append('?');
      } else if (out != null) {
        out.append(c);
      }
    }
    String result = out != null ? out.toString() : text.substring(0, length);
    return text.length() > max ? result + "…" : result;
  }

  private static StringBuilder start(Request sent, int capacity) {
    return new StringBuilder(capacity)
        .append(sent.method()).append(' ').append(clean(sent.url().encodedPath(), 1000));
  }

  private static void backendChanged(StringBuilder line, @Nullable Backend before) {
    if (before == null) {
      return;
    }
    line.append(" BACKEND CHANGED (was");
    field(line, "region", before.region());
    field(line, "cookie", before.cookie());
    line.append(')');
  }

  /** The label of a {@code name=value} pair if it is an affinity cookie, else null. */
  private @Nullable String affinityLabel(String pair) {
    int eq = pair.indexOf('=');
    if (eq > 0 && cookieNames.contains(pair.substring(0, eq).trim())) {
      return cookieLabel(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
    }
    return null;
  }

  /**
   * {@code name:fingerprint}, the fingerprint as {@link AffinityToken#fingerprint()} computes it, so
   * lines match {@link AffinityInterceptor}'s.
   */
  static String cookieLabel(String name, String value) {
    return cleanField(name) + ':' + AffinityToken.fingerprintOf(value);
  }

  private void appendHeaders(StringBuilder line, String prefix, Headers headers,
      Set<String> redacted) {
    for (int i = 0; i < headers.size(); i++) {
      String name = headers.name(i);
      line.append('\n').append(prefix).append(cleanField(name)).append(": ")
          .append(headerValue(name, headers.value(i), redacted));
    }
  }

  private String headerValue(String name, String value, Set<String> redacted) {
    if ("Cookie".equalsIgnoreCase(name)) {
      StringBuilder out = new StringBuilder();
      for (String pair : value.split(";")) {
        if (pair.isBlank()) {
          continue;
        }
        out.append(out.length() == 0 ? "" : "; ").append(pairLabel(pair.trim()));
      }
      return out.toString();
    }
    if ("Set-Cookie".equalsIgnoreCase(name)) {
      int end = value.indexOf(';');
      String pair = end < 0 ? value : value.substring(0, end);
      // The attributes (Path, Domain, Expires, HttpOnly…) are not secret; the value is.
      return pairLabel(pair.trim()) + (end < 0 ? "" : clean(value.substring(end), 1000));
    }
    if (redacted.contains(name)) {
      return marker;
    }
    return clean(value, 4000);
  }

  private String pairLabel(String pair) {
    int eq = pair.indexOf('=');
    return eq <= 0 ? marker
        : cookieLabel(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
  }

  private static void field(StringBuilder line, String name, @Nullable Object value) {
    if (value == null) {
      return;
    }
    String text = cleanField(value.toString());
    line.append(' ').append(name).append('=');
    if (text.isEmpty() || text.indexOf(' ') >= 0 || text.indexOf('"') >= 0 || text.indexOf('=') >= 0) {
      line.append('"').append(text.replace("\"", "\\\"")).append('"');
    } else {
      line.append(text);
    }
  }
}
