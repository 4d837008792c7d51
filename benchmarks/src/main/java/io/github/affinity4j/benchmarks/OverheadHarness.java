package io.github.affinity4j.benchmarks;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Runs {@link OverheadBenchmark} with JMH and prints each client's median time per turn (JMH
 * sample mode) and its ratio to bare OkHttp's. Quick: 1 fork, 3 x 1 s warm-up, 5 x 1 s measured; full: 3 forks, 5 x 2 s, 5 x 2 s.
 */
final class OverheadHarness {
  private OverheadHarness() {}

  public static void main(String[] args) throws RunnerException {
    boolean quick = List.of(args).contains("--quick");
    OptionsBuilder builder = new OptionsBuilder();
    String only = System.getProperty("affinity4j.bench.clients");
    if (only != null) {
      builder.param("client", only.split(","));
    }
    Options options = builder
        .include(OverheadBenchmark.class.getName() + ".pinnedTurn")
        .forks(quick ? 1 : 3)
        .warmupIterations(quick ? 3 : 5)
        .warmupTime(TimeValue.seconds(quick ? 1 : 2))
        .measurementIterations(quick ? 5 : 5)
        .measurementTime(TimeValue.seconds(quick ? 1 : 2))
        .verbosity(Boolean.getBoolean("affinity4j.bench.verbose") ? VerboseMode.NORMAL
            : VerboseMode.SILENT)
        .build();
    System.out.println("Overhead: one synchronous turn, ~2 KiB request / ~2 KiB response, loopback"
        + " JDK HttpServer; JMH sample time, median turn, " + (quick ? "1 fork x 5 s (quick)" : "3 forks x 10 s"));
    Collection<RunResult> results = new Runner(options).run();
    Map<String, double[]> scores = new LinkedHashMap<>();
    for (RunResult result : results) {
      String client = result.getParams().getParam("client");
      // The median turn: on a shared machine the mean is dragged by scheduler hiccups.
      scores.put(client, new double[] {
          result.getPrimaryResult().getStatistics().getPercentile(50),
          result.getPrimaryResult().getStatistics().getPercentile(90)});
    }
    double bare = scores.get("BARE")[0];
    System.out.println();
    System.out.printf("| %-42s | %14s | %12s | %8s |%n", "client", "median us", "p90 us",
        "ratio");
    System.out.println("|" + "-".repeat(44) + "|" + "-".repeat(16) + "|" + "-".repeat(14) + "|"
        + "-".repeat(10) + "|");
    Map<String, String> labels = Map.of(
        "BARE", "bare OkHttp",
        "AFFINITY", "+ AffinityInterceptor (pinned turn)",
        "LOG_NONE", "+ RoutingLogInterceptor NONE",
        "LOG_BASIC", "+ RoutingLogInterceptor BASIC (slf4j-nop)");
    for (Map.Entry<String, double[]> entry : scores.entrySet()) {
      System.out.printf("| %-42s | %14.1f | %12.1f | %8.3f |%n", labels.get(entry.getKey()),
          entry.getValue()[0], entry.getValue()[1], entry.getValue()[0] / bare);
    }
    System.out.println();
    boolean pass = target(scores, "AFFINITY", "pinned turn <= 1.05x bare", 1.05);
    pass &= target(scores, "LOG_NONE", "routing log at NONE <= 1.02x bare", 1.02);
    System.out.println(pass ? "overhead: all targets PASS" : "overhead: some targets MISS");
  }

  private static boolean target(Map<String, double[]> scores, String client, String what,
      double limit) {
    if (!scores.containsKey(client)) {
      return true;
    }
    double ratio = scores.get(client)[0] / scores.get("BARE")[0];
    boolean passed = ratio <= limit;
    System.out.printf("  %-4s %-55s measured %.3fx%n", passed ? "PASS" : "MISS", what, ratio);
    return passed;
  }
}
