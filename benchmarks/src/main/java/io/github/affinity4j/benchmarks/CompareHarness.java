package io.github.affinity4j.benchmarks;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.EasyInputMessage;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseInputItem;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.net.CookieManager;
import java.net.CookiePolicy;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.LongAdder;
import okhttp3.JavaNetCookieJar;
import okhttp3.OkHttpClient;

/**
 * Issue 7, point 3: the same workload through every client a user would reach for, on one
 * {@link ApimSimulator} pool (3 backends, round-robin, affinity on).
 *
 * <p>The workload is N conversations of 8 turns, run turn by turn: every conversation makes its
 * turn 1, then every conversation its turn 2, and so on, on one thread or spread over 16. Running
 * by turn keeps all N conversations live at once (as on a server) and gives "after turn 4" one
 * meaning for the run with a killed backend: {@code backend-1} is killed once every conversation
 * has made turn 4, and revived after the run.
 *
 * <p>Counted from the simulator's request log (cleared before each run) and the answers: a
 * conversation survives when all 8 turns succeed and each answer saw every user message so far;
 * fairness is Jain's index of successful turns over the 3 backends (1.0 even, 1/3 all on one);
 * requests and request-body bytes are divided by successful turns. Wall time is given as a ratio
 * to affinity4j's in the same mode, since absolute times on a shared machine are noise.
 */
final class CompareHarness {
  private static final String MODEL = "gpt-4.1";
  private static final int TURNS = 8;
  private static final int KILL_AFTER_TURN = 4;
  private static final int BACKENDS = 3;

  /** The clients compared. */
  enum Client {
    PLAIN("plain SDK (no cookies)"),
    GLOBAL_JAR("SDK + process-wide JavaNetCookieJar"),
    STATELESS("stateless resend (store=false)"),
    AFFINITY("affinity4j (interceptor)"),
    AFFINITY_KILLED("affinity4j, backend-1 killed after t4");

    final String label;

    Client(String label) {
      this.label = label;
    }
  }

  private CompareHarness() {}

  /** A handful: the failed requests a lost backend may cost a process (or one per thread, if more). */
  private static final int MAX_FAILED_PER_LOST_BACKEND = 5;

  /** Runs the comparison and prints its tables; returns whether every target holds. */
  static boolean run(String[] args) throws Exception {
    boolean quick = List.of(args).contains("--quick");
    int conversations = quick ? 60 : 300;
    System.out.println("Comparison: " + conversations + " conversations x " + TURNS
        + " turns per client, one ApimSimulator pool (" + BACKENDS
        + " backends, round-robin, affinity on)");
    try (ApimSimulator simulator = ApimSimulator.builder().backends(BACKENDS)
        .recordRequestBodies(true).requestLogLimit(1_000_000).start()) {
      // Warm-up: class loading and JIT for every client, not reported.
      for (Client client : Client.values()) {
        run(simulator, client, 12, 1);
      }
      boolean allPassed = true;
      for (int threads : new int[] {1, 16}) {
        Map<Client, Row> rows = new EnumMap<>(Client.class);
        for (Client client : Client.values()) {
          rows.put(client, run(simulator, client, conversations, threads));
        }
        allPassed &= print(threads, rows);
      }
      System.out.println(allPassed ? "compare: all targets PASS" : "compare: some targets MISS");
      return allPassed;
    }
  }

  /** One client's result. */
  static final class Row {
    int survived;
    int conversations;
    long successfulTurns;
    long successfulFirstTurns;
    long firstRequests;
    long firstBytes;
    long followUpRequests;
    long followUpBytes;
    final long[] turnsPerBackend = new long[BACKENDS];
    long requests;
    long failedRequests;
    long requestBytes;
    RepairStats repairs;
    double seconds;

    double survivedPercent() {
      return 100.0 * survived / conversations;
    }

    double fairness() {
      double sum = 0;
      double squares = 0;
      for (long n : turnsPerBackend) {
        sum += n;
        squares += (double) n * n;
      }
      return squares == 0 ? 0 : sum * sum / (BACKENDS * squares);
    }

    double requestsPerTurn() {
      return successfulTurns == 0 ? Double.NaN : requests / (double) successfulTurns;
    }

    double bytesPerTurn() {
      return successfulTurns == 0 ? Double.NaN : requestBytes / (double) successfulTurns;
    }

    /**
     * What this client sends, per request, for {@code other}'s mix of successful first turns (no
     * {@code previous_response_id}) and follow-up turns.
     */
    double bytesPerRequestFor(Row other) {
      double first = firstBytes / (double) firstRequests;
      double followUp = followUpBytes / (double) followUpRequests;
      long followUps = other.successfulTurns - other.successfulFirstTurns;
      return (first * other.successfulFirstTurns + followUp * followUps) / other.successfulTurns;
    }
  }

  /** What one conversation holds between its turns. */
  private static final class Conversation {
    final int number;
    String previousId;
    final List<ResponseInputItem> history = new ArrayList<>();
    boolean alive = true;

    Conversation(int number) {
      this.number = number;
    }
  }

  static Row run(ApimSimulator simulator, Client client, int conversations, int threads)
      throws InterruptedException {
    simulator.clearRequestLog();
    AffinityInterceptor interceptor = null;
    OpenAIOkHttpClient.Builder builder = OpenAIOkHttpClient.builder()
        .baseUrl(simulator.openAiBaseUrl()).apiKey("bench").maxRetries(0);
    switch (client) {
      case GLOBAL_JAR:
        builder.okHttpClient(new OkHttpClient.Builder()
            .cookieJar(new JavaNetCookieJar(new CookieManager(null, CookiePolicy.ACCEPT_ALL)))
            .build());
        break;
      case AFFINITY:
      case AFFINITY_KILLED:
        // REPLAY: a broken chain is replayed at once. The default, RETRY_THEN_REPLAY, first retries
        // the dead pin after a 500 ms pause, which is one more failed request per chain.
        interceptor = AffinityInterceptor.builder().repairPolicy(RepairPolicy.REPLAY).build();
        builder.addInterceptor(interceptor);
        break;
      default:
        break;
    }
    OpenAIClient sdk = builder.build();
    ExecutorService pool = threads > 1 ? Executors.newFixedThreadPool(threads) : null;
    Row row = new Row();
    row.conversations = conversations;
    Map<String, LongAdder> perBackend = new ConcurrentHashMap<>();
    LongAdder successes = new LongAdder();
    LongAdder firstTurns = new LongAdder();
    List<Conversation> all = new ArrayList<>();
    for (int c = 0; c < conversations; c++) {
      all.add(new Conversation(c));
    }
    SimulatedBackend killed = simulator.backends().get(0);
    long start = System.nanoTime();
    try {
      for (int turn = 1; turn <= TURNS; turn++) {
        if (client == Client.AFFINITY_KILLED && turn == KILL_AFTER_TURN + 1) {
          killed.kill();
        }
        int t = turn;
        List<Callable<Void>> tasks = new ArrayList<>();
        // Each turn visits the conversations in a new (seeded, so same for every client) order, as
        // a server's interleaved traffic does. In a fixed order, N a multiple of 3 would line
        // round-robin up with the conversations and keep even the plain SDK on its backends.
        List<Conversation> order = new ArrayList<>(all);
        Collections.shuffle(order, new Random(turn));
        for (Conversation conversation : order) {
          if (conversation.alive) {
            tasks.add(() -> {
              turn(sdk, client, conversation, t, perBackend, successes, firstTurns);
              return null;
            });
          }
        }
        if (pool == null) {
          for (Callable<Void> task : tasks) {
            task.call();
          }
        } else {
          for (Future<Void> done : pool.invokeAll(tasks)) {
            done.get();
          }
        }
      }
    } catch (ExecutionException e) {
      throw new IllegalStateException("a turn threw outside the SDK call", e.getCause());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    } finally {
      row.seconds = (System.nanoTime() - start) / 1e9;
      killed.revive();
      if (pool != null) {
        pool.shutdownNow();
      }
      sdk.close();
    }
    for (Conversation conversation : all) {
      if (conversation.alive) {
        row.survived++;
      }
    }
    row.successfulTurns = successes.sum();
    row.successfulFirstTurns = firstTurns.sum();
    for (int b = 0; b < BACKENDS; b++) {
      LongAdder n = perBackend.get(simulator.backends().get(b).name());
      row.turnsPerBackend[b] = n == null ? 0 : n.sum();
    }
    for (LoggedRequest request : simulator.requestLog()) {
      row.requests++;
      if (request.status() >= 400) {
        row.failedRequests++;
      }
      if (request.body() != null) {
        long bytes = request.body().getBytes(StandardCharsets.UTF_8).length;
        row.requestBytes += bytes;
        if (request.body().contains("\"previous_response_id\"")) {
          row.followUpRequests++;
          row.followUpBytes += bytes;
        } else {
          row.firstRequests++;
          row.firstBytes += bytes;
        }
      }
    }
    row.repairs = interceptor == null ? null : interceptor.repairStats();
    return row;
  }

  private static void turn(OpenAIClient sdk, Client client, Conversation conversation, int turn,
      Map<String, LongAdder> perBackend, LongAdder successes, LongAdder firstTurns) {
    String question = "Conversation " + conversation.number + ", turn " + turn
        + ": tell me one more thing about photosynthesis, please.";
    ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(MODEL);
    if (client == Client.STATELESS) {
      conversation.history.add(message(EasyInputMessage.Role.USER, question));
      params.store(false).inputOfResponse(conversation.history);
    } else {
      params.input(question);
      if (conversation.previousId != null) {
        params.previousResponseId(conversation.previousId);
      }
    }
    try {
      Response response = sdk.responses().create(params.build());
      String text = response.output().get(0).asMessage().content().get(0).asOutputText().text();
      SimulatedAnswer answer = SimulatedAnswer.parse(text);
      if (answer.userMessages() != turn) {
        conversation.alive = false; // context lost: the conversation goes on, but not as itself
        return;
      }
      successes.increment();
      if (turn == 1) {
        firstTurns.increment();
      }
      perBackend.computeIfAbsent(answer.backend(), name -> new LongAdder()).increment();
      conversation.previousId = response.id();
      if (client == Client.STATELESS) {
        // The previous output sent back as an input item without its id: with store=false the
        // backend keeps no item, so an id would be a reference to nothing.
        conversation.history.add(message(EasyInputMessage.Role.ASSISTANT, text));
      }
    } catch (RuntimeException e) {
      conversation.alive = false;
    }
  }

  private static ResponseInputItem message(EasyInputMessage.Role role, String text) {
    return ResponseInputItem.ofEasyInputMessage(
        EasyInputMessage.builder().role(role).content(text).build());
  }

  /** Prints one mode's table and its targets; returns whether every target passed. */
  private static boolean print(int threads, Map<Client, Row> rows) {
    Row affinity = rows.get(Client.AFFINITY);
    Row killed = rows.get(Client.AFFINITY_KILLED);
    Row plain = rows.get(Client.PLAIN);
    System.out.println();
    System.out.println(threads == 1 ? "Sequential (1 thread)" : threads + " threads");
    System.out.println();
    System.out.printf("| %-40s | %9s | %8s | %13s | %12s | %-22s | %9s |%n", "client", "survived",
        "fairness", "requests/turn", "bytes/turn", "repairs (ok/failed)", "wall/aff.");
    System.out.println("|" + "-".repeat(42) + "|" + "-".repeat(11) + "|" + "-".repeat(10) + "|"
        + "-".repeat(15) + "|" + "-".repeat(14) + "|" + "-".repeat(24) + "|" + "-".repeat(11) + "|");
    for (Map.Entry<Client, Row> entry : rows.entrySet()) {
      Row row = entry.getValue();
      String repairs = row.repairs == null ? "-"
          : row.repairs.repairsSucceeded() + " / " + row.repairs.repairsFailed();
      System.out.printf("| %-40s | %8.1f%% | %8.3f | %13.2f | %12.0f | %-22s | %9.2f |%n",
          entry.getKey().label, row.survivedPercent(), row.fairness(), row.requestsPerTurn(),
          row.bytesPerTurn(), repairs, row.seconds / affinity.seconds);
    }
    System.out.println();
    boolean pass = true;
    pass &= target("affinity4j survives 100%", affinity.survived == affinity.conversations,
        String.format("%.1f%%", affinity.survivedPercent()));
    pass &= target("affinity4j fairness >= 0.98", affinity.fairness() >= 0.98,
        String.format("%.3f", affinity.fairness()));
    pass &= target("affinity4j requests/turn = 1.00 without faults",
        affinity.requests == affinity.successfulTurns,
        String.format("%.2f", affinity.requestsPerTurn()));
    // The plain SDK's successful turns are almost all first turns, and its bytes per successful
    // turn count its failed follow-ups; the fair baseline is what it sends per first turn and per
    // follow-up turn, weighted by affinity4j's mix of the two.
    double baseline = plain.bytesPerRequestFor(affinity);
    double bytesRatio = affinity.bytesPerTurn() / baseline;
    pass &= target("affinity4j bytes/turn <= 1.1x plain SDK (same turn mix)", bytesRatio <= 1.1,
        String.format("%.3fx (%.0f vs %.0f B)", bytesRatio, affinity.bytesPerTurn(), baseline));
    pass &= target("backend killed: survives 100%", killed.survived == killed.conversations,
        String.format("%.1f%%", killed.survivedPercent()));
    long repaired = killed.repairs.repairsSucceeded();
    pass &= target("backend killed: <= 1 failed request per repaired chain",
        repaired > 0 && killed.failedRequests <= repaired,
        killed.failedRequests + " failed requests, " + repaired + " chains repaired");
    // Learned once: the requests in flight when the first answer said the backend was gone, one
    // per thread at most; the other chains pinned there replay without a request bound to fail.
    int handful = Math.max(MAX_FAILED_PER_LOST_BACKEND, threads);
    pass &= target("backend killed: failed requests per lost backend <= " + handful,
        killed.failedRequests <= handful,
        killed.failedRequests + " for 1 lost backend holding " + repaired + " chains");
    return pass;
  }

  private static boolean target(String what, boolean passed, String measured) {
    System.out.printf("  %-4s %-55s measured %s%n", passed ? "PASS" : "MISS", what, measured);
    return passed;
  }
}
