package io.github.affinity4j.benchmarks;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What one chain repair costs, versus the length of the history it replays: the replay request's
 * bytes (against a normal turn's), the requests the repaired turn took, and the latency it added
 * (against the median normal turn), on a 2-backend {@link ApimSimulator} pool whose pinned
 * backend is killed before the last turn. Runs each history length several times and reports
 * medians, for {@link RepairPolicy#REPLAY} (the cost of the replay itself) and the default
 * {@link RepairPolicy#RETRY_THEN_REPLAY} (which first waits its retry pause, 500 ms by default).
 *
 * <p>Latencies are wall-clock on a noisy machine: read them as orders of magnitude; the byte and
 * request counts are exact.
 */
final class RepairCostHarness {
  private static final int[] HISTORY_TURNS = {1, 10, 100};

  private RepairCostHarness() {}

  /** Measures and prints the table; it has no targets, so returns true. */
  static boolean run(String[] args) {
    boolean quick = List.of(args).contains("--quick");
    int runs = quick ? 3 : 7;
    System.out.println("Chain repair cost versus history length (median of " + runs + " runs;"
        + " SDK + AffinityInterceptor on a 2-backend simulator, pinned backend killed before the last turn)");
    System.out.println();
    System.out.printf("%-8s %-18s %8s %12s %12s %9s %12s %14s%n", "history", "policy",
        "items", "replay B", "normal B", "requests", "normal ms", "repaired ms");
    measure(10, RepairPolicy.REPLAY); // warm-up: class loading and JIT, not reported
    for (RepairPolicy policy : List.of(RepairPolicy.REPLAY, RepairPolicy.RETRY_THEN_REPLAY)) {
      for (int turns : HISTORY_TURNS) {
        List<Sample> samples = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
          samples.add(measure(turns, policy));
        }
        Sample median = Sample.median(samples);
        System.out.printf("%-8s %-18s %8d %12d %12d %9d %12.2f %14.2f%n", turns + " turns", policy,
            median.itemsReplayed, median.replayBytes, median.normalBytes, median.requests,
            median.normalMillis, median.repairedMillis);
      }
    }
    return true;
  }

  private static Sample measure(int historyTurns, RepairPolicy policy) {
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).recordRequestBodies(true).start()) {
      List<ChainRepair> repairs = new ArrayList<>();
      AffinityInterceptor interceptor = AffinityInterceptor.builder().repairPolicy(policy)
          .listener(new AffinityListener() {
            @Override
            public void repaired(ChainRepair repair) {
              repairs.add(repair);
            }
          })
          .build();
      OpenAIClient client = OpenAIOkHttpClient.builder()
          .baseUrl(apim.openAiBaseUrl()).apiKey("bench").maxRetries(0)
          .addInterceptor(interceptor).build();
      try {
        String previousId = null;
        List<Double> normalMillis = new ArrayList<>();
        for (int turn = 1; turn <= historyTurns; turn++) {
          long start = System.nanoTime();
          previousId = turn(client, turn, previousId).id();
          normalMillis.add((System.nanoTime() - start) / 1e6);
        }
        LoggedRequest last = apim.requestLog().get(apim.requestLog().size() - 1);
        apim.backend(apim.requestLog().get(0).backend()).kill();
        int logged = apim.requestLog().size();

        long start = System.nanoTime();
        Response repaired = turn(client, historyTurns + 1, previousId);
        double repairedMillis = (System.nanoTime() - start) / 1e6;

        int userMessages = SimulatedAnswer.parse(
            repaired.output().get(0).asMessage().content().get(0).asOutputText().text()).userMessages();
        if (userMessages != historyTurns + 1 || repairs.size() != 1) {
          throw new IllegalStateException("repair did not restore the whole context: " + userMessages);
        }
        List<LoggedRequest> repairTurn = apim.requestLog().subList(logged, apim.requestLog().size());
        LoggedRequest replay = repairTurn.get(repairTurn.size() - 1);
        Sample sample = new Sample();
        sample.replayBytes = replay.body().getBytes(StandardCharsets.UTF_8).length;
        sample.normalBytes = last.body().getBytes(StandardCharsets.UTF_8).length;
        sample.itemsReplayed = repairs.get(0).itemsReplayed();
        sample.requests = repairTurn.size();
        Collections.sort(normalMillis);
        sample.normalMillis = normalMillis.get(normalMillis.size() / 2);
        sample.repairedMillis = repairedMillis;
        return sample;
      } finally {
        client.close();
      }
    }
  }

  private static Response turn(OpenAIClient client, int turn, String previousId) {
    ResponseCreateParams.Builder params = ResponseCreateParams.builder()
        .model("gpt-4.1")
        .input("Turn " + turn + ": tell me one more thing about photosynthesis, please.");
    if (previousId != null) {
      params.previousResponseId(previousId);
    }
    return client.responses().create(params.build());
  }

  private static final class Sample {
    long replayBytes;
    long normalBytes;
    int itemsReplayed;
    int requests;
    double normalMillis;
    double repairedMillis;

    static Sample median(List<Sample> samples) {
      List<Sample> byLatency = new ArrayList<>(samples);
      byLatency.sort((a, b) -> Double.compare(a.repairedMillis, b.repairedMillis));
      return byLatency.get(byLatency.size() / 2);
    }
  }
}
