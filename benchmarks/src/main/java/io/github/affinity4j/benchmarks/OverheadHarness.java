package io.github.affinity4j.benchmarks;

import io.github.affinity4j.benchmarks.LoopbackResponses.Client;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Issue 7, point 1, measured twice, and each client's median turn given as a ratio to bare
 * OkHttp's:
 *
 * <ol>
 *   <li><b>Interleaved</b> (the verdict): every client in one JVM, each on its own loopback
 *       server, taking turns call by call in a shuffled order, so that a machine busy with other
 *       work slows all of them alike. Ratios of medians taken this way hold on a noisy 2-core
 *       machine where separate runs drift by more than the 5 % being measured.
 *   <li><b>JMH</b> ({@link OverheadBenchmark}, sample time): each client in its own forked JVM;
 *       the textbook measurement, but each runs at a different moment.
 * </ol>
 *
 * <p>The interleaved table also gives each client's CPU per turn on the calling thread, measured
 * apart from the timed rounds (the interceptors' own work is done on that thread).
 *
 * <p>Besides the targets, a guard: the pinned turn within {@value #PINNED_GUARD}x of bare OkHttp. It
 * catches a regression (a second pass over a body, a copy too many) on a machine whose ratios move
 * by 0.15x from one run to the next, and fails the command even with {@code --report-only}, as an
 * error does: CI gates on it.
 *
 * <p>Quick: 5 000 warm-up and 4 000 measured rounds (fewer warm-up rounds leave the JIT compiling
 * into the measured ones), JMH 1 fork x (3 + 5) s; full: 5 000 and 30 000 rounds, JMH 3 forks x
 * (10 + 10) s.
 */
final class OverheadHarness {
  private static final double PINNED_TARGET = 1.05;
  private static final double LOG_NONE_TARGET = 1.02;
  private static final double PINNED_GUARD = 1.75;

  private OverheadHarness() {}

  /** Measures, prints the tables; returns whether every target holds. */
  static boolean run(String[] args) throws IOException, RunnerException {
    boolean quick = List.of(args).contains("--quick");
    boolean pass = interleaved(5_000, quick ? 4_000 : 30_000);
    if (!List.of(args).contains("--no-jmh")) {
      System.out.println();
      jmh(quick);
    }
    System.out.println(pass ? "overhead: all targets PASS" : "overhead: some targets MISS");
    return pass;
  }

  /** Runs the interleaved measurement and prints its table; returns whether the targets hold. */
  static boolean interleaved(int warmupRounds, int rounds) throws IOException {
    System.out.println("Overhead, interleaved: one synchronous turn, ~2 KiB request / ~2 KiB response (JSON"
        + " or SSE), loopback JDK HttpServer; " + rounds + " rounds after " + warmupRounds
        + " warm-up, every client once per round in a shuffled order");
    Map<Client, LoopbackResponses> servers = new EnumMap<>(Client.class);
    Map<Client, OkHttpClient> clients = new EnumMap<>(Client.class);
    List<Turn> turns = new ArrayList<>();
    try {
      for (Client client : Client.values()) {
        LoopbackResponses server = new LoopbackResponses();
        servers.put(client, server);
        OkHttpClient okhttp = client.build(new OkHttpClient());
        clients.put(client, okhttp);
        server.seed(okhttp);
        for (boolean stream : new boolean[] {false, true}) {
          turns.add(new Turn(client, stream, okhttp, server.turn(stream), new long[rounds], new long[2]));
        }
      }
      Random random = new Random(42);
      List<Turn> order = new ArrayList<>(turns);
      for (int round = -warmupRounds; round < rounds; round++) {
        Collections.shuffle(order, random);
        for (Turn turn : order) {
          long start = System.nanoTime();
          LoopbackResponses.call(turn.okhttp, turn.request);
          long elapsed = System.nanoTime() - start;
          if (round >= 0) {
            turn.nanos[round] = elapsed;
          }
        }
      }
      cpuPerTurn(turns, Math.max(500, rounds / 8));
    } finally {
      clients.values().forEach(okhttp -> {
        okhttp.dispatcher().executorService().shutdown();
        okhttp.connectionPool().evictAll();
      });
      servers.values().forEach(LoopbackResponses::close);
    }
    System.out.println();
    System.out.printf("| %-42s | %-6s | %10s | %10s | %8s | %10s |%n", "client", "answer", "median us", "p90 us",
        "ratio", "CPU us");
    System.out.println("|" + "-".repeat(44) + "|" + "-".repeat(8) + "|" + "-".repeat(12) + "|"
        + "-".repeat(12) + "|" + "-".repeat(10) + "|" + "-".repeat(12) + "|");
    boolean pass = true;
    double worstPinned = 0;
    List<String> verdicts = new ArrayList<>();
    for (Turn turn : turns) {
      Arrays.sort(turn.nanos);
    }
    for (boolean stream : new boolean[] {false, true}) {
      double bare = median(find(turns, Client.BARE, stream));
      for (Client client : Client.values()) {
        Turn turn = find(turns, client, stream);
        double ratio = median(turn) / bare;
        System.out.printf("| %-42s | %-6s | %10.1f | %10.1f | %8.3f | %10.1f |%n", client.label,
            stream ? "SSE" : "JSON", median(turn) / 1_000, percentile(turn, 0.9) / 1_000, ratio, turn.cpuMicros());
        double target = client == Client.AFFINITY ? PINNED_TARGET : client == Client.LOG_NONE ? LOG_NONE_TARGET : 0;
        if (client == Client.AFFINITY) {
          worstPinned = Math.max(worstPinned, ratio);
        }
        if (target > 0) {
          boolean ok = ratio <= target;
          pass &= ok;
          verdicts.add(String.format("  %-4s %-55s measured %.3fx", ok ? "PASS" : "MISS",
              (client == Client.AFFINITY ? "pinned turn" : "routing log at NONE") + " (" + (stream ? "SSE" : "JSON")
                  + ") <= " + target + "x bare", ratio));
        }
      }
    }
    System.out.println();
    verdicts.forEach(System.out::println);
    boolean guarded = worstPinned <= PINNED_GUARD;
    System.out.printf("  %-4s %-55s measured %.3fx%n", guarded ? "PASS" : "FAIL",
        "guard: pinned turn <= " + PINNED_GUARD + "x bare (a regression)", worstPinned);
    if (!guarded) {
      throw new IllegalStateException("overhead: the pinned turn took " + String.format("%.2f", worstPinned)
          + "x bare OkHttp, beyond the " + PINNED_GUARD + "x guard; see docs/benchmarks.md");
    }
    return pass;
  }

  /**
   * Measures each client's CPU per turn on the calling thread (where an interceptor's work is
   * done; the loopback server runs on its own): {@code calls} turns each, in batches of 100 taken
   * in turn, the thread's CPU time read around each batch, not each call, so the reading costs
   * nothing measurable. Separate from the timed rounds, which it does not slow.
   */
  private static void cpuPerTurn(List<Turn> turns, int calls) throws IOException {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    for (int done = 0; done < calls; done += 100) {
      for (Turn turn : turns) {
        long start = threads.getCurrentThreadCpuTime();
        for (int i = 0; i < 100; i++) {
          LoopbackResponses.call(turn.okhttp, turn.request);
        }
        turn.cpu[0] += threads.getCurrentThreadCpuTime() - start;
        turn.cpu[1] += 100;
      }
    }
  }

  /** Runs {@link OverheadBenchmark} with JMH and prints its table, for reference. */
  static void jmh(boolean quick) throws RunnerException {
    Options options = new OptionsBuilder()
        .include(OverheadBenchmark.class.getName() + ".pinnedTurn")
        .forks(quick ? 1 : 3)
        .warmupIterations(quick ? 3 : 5)
        .warmupTime(TimeValue.seconds(quick ? 1 : 2))
        .measurementIterations(5)
        .measurementTime(TimeValue.seconds(quick ? 1 : 2))
        .verbosity(Boolean.getBoolean("affinity4j.bench.verbose") ? VerboseMode.NORMAL : VerboseMode.SILENT)
        .build();
    System.out.println("Overhead, JMH (for reference; each client in its own fork, at its own moment): "
        + "sample time, median turn, " + (quick ? "1 fork x 5 s (quick)" : "3 forks x 10 s"));
    Collection<RunResult> results = new Runner(options).run();
    System.out.println();
    printHeader();
    for (String stream : new String[] {"false", "true"}) {
      double bare = Double.NaN;
      for (Client client : Client.values()) {
        for (RunResult result : results) {
          if (result.getParams().getParam("client").equals(client.name())
              && result.getParams().getParam("stream").equals(stream)) {
            double median = result.getPrimaryResult().getStatistics().getPercentile(50);
            double p90 = result.getPrimaryResult().getStatistics().getPercentile(90);
            if (client == Client.BARE) {
              bare = median;
            }
            System.out.printf("| %-42s | %-6s | %10.1f | %10.1f | %8.3f |%n", client.label,
                stream.equals("true") ? "SSE" : "JSON", median, p90, median / bare);
          }
        }
      }
    }
  }

  private static void printHeader() {
    System.out.printf("| %-42s | %-6s | %10s | %10s | %8s |%n", "client", "answer", "median us", "p90 us", "ratio");
    System.out.println("|" + "-".repeat(44) + "|" + "-".repeat(8) + "|" + "-".repeat(12) + "|"
        + "-".repeat(12) + "|" + "-".repeat(10) + "|");
  }

  private static Turn find(List<Turn> turns, Client client, boolean stream) {
    return turns.stream().filter(t -> t.client == client && t.stream == stream).findFirst().orElseThrow();
  }

  private static double median(Turn turn) {
    return percentile(turn, 0.5);
  }

  private static double percentile(Turn turn, double p) {
    return turn.nanos[(int) Math.min(turn.nanos.length - 1, Math.round(p * (turn.nanos.length - 1)))];
  }

  /**
   * One client's turns of one kind, their times (sorted once measured), and the CPU time and count
   * of the turns {@link #cpuPerTurn} made.
   */
  private record Turn(Client client, boolean stream, OkHttpClient okhttp, Request request, long[] nanos,
      long[] cpu) {
    double cpuMicros() {
      return cpu[1] == 0 ? Double.NaN : cpu[0] / 1_000.0 / cpu[1];
    }
  }
}
