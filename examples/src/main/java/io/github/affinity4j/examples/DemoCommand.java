package io.github.affinity4j.examples;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityOpenAI;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.io.PrintStream;
import java.net.CookieManager;
import java.net.CookiePolicy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Function;
import okhttp3.JavaNetCookieJar;
import okhttp3.OkHttpClient;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code demo}: the reference lab on the embedded {@link ApimSimulator}, as a story a person can
 * follow in the terminal. Three backends behind a round-robin gateway with cookie affinity; four
 * ways to hold six conversations of five turns each:
 *
 * <ol>
 *   <li>the plain OpenAI SDK, which keeps no cookies: turn 2 fails with
 *       {@code previous_response_not_found};
 *   <li>the SDK with a process-wide cookie jar ({@code JavaNetCookieJar}): every conversation
 *       survives, all on one backend;
 *   <li>affinity4j ({@link AffinityOpenAI}): every conversation survives on its own backend, and
 *       the conversations spread over the pool;
 *   <li>affinity4j when a backend dies after turn 2: the conversations it held are repaired by
 *       replaying their history elsewhere.
 * </ol>
 *
 * <p>It ends with a table (conversations survived, share of answers per backend, repairs, requests
 * sent) and returns 0 only if every row shows what it should. Each scenario runs on a fresh,
 * seeded simulator, so a run takes a second or two and prints the same thing every time (latency
 * aside, which it does not print). Output goes to the {@link PrintStream} given at construction.
 * Not thread-safe; one run at a time.
 */
@Command(name = "demo", sortOptions = false, usageHelpAutoWidth = true,
    description = {
        "Runs the session-affinity lab on the embedded APIM simulator (3 backends, round-robin, "
            + "cookie affinity): plain SDK, process-wide cookie jar, affinity4j, and affinity4j "
            + "with a backend killed mid-conversation.",
        "Exit code 0 if every scenario behaved as expected, 1 if not."})
final class DemoCommand implements Callable<Integer> {
  static final int BACKENDS = 3;
  static final int CONVERSATIONS = 6;
  static final int TURNS = 5;
  /** The backend killed in scenario 4, after every conversation's turn 2. */
  static final String KILLED = "backend-2";
  static final int KILL_AFTER_TURN = 2;

  private static final long SEED = 20_250_601L;
  private static final String MODEL = "gpt-4.1";
  private static final String API_KEY = "demo-key-not-a-secret";
  private static final List<String> PROMPTS = List.of(
      "Explain photosynthesis in simple terms",
      "Summarize that for a college freshman",
      "Now in one sentence",
      "Translate it to French",
      "Thanks! What did I ask first?");

  @Option(names = "--debug", description = "DEBUG logging on standard error: affinity4j's, the "
      + "routing log's (headers redacted) and the SDK's own.")
  private boolean debug;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help.")
  private boolean help;

  private final PrintStream out;

  DemoCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    try (DebugLogging logging = DebugLogging.on(debug)) {
      List<Scenario> scenarios = new ArrayList<>();
      scenarios.add(plainSdk(logging));
      scenarios.add(processWideCookieJar(logging));
      scenarios.add(affinity4j(logging));
      scenarios.add(backendKilled(logging));
      return table(scenarios) ? 0 : 1;
    }
  }

  // --- the four scenarios ---

  private Scenario plainSdk(DebugLogging logging) {
    try (ApimSimulator apim = simulator()) {
      intro(apim);
      out.println("1) The plain OpenAI SDK");
      out.println("   The SDK keeps no cookies: it drops the gateway's Set-Cookie, so every request");
      out.println("   is load-balanced on its own, and turn 2 lands on a backend that never saw turn 1.");
      Scenario scenario = new Scenario("plain SDK, no cookie", apim);
      OpenAIOkHttpClient.Builder sdk = OpenAIOkHttpClient.builder()
          .baseUrl(apim.openAiBaseUrl()).apiKey(API_KEY);
      run(scenario, sdk, logging, null);
      scenario.expect(scenario.survived() == 0
              && scenario.conversations.stream().allMatch(c -> c.size() == 2 && !c.get(1).ok()
                  && "previous_response_not_found".equals(c.get(1).error())),
          "every conversation broken at turn 2 by previous_response_not_found");
      conclude(scenario.survived() + " of " + CONVERSATIONS
          + " conversations survived: each broke at turn 2 with previous_response_not_found.");
      return scenario;
    }
  }

  private Scenario processWideCookieJar(DebugLogging logging) {
    try (ApimSimulator apim = simulator()) {
      out.println("2) The SDK with a process-wide cookie jar (okhttp3.JavaNetCookieJar)");
      out.println("   The first Set-Cookie the process receives goes out with every later request,");
      out.println("   whichever conversation it belongs to.");
      Scenario scenario = new Scenario("SDK + process-wide cookie jar", apim);
      OkHttpClient withJar = new OkHttpClient.Builder()
          .cookieJar(new JavaNetCookieJar(new CookieManager(null, CookiePolicy.ACCEPT_ALL)))
          .build();
      try {
        OpenAIOkHttpClient.Builder sdk = OpenAIOkHttpClient.builder()
            .baseUrl(apim.openAiBaseUrl()).apiKey(API_KEY).okHttpClient(withJar);
        run(scenario, sdk, logging, null);
      } finally {
        withJar.dispatcher().executorService().shutdown();
        withJar.connectionPool().evictAll();
      }
      scenario.expect(scenario.survived() == CONVERSATIONS && scenario.contextKept()
              && scenario.backendsAnswering() == 1,
          "every conversation kept, all on one backend");
      conclude(scenario.survived() + " of " + CONVERSATIONS + " survived, but all on "
          + String.join(", ", scenario.answered.entrySet().stream().filter(e -> e.getValue() > 0)
              .map(Map.Entry::getKey).toList())
          + ": the other backends get nothing. Load balancing is gone.");
      return scenario;
    }
  }

  private Scenario affinity4j(DebugLogging logging) {
    try (ApimSimulator apim = simulator()) {
      out.println("3) affinity4j: AffinityOpenAI.builder() (the SDK with AffinityInterceptor)");
      out.println("   Each response chain keeps its own cookie (shown by its fingerprint); a new");
      out.println("   conversation carries none, so the gateway spreads it.");
      Scenario scenario = new Scenario("affinity4j", apim);
      run(scenario, null, logging, null);
      scenario.expect(scenario.survived() == CONVERSATIONS && scenario.contextKept()
              && scenario.eachOnOneBackend()
              && scenario.firstTurnsPerBackend().values().stream()
                  .allMatch(n -> n == CONVERSATIONS / BACKENDS)
              && scenario.repairs() == 0,
          "every conversation kept on its own backend, " + CONVERSATIONS / BACKENDS + " per backend");
      conclude(scenario.survived() + " of " + CONVERSATIONS
          + " survived, each on its own backend; conversations per backend: "
          + String.join(", ", scenario.firstTurnsPerBackend().entrySet().stream()
              .map(e -> e.getKey() + " " + e.getValue()).toList()) + ".");
      return scenario;
    }
  }

  private Scenario backendKilled(DebugLogging logging) {
    try (ApimSimulator apim = simulator()) {
      SimulatedBackend victim = apim.backend(KILLED);
      out.println("4) affinity4j when a backend dies mid-conversation");
      out.println("   All " + CONVERSATIONS + " conversations get turns 1-" + KILL_AFTER_TURN
          + "; then " + victim.name() + " (" + victim.region() + ") is killed, and");
      out.println("   they go on to turn " + TURNS + ". The gateway re-routes a pinned request to"
          + " another backend,");
      out.println("   which answers previous_response_not_found; affinity4j replays the chain's"
          + " history there.");
      Scenario scenario = new Scenario("affinity4j, " + KILLED + " killed", apim);
      scenario.killedAfterTurn = KILL_AFTER_TURN;
      run(scenario, null, logging, () -> {
        victim.kill();
        out.println("   ... turn " + KILL_AFTER_TURN + " done everywhere; " + victim.name()
            + " is killed now.");
      });
      long onVictim = scenario.conversations.stream()
          .filter(c -> scenario.backendOf(c.get(0)).equals(scenario.shortName.get(victim.name())))
          .count();
      boolean victimIdleAfterKill = scenario.conversations.stream()
          .flatMap(List::stream)
          .filter(r -> r.turn() > KILL_AFTER_TURN && r.ok())
          .noneMatch(r -> scenario.backendOf(r).equals(scenario.shortName.get(victim.name())));
      scenario.expect(scenario.survived() == CONVERSATIONS && scenario.contextKept()
              && onVictim > 0 && scenario.repairs() == onVictim && victimIdleAfterKill,
          "every conversation kept; the " + onVictim + " on " + victim.name() + " repaired once each");
      conclude(scenario.survived() + " of " + CONVERSATIONS + " survived. The " + onVictim
          + " conversations on " + victim.name() + " were repaired at turn " + (KILL_AFTER_TURN + 1)
          + " (marked *)",
          "and went on elsewhere with their whole context; the others never noticed.");
      return scenario;
    }
  }

  // --- running conversations ---

  /**
   * Runs the conversations: the plain SDK builder {@code sdk} if given, else affinity4j. Without
   * {@code kill}, conversation after conversation; with it, turns 1 to {@link #KILL_AFTER_TURN} of
   * every conversation, then {@code kill}, then the remaining turns of every conversation.
   */
  private void run(Scenario scenario, OpenAIOkHttpClient.@Nullable Builder sdk,
      DebugLogging logging, @Nullable Runnable kill) {
    ApimSimulator apim = scenario.apim;
    Set<String> cookies = Set.of(apim.cookieName());
    TurnRecorder recorder = new TurnRecorder(cookies);
    OpenAIClient client;
    if (sdk != null) {
      logging.apply(sdk, cookies, List.of());
      sdk.addInterceptor(recorder.interceptor());
      client = sdk.build();
    } else {
      client = AffinityOpenAI.builder()
          .baseUrl(apim.openAiBaseUrl())
          .apiKey(API_KEY)
          .interceptor(AffinityInterceptor.builder()
              .cookieNames(apim.cookieName())
              .listener(recorder.listener())
              .build())
          .customize(builder -> {
            logging.apply(builder, cookies, List.of());
            builder.addInterceptor(recorder.interceptor());
          })
          .build();
    }
    try {
      TurnRunner runner = new TurnRunner(client, recorder, MODEL, false, Redactor.none());
      @Nullable String[] previous = new @Nullable String[CONVERSATIONS + 1];
      for (int c = 1; c <= CONVERSATIONS; c++) {
        scenario.conversations.add(new ArrayList<>());
      }
      if (kill == null) {
        for (int c = 1; c <= CONVERSATIONS; c++) {
          turns(scenario, runner, previous, c, 1, TURNS);
          out.println(scenario.describe(c));
        }
      } else {
        for (int c = 1; c <= CONVERSATIONS; c++) {
          turns(scenario, runner, previous, c, 1, KILL_AFTER_TURN);
        }
        kill.run();
        for (int c = 1; c <= CONVERSATIONS; c++) {
          turns(scenario, runner, previous, c, KILL_AFTER_TURN + 1, TURNS);
          out.println(scenario.describe(c));
        }
      }
    } finally {
      client.close();
    }
    scenario.finish();
  }

  private static void turns(Scenario scenario, TurnRunner runner, @Nullable String[] previous,
      int c, int from, int to) {
    List<TurnRecord> conversation = scenario.conversations.get(c - 1);
    for (int t = from; t <= to; t++) {
      if (!conversation.isEmpty() && !conversation.get(conversation.size() - 1).ok()) {
        return;   // broken: the chain cannot be continued
      }
      TurnRecord record = runner.run(c, t, PROMPTS.get(t - 1), previous[c]);
      conversation.add(record);
      previous[c] = record.responseId();
    }
  }

  private static ApimSimulator simulator() {
    return ApimSimulator.builder().backends(BACKENDS).random(new Random(SEED)).start();
  }

  // --- printing ---

  private void intro(ApimSimulator apim) {
    out.println("affinity4j demo: one gateway, three backends, four ways to hold a conversation.");
    out.println();
    out.println("An APIM-like gateway (the embedded simulator, on loopback) balances round-robin");
    out.println("over " + BACKENDS + " Responses API backends:");
    StringBuilder legend = new StringBuilder("   ");
    for (int i = 0; i < apim.backends().size(); i++) {
      SimulatedBackend backend = apim.backends().get(i);
      legend.append("b").append(i + 1).append(" = ").append(backend.name()).append(" (")
          .append(backend.region()).append(")").append(i + 1 < apim.backends().size() ? "   " : "");
    }
    out.println(legend);
    out.println("and pins a client to a backend with the cookie " + apim.cookieName()
        + " if the client sends it back.");
    out.println("A response lives only on the backend that created it. Each scenario runs "
        + CONVERSATIONS + " conversations");
    out.println("of " + TURNS + " turns on a fresh gateway, each turn continuing the last with"
        + " previous_response_id.");
    out.println("A route such as \"b1 b1 b2:400\" shows which backend answered each turn; \"context 5/5\"");
    out.println("means the last answer saw all 5 user messages.");
    out.println();
  }

  private void conclude(String first, String... more) {
    out.println("   -> " + first);
    for (String line : more) {
      out.println("      " + line);
    }
    out.println();
  }

  /** Prints the table; returns true if every row is as expected. */
  private boolean table(List<Scenario> scenarios) {
    String format = "%-34s %-9s %-22s %-8s %-9s %s%n";
    out.println("Summary: " + CONVERSATIONS + " conversations x " + TURNS + " turns per scenario, "
        + BACKENDS + " backends, round-robin, cookie affinity on");
    out.println();
    out.printf(Locale.ROOT, format, "Scenario", "Survived", "Answered by b1/b2/b3", "Repairs",
        "Requests", "As expected");
    out.printf(Locale.ROOT, format, "-".repeat(34), "-".repeat(8), "-".repeat(22), "-".repeat(7),
        "-".repeat(8), "-".repeat(11));
    boolean all = true;
    for (int i = 0; i < scenarios.size(); i++) {
      Scenario s = scenarios.get(i);
      all &= s.asExpected;
      out.printf(Locale.ROOT, format, (i + 1) + " " + s.title, s.survived() + "/" + CONVERSATIONS,
          s.shares(), s.repairs(), s.requests, s.asExpected ? "yes" : "NO: expected " + s.expectation);
    }
    out.println();
    if (all) {
      out.println("demo: OK. Without the cookie, conversations break; with one cookie for the whole"
          + " process,");
      out.println("they all pile onto one backend; affinity4j keeps each conversation on its own"
          + " backend,");
      out.println("spreads them over the pool, and repairs the ones whose backend died.");
    } else {
      out.println("demo: UNEXPECTED: a row above is not what it should be.");
    }
    return all;
  }

  /** One scenario's conversations and what the gateway saw. */
  private static final class Scenario {
    final String title;
    final ApimSimulator apim;
    final List<List<TurnRecord>> conversations = new ArrayList<>();
    /** backend-1 → b1, by the pool's order. */
    final Map<String, String> shortName = new LinkedHashMap<>();
    /** Region → short name, to name the backend of a turn whose error carries only the region. */
    final Map<String, String> byRegion = new LinkedHashMap<>();
    /** Short name → turns answered, every backend present. */
    final Map<String, Integer> answered = new LinkedHashMap<>();
    /** The turn after which a backend was killed, marked {@code |} in routes; 0 if none was. */
    int killedAfterTurn;
    int requests;
    boolean asExpected;
    String expectation = "";

    Scenario(String title, ApimSimulator apim) {
      this.title = title;
      this.apim = apim;
      for (int i = 0; i < apim.backends().size(); i++) {
        SimulatedBackend backend = apim.backends().get(i);
        shortName.put(backend.name(), "b" + (i + 1));
        byRegion.put(backend.region(), "b" + (i + 1));
        answered.put("b" + (i + 1), 0);
      }
    }

    void finish() {
      requests = apim.requestLog().size();
      for (List<TurnRecord> conversation : conversations) {
        for (TurnRecord record : conversation) {
          if (record.ok()) {
            answered.merge(backendOf(record), 1, Integer::sum);
          }
        }
      }
    }

    void expect(boolean condition, String expectation) {
      // A repair costs the failed request that found the break; once the process knows a backend
      // lost, the other chains on it replay at once, without one.
      long extra = requests - turnsSent();
      this.asExpected = condition && extra >= 0 && extra <= repairs();
      this.expectation = expectation + " and at most one extra request per repair";
    }

    /** The short name of the backend that answered: from the answer, else from the region header. */
    String backendOf(TurnRecord record) {
      if (record.ok()) {
        return shortName.getOrDefault(SimulatedAnswer.parse(record.text()).backend(), "?");
      }
      return byRegion.getOrDefault(record.region(), "?");
    }

    boolean survived(List<TurnRecord> conversation) {
      return conversation.size() == TURNS && conversation.stream().allMatch(TurnRecord::ok);
    }

    int survived() {
      return (int) conversations.stream().filter(this::survived).count();
    }

    /** Every answer saw every user message of its conversation so far. */
    boolean contextKept() {
      return conversations.stream().flatMap(List::stream).filter(TurnRecord::ok)
          .allMatch(r -> SimulatedAnswer.parse(r.text()).userMessages() == r.turn());
    }

    boolean eachOnOneBackend() {
      return conversations.stream().allMatch(c -> c.stream().map(this::backendOf).distinct().count() == 1);
    }

    long backendsAnswering() {
      return answered.values().stream().filter(n -> n > 0).count();
    }

    Map<String, Integer> firstTurnsPerBackend() {
      Map<String, Integer> first = new LinkedHashMap<>();
      shortName.values().forEach(name -> first.put(name, 0));
      conversations.forEach(c -> first.merge(backendOf(c.get(0)), 1, Integer::sum));
      return first;
    }

    long repairs() {
      return conversations.stream().flatMap(List::stream).filter(TurnRecord::repaired).count();
    }

    long turnsSent() {
      return conversations.stream().mapToLong(List::size).sum();
    }

    String shares() {
      long total = answered.values().stream().mapToLong(Integer::longValue).sum();
      Function<Integer, String> percent = n -> total == 0 ? "0%"
          : Math.round(100.0 * n / total) + "%";
      return String.join(" / ", answered.values().stream().map(percent).toList());
    }

    /** One conversation as a route, e.g. {@code conversation 2  b2 b2 | b1* b1 b1  context 5/5 …}. */
    String describe(int c) {
      List<TurnRecord> conversation = conversations.get(c - 1);
      StringBuilder route = new StringBuilder();
      for (TurnRecord record : conversation) {
        if (route.length() > 0) {
          route.append(killedAfterTurn > 0 && record.turn() == killedAfterTurn + 1 ? " | " : " ");
        }
        route.append(backendOf(record)).append(record.repaired() ? "*" : "")
            .append(record.ok() ? "" : ":" + record.status());
      }
      StringBuilder line =
          new StringBuilder(String.format(Locale.ROOT, "   conversation %d  %-22s", c, route));
      TurnRecord last = conversation.get(conversation.size() - 1);
      if (!last.ok()) {
        line.append("turn ").append(last.turn()).append(": ").append(last.error());
        return line.toString();
      }
      line.append("context ").append(SimulatedAnswer.parse(last.text()).userMessages()).append('/')
          .append(last.turn());
      for (int i = 1; i < conversation.size(); i++) {
        TurnRecord record = conversation.get(i);
        if (record.repaired()) {
          // The pin moved with the repair: show where from, where to, and what it took.
          return line.append("  pin ").append(conversation.get(i - 1).pin()).append(" -> ")
              .append(record.pinSet()).append(", repaired at turn ").append(record.turn())
              .append(" (").append(record.itemsReplayed()).append(" items replayed)").toString();
        }
      }
      if (last.pin() != null) {
        line.append("  pin ").append(last.pin());
      }
      return line.toString();
    }
  }
}
