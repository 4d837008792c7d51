package io.github.affinity4j.examples;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The probe's {@code --report} page: one self-contained HTML file (inline CSS and SVG, no script,
 * no external asset) with the summary, the names of the cookies the answers set, the turns each
 * region answered, the latency of every turn, and a table of the turns. Everything shown comes
 * from {@link TurnRecord}s and cookie names, which hold no secret.
 * Immutable; {@link #html()} may be called from any thread.
 */
final class ProbeReport {
  private static final String[] PALETTE = {
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#bab0ac"
  };
  private static final String FAILED = "#e15759";

  private final String target;
  private final List<String> settings;
  private final List<String> cookieNotes;
  private final List<TurnRecord> records;
  private final String summary;
  private final boolean passed;
  private final int turns;
  private final Instant generated;
  private final Map<String, String> colours = new TreeMap<>();

  /**
   * @param target the gateway, as shown (no secret)
   * @param settings the run's settings, as shown
   * @param cookieNotes what the probe said of the cookies the answers set (names, no value)
   * @param records every turn sent
   * @param summary the summary line
   * @param passed whether every conversation survived
   * @param turns the turns each conversation was to have, the latency chart's x axis
   */
  ProbeReport(String target, List<String> settings, List<String> cookieNotes, List<TurnRecord> records,
      String summary, boolean passed, int turns) {
    this.target = target;
    this.settings = List.copyOf(settings);
    this.cookieNotes = List.copyOf(cookieNotes);
    this.records = List.copyOf(records);
    this.summary = summary;
    this.passed = passed;
    this.turns = Math.max(1, turns);
    this.generated = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    records.stream().map(TurnRecord::region).sorted().distinct()
        .forEach(region -> colours.put(region, PALETTE[colours.size() % PALETTE.length]));
  }

  /** Writes the page to {@code file}, replacing it. */
  void write(Path file) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    Files.writeString(file, html(), StandardCharsets.UTF_8);
  }

  /** The whole page. */
  String html() {
    StringBuilder html = new StringBuilder(16_384);
    html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        .append("<title>affinity4j probe: ").append(escape(target)).append("</title>\n")
        .append("<style>\n")
        .append("body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;")
        .append("color:#222;max-width:72em}\n")
        .append("h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}\n")
        .append("code,td.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}\n")
        .append(".verdict{font-weight:bold;padding:.3em .6em;border-radius:.3em;color:#fff}\n")
        .append(".pass{background:#59a14f}.fail{background:").append(FAILED).append("}\n")
        .append("table{border-collapse:collapse;font-size:.9em}\n")
        .append("th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left}\n")
        .append("tr.failed td{color:").append(FAILED).append("}\n")
        .append("svg text{font-size:12px;fill:#333}\n")
        .append("</style>\n</head>\n<body>\n");
    html.append("<h1>affinity4j probe of <code>").append(escape(target)).append("</code></h1>\n")
        .append("<p><span class=\"verdict ").append(passed ? "pass\">every conversation survived"
            : "fail\">conversations broke").append("</span></p>\n")
        .append("<p><code>").append(escape(summary)).append("</code></p>\n")
        .append("<p>").append(escape(String.join(" · ", settings)))
        .append(" · generated ").append(generated).append("</p>\n");
    html.append("<h2>Cookies</h2>\n");
    cookieNotes.forEach(note -> html.append("<p>").append(escape(note)).append("</p>\n"));
    html.append("<h2>Turns answered per region</h2>\n").append(regionChart());
    html.append("<h2>Latency per turn</h2>\n").append(latencyChart());
    html.append("<h2>Turns</h2>\n").append(table());
    html.append("</body>\n</html>\n");
    return html.toString();
  }

  private String regionChart() {
    Map<String, Integer> answered = new TreeMap<>();
    records.stream().filter(TurnRecord::ok).forEach(r -> answered.merge(r.region(), 1, Integer::sum));
    long failed = records.stream().filter(r -> !r.ok()).count();
    int total = records.size();
    if (total == 0) {
      return "<p>No turn was sent.</p>\n";
    }
    int rowHeight = 28;
    int labelWidth = 170;
    int barWidth = 420;
    int rows = answered.size() + (failed > 0 ? 1 : 0);
    int height = rows * rowHeight + 10;
    StringBuilder svg = new StringBuilder()
        .append("<svg role=\"img\" width=\"").append(labelWidth + barWidth + 140)
        .append("\" height=\"").append(height).append("\" viewBox=\"0 0 ")
        .append(labelWidth + barWidth + 140).append(' ').append(height).append("\">\n")
        .append("<title>Turns answered per region</title>\n");
    int y = 5;
    List<Map.Entry<String, Integer>> bars = new ArrayList<>(answered.entrySet());
    if (failed > 0) {
      bars.add(Map.entry("failed turns", (int) failed));
    }
    for (Map.Entry<String, Integer> bar : bars) {
      boolean isFailed = failed > 0 && bar == bars.get(bars.size() - 1);
      int width = Math.max(1, (int) Math.round(barWidth * bar.getValue() / (double) total));
      String colour = isFailed ? FAILED : colours.get(bar.getKey());
      String share = String.format(Locale.ROOT, "%d (%.0f%%)", bar.getValue(),
          100.0 * bar.getValue() / total);
      svg.append("<text x=\"").append(labelWidth - 8).append("\" y=\"").append(y + 18)
          .append("\" text-anchor=\"end\">").append(escape(bar.getKey())).append("</text>\n")
          .append("<rect x=\"").append(labelWidth).append("\" y=\"").append(y + 4)
          .append("\" width=\"").append(width).append("\" height=\"").append(rowHeight - 8)
          .append("\" fill=\"").append(colour).append("\"><title>").append(escape(bar.getKey()))
          .append(": ").append(share).append("</title></rect>\n")
          .append("<text x=\"").append(labelWidth + width + 6).append("\" y=\"").append(y + 18)
          .append("\">").append(share).append("</text>\n");
      y += rowHeight;
    }
    return svg.append("</svg>\n").toString();
  }

  private String latencyChart() {
    if (records.isEmpty()) {
      return "<p>No turn was sent.</p>\n";
    }
    long maxMs = Math.max(1, records.stream().mapToLong(r -> r.latency().toMillis()).max().orElse(1));
    long step = niceStep(maxMs);
    long top = ((maxMs + step - 1) / step) * step;
    int left = 60;
    int right = 20;
    int plotTop = 10;
    int plotHeight = 260;
    int plotWidth = Math.max(300, Math.min(900, turns * 80));
    int width = left + plotWidth + right;
    int height = plotTop + plotHeight + 50;
    StringBuilder svg = new StringBuilder()
        .append("<svg role=\"img\" width=\"").append(width).append("\" height=\"").append(height)
        .append("\" viewBox=\"0 0 ").append(width).append(' ').append(height).append("\">\n")
        .append("<title>Latency per turn, in milliseconds</title>\n");
    // Axes and grid.
    for (long tick = 0; tick <= top; tick += step) {
      double y = plotTop + plotHeight - plotHeight * tick / (double) top;
      svg.append(String.format(Locale.ROOT,
          "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
              + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d ms</text>\n",
          left, y, left + plotWidth, y, left - 6, y + 4, tick));
    }
    int labelEvery = Math.max(1, (int) Math.ceil(turns / 20.0));
    for (int turn = 1; turn <= turns; turn++) {
      if ((turn - 1) % labelEvery == 0) {
        svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n",
            x(turn, turns, left, plotWidth), plotTop + plotHeight + 18, turn));
      }
    }
    svg.append(String.format(Locale.ROOT,
        "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">turn</text>\n"
            + "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n",
        left + plotWidth / 2.0, plotTop + plotHeight + 38, left, plotTop + plotHeight,
        left + plotWidth, plotTop + plotHeight));
    // One grey line per conversation, then its turns coloured by region.
    Map<Integer, List<TurnRecord>> byConversation = new TreeMap<>();
    records.forEach(r -> byConversation.computeIfAbsent(r.conversation(), c -> new ArrayList<>()).add(r));
    for (List<TurnRecord> conversation : byConversation.values()) {
      StringBuilder points = new StringBuilder();
      for (TurnRecord r : conversation) {
        points.append(String.format(Locale.ROOT, "%.1f,%.1f ", x(r.turn(), turns, left, plotWidth),
            y(r, top, plotTop, plotHeight)));
      }
      svg.append("<polyline fill=\"none\" stroke=\"#ccc\" points=\"").append(points.toString().trim())
          .append("\"/>\n");
    }
    for (TurnRecord r : records) {
      double cx = x(r.turn(), turns, left, plotWidth);
      double cy = y(r, top, plotTop, plotHeight);
      String tip = "conversation " + r.conversation() + ", turn " + r.turn() + ": "
          + r.latency().toMillis() + " ms, " + r.region()
          + (r.ok() ? "" : ", failed: " + r.error()) + (r.repaired() ? ", repaired" : "");
      if (r.ok()) {
        svg.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"%s>",
            cx, cy, colours.get(r.region()), r.repaired() ? " stroke=\"#000\" stroke-width=\"2\"" : ""));
      } else {
        svg.append(String.format(Locale.ROOT,
            "<path d=\"M%.1f %.1fl8 8m0 -8l-8 8\" stroke=\"%s\" stroke-width=\"2\">",
            cx - 4, cy - 4, FAILED));
      }
      svg.append("<title>").append(escape(tip)).append("</title>")
          .append(r.ok() ? "</circle>\n" : "</path>\n");
    }
    svg.append("</svg>\n");
    StringBuilder legend = new StringBuilder("<p>Each grey line is a conversation; the first turn"
        + " of the run includes the client's warm-up.<br>");
    colours.forEach((region, colour) -> legend.append("<span style=\"color:").append(colour)
        .append("\">&#9679;</span> ").append(escape(region)).append(" &nbsp; "));
    legend.append("<span style=\"color:").append(FAILED).append("\">&#10005;</span> failed &nbsp; ")
        .append("&#9711; repaired</p>\n");
    return svg + legend.toString();
  }

  private static double x(int turn, int turns, int left, int plotWidth) {
    if (turns == 1) {
      return left + plotWidth / 2.0;
    }
    return left + 15 + (plotWidth - 30) * (turn - 1) / (double) (turns - 1);
  }

  private static double y(TurnRecord r, long top, int plotTop, int plotHeight) {
    return plotTop + plotHeight - plotHeight * r.latency().toMillis() / (double) top;
  }

  /** A round tick step (1, 2 or 5 times a power of ten) giving at most about five ticks. */
  static long niceStep(long max) {
    long power = 1;
    while (power * 10 <= max / 5 + 1) {
      power *= 10;
    }
    for (long factor : new long[] {1, 2, 5, 10}) {
      if (max / (power * factor) <= 5) {
        return power * factor;
      }
    }
    return power * 10;
  }

  private String table() {
    StringBuilder table = new StringBuilder("<table>\n<tr><th>conversation</th><th>turn</th>"
        + "<th>status</th><th>region</th><th>request id</th><th>apim request id</th><th>pin</th>"
        + "<th>repaired</th><th>latency</th><th>error</th></tr>\n");
    for (TurnRecord r : records) {
      table.append(r.ok() ? "<tr>" : "<tr class=\"failed\">")
          .append("<td>").append(r.conversation()).append("</td>")
          .append("<td>").append(r.turn()).append("</td>")
          .append("<td>").append(r.status() == 0 ? "-" : String.valueOf(r.status())).append("</td>")
          .append("<td>").append(escape(r.region())).append("</td>")
          .append("<td class=\"mono\">").append(escape(dash(r.routing().requestId()))).append("</td>")
          .append("<td class=\"mono\">").append(escape(dash(r.routing().apimRequestId()))).append("</td>")
          .append("<td class=\"mono\">").append(escape(dash(r.pin()))).append("</td>")
          .append("<td>").append(r.repaired() ? "yes (" + r.itemsReplayed() + " items)" : "no")
          .append("</td>")
          .append("<td>").append(r.latency().toMillis()).append(" ms</td>")
          .append("<td>").append(r.ok() ? "" : escape(r.error() + ": " + dash(r.detail()))).append("</td>")
          .append("</tr>\n");
    }
    return table.append("</table>\n").toString();
  }

  private static String dash(@Nullable String text) {
    return text == null ? "-" : text;
  }

  static String escape(String text) {
    StringBuilder escaped = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '&' -> escaped.append("&amp;");
        case '<' -> escaped.append("&lt;");
        case '>' -> escaped.append("&gt;");
        case '"' -> escaped.append("&quot;");
        case '\'' -> escaped.append("&#39;");
        default -> escaped.append(c < 0x20 && c != '\n' && c != '\t' ? '?' : c);
      }
    }
    return escaped.toString();
  }
}
