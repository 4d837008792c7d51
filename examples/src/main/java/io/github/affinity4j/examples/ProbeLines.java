package io.github.affinity4j.examples;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;

/**
 * The text of the probe's lines: one per turn, the summary, the target as shown. Every field from
 * the network is cleaned of control characters and quoted when it holds a space, a quote or
 * {@code =}, so that a header cannot break a line. Stateless and thread-safe.
 */
final class ProbeLines {
  private ProbeLines() {}

  /** The URL as shown: scheme, host, port and path; never user info, a query or a fragment. */
  static String display(HttpUrl url) {
    String host = url.host().indexOf(':') >= 0 ? "[" + url.host() + "]" : url.host();
    boolean defaultPort = url.port() == HttpUrl.defaultPort(url.scheme());
    return url.scheme() + "://" + host + (defaultPort ? "" : ":" + url.port()) + url.encodedPath();
  }

  /** One turn as a line of {@code key=value} fields. */
  static String line(TurnRecord record) {
    StringBuilder line = new StringBuilder()
        .append("conversation=").append(record.conversation())
        .append(" turn=").append(record.turn())
        .append(" status=").append(record.status() == 0 ? "-" : String.valueOf(record.status()))
        .append(" region=").append(value(record.routing().region()))
        .append(" request_id=").append(value(record.routing().requestId()))
        .append(" apim_request_id=").append(value(record.routing().apimRequestId()))
        .append(" pin=").append(value(record.pinSent()));
    if (record.pinSet() != null) {
      line.append(" pin_set=").append(record.pinSet());
    }
    line.append(" repaired=").append(record.repaired() ? "yes" : "no");
    if (record.repaired()) {
      line.append(" items_replayed=").append(record.itemsReplayed());
    }
    line.append(" latency_ms=").append(record.latency().toMillis());
    if (!record.ok()) {
      line.append(" error=").append(value(record.error()))
          .append(" detail=").append(value(record.detail()));
    }
    return line.toString();
  }

  /** The one summary line. */
  static String summary(int conversations, int survived, List<TurnRecord> records) {
    long ok = records.stream().filter(TurnRecord::ok).count();
    long repairs = records.stream().filter(TurnRecord::repaired).count();
    Map<String, Integer> regions = new TreeMap<>();
    records.stream().filter(TurnRecord::ok)
        .forEach(record -> regions.merge(clean(record.region()).replace(',', ';'), 1, Integer::sum));
    StringBuilder backends = new StringBuilder();
    regions.forEach((region, count) ->
        backends.append(backends.length() == 0 ? "" : ",").append(region).append(':').append(count));
    return "probe: conversations=" + conversations
        + " survived=" + survived
        + " turns_ok=" + ok
        + " turns_failed=" + (records.size() - ok)
        + " repairs=" + repairs
        + " backends=" + backends;
  }

  /** A field value: {@code -} if absent, quoted if it holds a space or a quote. */
  static String value(@Nullable String text) {
    if (text == null || text.isEmpty()) {
      return "-";
    }
    String clean = clean(text);
    if (clean.indexOf(' ') < 0 && clean.indexOf('"') < 0 && clean.indexOf('=') < 0) {
      return clean;
    }
    return '"' + clean.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }

  /** Control characters become {@code ?}, so that a field from a header cannot break the line. */
  private static String clean(String text) {
    StringBuilder clean = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      clean.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return clean.toString();
  }
}
