package io.github.affinity4j.reliability;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.AffinityOpenAI;
import io.github.affinity4j.openai.Conversation;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.CircuitBreakerRule;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;

/**
 * One chaos run: a 3-backend {@link ApimSimulator} under a {@link FaultPlan}, and many
 * conversations taking turns on many threads through the real OpenAI SDK, in three styles:
 *
 * <ul>
 *   <li>{@link Style#INTERCEPTOR}: a client from {@link AffinityOpenAI} (so an
 *       {@link AffinityInterceptor}), the caller threading {@code previous_response_id};
 *   <li>{@link Style#CONVERSATION}: {@link AffinityConversations} over a plain SDK client;
 *   <li>{@link Style#LAYERED}: {@link AffinityConversations} over that same {@link AffinityOpenAI}
 *       client, sharing the interceptor's store and journal, as the README says to.
 * </ul>
 *
 * <p>The conversations belong to two {@link Tenant}s with different API keys, alternating in blocks
 * of the three styles, and share one interceptor, one store and one journal: the
 * {@link AffinityConversations} over plain clients are given the interceptor's store and journal
 * too. Tenant B's plain client talks to the same simulator under another host name (a second
 * origin), so its {@link Style#CONVERSATION} chains also differ from A's by origin. Now and then,
 * before a turn, a conversation's tenant tries the other tenant's latest response id, as an
 * attacker with a leaked id would ({@link Attempt}): sent as {@code previous_response_id} through
 * its interceptor client, or resumed through its conversation wrapper.
 *
 * <p>Each turn is sync, async or streamed, at random (seeded). Conversations take turns in
 * rotation: a thread takes the next conversation from a queue, runs one turn, and puts it back, so
 * every conversation lives through most of the run and its pins age while faults come and go.
 * Everything the invariants need is recorded as it happens; {@link ChaosReport} judges it.
 */
final class ChaosRun {
  static final String MODEL = "gpt-4.1";
  static final Duration TURN_TIMEOUT = Duration.ofSeconds(30);

  enum Style { INTERCEPTOR, CONVERSATION, LAYERED }

  enum Mode { SYNC, ASYNC, STREAM }

  /** Before one turn in this many, the conversation's tenant makes a cross-tenant attempt. */
  static final int ATTEMPT_ONE_IN = 8;

  /** A repair the listeners reported: the chain's response id and scope, and when. */
  record RepairEvent(String chainResponseId, ChainScope scope, boolean replayed, long nanos) {}

  /**
   * A deliberate cross-tenant attempt: the attacker names the victim's latest response id, as one
   * holding a leaked id would. Through the interceptor ({@link Style#INTERCEPTOR}) it is sent as
   * {@code previous_response_id}, with the text {@link Tenant#attackText}; through a conversation
   * wrapper it is {@code resume}d.
   *
   * @param attacker the tenant trying
   * @param style how: sent through the interceptor client, or resumed by the style's wrapper
   * @param number the attempt's number, in its text
   * @param victim the conversation whose response it names
   * @param victimResponseId that response
   * @param scope the attacker's scope, as its wrapper computes it
   * @param startNanos when it began
   * @param endNanos when it ended
   * @param outcome how it ended, for the figures
   * @param leak what the attacker got of the victim's chain, or null: a resumed conversation
   *     (whose next turn, {@link Tenant#resumedText}, is then sent to show in the request log what
   *     the leak carries)
   */
  record Attempt(Tenant attacker, Style style, long number, int victim, String victimResponseId, ChainScope scope,
      long startNanos, long endNanos, String outcome, String leak) {}

  /** A turn that failed, as the caller saw it. */
  record Failure(Throwable error, String message) {}

  /**
   * One turn, as the caller saw it.
   *
   * @param conversation the conversation's number
   * @param tenant whose conversation it is
   * @param index 1 for its first turn
   * @param style how the conversation talks to the pool
   * @param mode sync, async or streamed
   * @param scope the conversation's scope, as its tenant's wrapper computes it; a failure's note
   *     names the chain in it
   * @param startNanos when the turn began
   * @param endNanos when it ended
   * @param previousResponseId the response it continued; null for the first successful turn
   * @param homeBefore the backend holding that response, from its answer; null for a new chain
   * @param expectedUserMessages the user messages a whole context holds: the successes before it, plus one
   * @param responseId the response's id, on success
   * @param answerText its text, on success
   * @param failure what the caller caught, on failure
   * @param stateAfter for conversations, {@code Conversation.lastResponseId()} after the turn
   */
  record Turn(int conversation, Tenant tenant, int index, Style style, Mode mode, ChainScope scope,
      long startNanos, long endNanos,
      String previousResponseId, String homeBefore, int expectedUserMessages, String responseId,
      String answerText, Failure failure, String stateAfter) {
    boolean succeeded() {
      return failure == null;
    }
  }

  private final SuiteSize size;
  private final long seed;
  private final PinnedBackendMode pinnedMode;

  ChaosRun(SuiteSize size, long seed, PinnedBackendMode pinnedMode) {
    this.size = size;
    this.seed = seed;
    this.pinnedMode = pinnedMode;
  }

  /** Runs the workload under the plan, releases everything, and returns what it saw. */
  ChaosReport run() throws InterruptedException {
    warmUp();
    ResourceProbe probe = ResourceProbe.before();
    // Judged as soon as observed: the report keeps verdicts and figures, not the run's records, so
    // that everything the run made is unreachable when the heap is measured.
    boolean histogram = Boolean.getBoolean("affinity4j.histogram");
    String before = histogram ? ResourceProbe.classHistogram() : "";
    ChaosReport report = new ChaosReport(observe());
    report.measured(probe.after(Duration.ofSeconds(20)));
    if (histogram) {
      System.out.println("class histogram before the run:\n" + before.lines().limit(25).collect(
          java.util.stream.Collectors.joining("\n")));
      System.out.println("class histogram after the run:\n" + ResourceProbe.classHistogram().lines().limit(25)
          .collect(java.util.stream.Collectors.joining("\n")));
    }
    return report;
  }

  private ChaosReport.Observed observe() throws InterruptedException {
    long started = System.nanoTime();
    MutableClock clock = new MutableClock();
    ApimSimulator simulator = ApimSimulator.builder()
        .backends(3)
        .pinnedBackendMode(pinnedMode)
        .circuitBreaker(CircuitBreakerRule.builder()
            .count(FaultPlan.TRIP_COUNT)
            .interval(Duration.ofMinutes(1))
            .statusRange(500, 599)
            .tripDuration(FaultPlan.TRIP_DURATION)
            .build())
        .clock(clock)
        .random(new Random(seed))
        .recordRequestBodies(true)
        .requestLogLimit(Integer.MAX_VALUE)
        .start();
    long totalTurns = (long) size.conversations * size.turns;
    FaultPlan plan = FaultPlan.generate(seed, totalTurns,
        simulator.backends().stream().map(SimulatedBackend::name).toList());
    plan.attach(simulator, clock);

    RecordingListener listener = new RecordingListener();
    Clients clients = new Clients(simulator.openAiBaseUrl(), listener);
    List<Chat> chats = new ArrayList<>();
    Map<Tenant, List<Integer>> byTenant = new EnumMap<>(Tenant.class);
    for (int i = 0; i < size.conversations; i++) {
      Style style = Style.values()[i % Style.values().length];
      Tenant tenant = Tenant.ofConversation(i);
      chats.add(new Chat(i, style, tenant, new Random(seed * 31 + i), clients.of(tenant)));
      byTenant.computeIfAbsent(tenant, t -> new ArrayList<>()).add(i);
    }
    Victims victims = new Victims(byTenant);

    LinkedBlockingQueue<Chat> ready = new LinkedBlockingQueue<>(chats);
    Queue<Turn> turns = new ConcurrentLinkedQueue<>();
    Queue<Attempt> attempts = new ConcurrentLinkedQueue<>();
    Queue<Throwable> harnessErrors = new ConcurrentLinkedQueue<>();
    AtomicLong completed = new AtomicLong();
    ExecutorService workers = Executors.newFixedThreadPool(size.threads);
    HeapSampler heap = new HeapSampler();
    for (int t = 0; t < size.threads; t++) {
      workers.execute(() -> {
        try {
          for (Chat chat; (chat = ready.poll()) != null; ) {
            if (chat.random.nextInt(ATTEMPT_ONE_IN) == 0) {
              victims.attempt(chat).ifPresent(attempts::add);
            }
            Turn turn = turn(chat);
            turns.add(turn);
            if (turn.succeeded()) {
              victims.latest.put(chat.id, turn.responseId());
            }
            long done = completed.incrementAndGet();
            plan.onTurnCompleted(done);
            if (done % 100 == 0) {
              heap.sample();
            }
            if (chat.turnsTaken < size.turns) {
              ready.add(chat);
            }
          }
        } catch (Throwable e) {
          harnessErrors.add(e);
        }
      });
    }
    workers.shutdown();
    boolean finished = workers.awaitTermination(size == SuiteSize.FULL ? 30 : 10, TimeUnit.MINUTES);
    plan.finish();
    heap.sample();
    long elapsedNanos = System.nanoTime() - started;

    // What the log and the counters say, before anything is released.
    List<Turn> turnList = List.copyOf(turns);
    List<LoggedRequest> log = simulator.requestLog();
    PinCheck.Result pins = PinCheck.check(log, ChaosReport.owners(turnList));
    TenantCheck.Result tenants = TenantCheck.check(log);
    ResourceProbe.Pool pool = ResourceProbe.pool(clients.http);
    ChaosReport.Observed observed = new ChaosReport.Observed(size, seed, pinnedMode, plan, plan.lossEpisodes(),
        turnList, pins, tenants, List.copyOf(attempts), List.copyOf(listener.repaired), listener.started.get(),
        listener.failed.get(), clients.repairStats(), pool, heap.peakBytes(), elapsedNanos, finished,
        List.copyOf(harnessErrors));

    // Release everything, as an application shutting down would.
    clients.close();
    simulator.close();
    return observed;
  }

  /**
   * Runs a few turns of every tenant, style and mode, a repair and a cross-tenant attempt among
   * them, and releases it all: the classes and static caches of the SDK and the library are loaded
   * before the heap baseline, so what the run retains is what it leaked.
   */
  private static void warmUp() {
    try (ApimSimulator simulator = ApimSimulator.builder().backends(3).start();
        Clients clients = new Clients(simulator.openAiBaseUrl(), new RecordingListener())) {
      for (Tenant tenant : Tenant.values()) {
        for (Style style : Style.values()) {
          warmUp(simulator, clients, new Chat(-1, style, tenant, new Random(0), clients.of(tenant)));
        }
      }
    }
  }

  private static void warmUp(ApimSimulator simulator, Clients clients, Chat chat) {
    for (Mode mode : Mode.values()) {
      Response response = send(chat, mode, "warm up");
      chat.lastResponseId = response.id();
      chat.home = SimulatedAnswer.parse(textOf(response)).backend();
    }
    simulator.backend(chat.home).kill();
    send(chat, Mode.SYNC, "warm up");
    simulator.backend(chat.home).revive();
    // The failure paths too: their classes, and the SDK's reflection caches for them.
    for (SimulatedBackend backend : simulator.backends()) {
      backend.failNext(3, 429, Duration.ofMillis(1));
    }
    warmUpFailure(() -> send(chat, Mode.ASYNC, "warm up"));
    for (SimulatedBackend backend : simulator.backends()) {
      backend.failNext(3, 500, Duration.ofMillis(1));
    }
    warmUpFailure(() -> send(chat, Mode.SYNC, "warm up"));
    for (SimulatedBackend backend : simulator.backends()) {
      backend.clearFaults();
      backend.cutNextStreamAfter(2);
    }
    warmUpFailure(() -> send(chat, Mode.STREAM, "warm up"));
    simulator.backends().forEach(SimulatedBackend::clearFaults);
    // And the other tenant's attempt on this chain.
    Chat other = new Chat(-1, chat.style, chat.tenant.other(), new Random(0), clients.of(chat.tenant.other()));
    attempt(other, 0, 0, chat.previous());
  }

  private static void warmUpFailure(Runnable turn) {
    try {
      turn.run();
    } catch (RuntimeException expected) {
      // the failure is what warms up
    }
  }

  /** The clients of one tenant: two SDK clients on the run's one OkHttp client, and two conversation wrappers. */
  private static final class TenantClients {
    final OpenAIClient affinityClient;
    final OpenAIClient plainClient;
    final AffinityConversations onPlain;
    final AffinityConversations layered;

    /**
     * @param affinityUrl where the tenant's {@code AffinityOpenAI} client (the interceptor's) sends
     * @param plainUrl where its plain client sends, for {@link Style#CONVERSATION}
     */
    TenantClients(Tenant tenant, String affinityUrl, String plainUrl, OkHttpClient http,
        AffinityInterceptor interceptor, AffinityListener listener) {
      affinityClient = AffinityOpenAI.builder()
          .baseUrl(affinityUrl)
          .apiKey(tenant.apiKey())
          .okHttpClient(http)
          .maxRetries(2)
          .timeout(TURN_TIMEOUT)
          .interceptor(interceptor)
          .build();
      plainClient = OpenAIOkHttpClient.builder()
          .baseUrl(plainUrl)
          .apiKey(tenant.apiKey())
          .okHttpClient(http)
          .maxRetries(2)
          .timeout(TURN_TIMEOUT)
          .build();
      ResponseCreateParams defaults = ResponseCreateParams.builder().model(MODEL).build();
      // One store and one journal for both tenants and every layer, as one Redis would be.
      onPlain = AffinityConversations.builder()
          .client(plainClient)
          .defaults(defaults)
          .store(interceptor.store())
          .journal(interceptor.journal())
          .listener(listener)
          .retryPause(Duration.ofMillis(50))
          .build();
      layered = AffinityConversations.builder()
          .client(affinityClient)
          .defaults(defaults)
          .store(interceptor.store())
          .journal(interceptor.journal())
          .listener(listener)
          .retryPause(Duration.ofMillis(50))
          .build();
    }

    /** The wrapper a conversation of this style uses; null for the interceptor style, whose caller threads ids. */
    AffinityConversations wrapper(Style style) {
      return switch (style) {
        case INTERCEPTOR -> null;
        case CONVERSATION -> onPlain;
        case LAYERED -> layered;
      };
    }

    /**
     * The scope of a conversation of this style: its wrapper's; for the interceptor style, that of
     * the wrapper on the same client, which the interceptor computes alike.
     */
    ChainScope scope(Style style) {
      return style == Style.CONVERSATION ? onPlain.scope() : layered.scope();
    }

    void close() {
      affinityClient.close();
      plainClient.close();
    }
  }

  /**
   * The clients of a run: one OkHttp client (with the {@link Tenant#TAGGER}) and one interceptor,
   * whose store and journal every tenant's clients and wrappers share.
   */
  private static final class Clients implements AutoCloseable {
    final OkHttpClient http = new OkHttpClient.Builder().addNetworkInterceptor(Tenant.TAGGER).build();
    final AffinityInterceptor interceptor;
    private final Map<Tenant, TenantClients> tenants = new EnumMap<>(Tenant.class);

    Clients(String baseUrl, AffinityListener listener) {
      interceptor = AffinityInterceptor.builder()
          .listener(listener)
          .retryPause(Duration.ofMillis(50))
          .build();
      for (Tenant tenant : Tenant.values()) {
        String plainUrl = tenant == Tenant.B ? otherOrigin(baseUrl) : baseUrl;
        tenants.put(tenant, new TenantClients(tenant, baseUrl, plainUrl, http, interceptor, listener));
      }
    }

    TenantClients of(Tenant tenant) {
      return tenants.get(tenant);
    }

    /** The repair counters of every layer: the interceptor, then each tenant's wrappers. */
    Map<String, RepairStats> repairStats() {
      Map<String, RepairStats> stats = new LinkedHashMap<>();
      stats.put("interceptor", interceptor.repairStats());
      tenants.forEach((tenant, clients) -> stats.put("conversations " + tenant, clients.onPlain.repairStats()));
      tenants.forEach((tenant, clients) -> stats.put("layered " + tenant, clients.layered.repairStats()));
      return stats;
    }

    /** Releases what an application shutting down would: the SDK clients, then OkHttp's threads and sockets. */
    @Override
    public void close() {
      tenants.values().forEach(TenantClients::close);
      Dispatcher dispatcher = http.dispatcher();
      dispatcher.executorService().shutdown();
      ConnectionPool pool = http.connectionPool();
      pool.evictAll();
    }
  }

  /** The same simulator under its other loopback name: another origin (host) to the library. */
  static String otherOrigin(String baseUrl) {
    HttpUrl url = HttpUrl.get(baseUrl);
    return url.newBuilder().host(url.host().equals("localhost") ? "127.0.0.1" : "localhost").build().toString();
  }

  /** One conversation's state; used by one thread at a time (it is in the queue or with one worker). */
  private static final class Chat {
    final int id;
    final Style style;
    final Tenant tenant;
    final Random random;
    final TenantClients clients;
    final Conversation conversation;
    String lastResponseId;
    String home;
    int successes;
    int turnsTaken;

    Chat(int id, Style style, Tenant tenant, Random random, TenantClients clients) {
      this.id = id;
      this.style = style;
      this.tenant = tenant;
      this.random = random;
      this.clients = clients;
      AffinityConversations wrapper = clients.wrapper(style);
      this.conversation = wrapper == null ? null : wrapper.start();
    }

    String previous() {
      return conversation == null ? lastResponseId : conversation.lastResponseId().orElse(null);
    }
  }

  /**
   * The latest response of every conversation, by tenant, for the other tenant's attempts to name;
   * and the attempts' numbering.
   */
  private static final class Victims {
    final Map<Integer, String> latest = new ConcurrentHashMap<>();
    private final Map<Tenant, List<Integer>> byTenant;
    private final AtomicLong numbers = new AtomicLong();

    Victims(Map<Tenant, List<Integer>> byTenant) {
      this.byTenant = byTenant;
    }

    /** One attempt by the chat's tenant on a conversation of the other, if that one has a response yet. */
    Optional<Attempt> attempt(Chat chat) {
      List<Integer> candidates = byTenant.get(chat.tenant.other());
      int victim = candidates.get(chat.random.nextInt(candidates.size()));
      String victimId = latest.get(victim);
      if (victimId == null) {
        return Optional.empty();
      }
      return Optional.of(ChaosRun.attempt(chat, victim, numbers.incrementAndGet(), victimId));
    }
  }

  /**
   * The chat's tenant names {@code victimId}: through its interceptor client as
   * {@code previous_response_id} (the chat's style is {@link Style#INTERCEPTOR}), else by resuming
   * it with the style's wrapper. A wrapper that resumes it has leaked the chain; the turn then sent
   * on it shows in the request log what the leak would carry (the victim's pin, its history).
   */
  private static Attempt attempt(Chat chat, int victim, long number, String victimId) {
    String text = chat.tenant.attackText(number);
    ChainScope scope = chat.clients.scope(chat.style);
    long start = System.nanoTime();
    String outcome;
    String leak = null;
    if (chat.style == Style.INTERCEPTOR) {
      int draw = chat.random.nextInt(10);
      Mode mode = draw < 5 ? Mode.SYNC : draw < 7 ? Mode.ASYNC : Mode.STREAM;
      try {
        sendThroughInterceptor(chat.clients.affinityClient, mode, text, victimId);
        outcome = "sent, answered (the simulator does not check keys)";
      } catch (Throwable e) {
        outcome = "sent, refused: " + ChaosReport.cause(unwrap(e), mode);
      }
    } else {
      AffinityConversations wrapper = chat.clients.wrapper(chat.style);
      Conversation resumed = null;
      try {
        resumed = wrapper.resume(victimId);
        outcome = "resumed";
      } catch (NoSuchElementException expected) {
        outcome = "resume refused";
      }
      if (resumed != null) {
        boolean history = Tenant.markedIn(String.valueOf(resumed.history())).contains(chat.tenant.other());
        leak = "tenant " + chat.tenant + " resumed tenant " + chat.tenant.other() + "'s " + victimId
            + (history ? ", its history holding tenant " + chat.tenant.other() + "'s content" : "");
        try {
          sendThroughConversation(resumed, Mode.SYNC, chat.tenant.resumedText(number));
        } catch (RuntimeException e) {
          // what it sent is in the request log
        }
      }
    }
    return new Attempt(chat.tenant, chat.style, number, victim, victimId, scope, start, System.nanoTime(),
        outcome, leak);
  }

  private Turn turn(Chat chat) {
    int index = ++chat.turnsTaken;
    int draw = chat.random.nextInt(10);
    Mode mode = draw < 5 ? Mode.SYNC : draw < 7 ? Mode.ASYNC : Mode.STREAM;
    String text = marker(chat.id, index);
    String previous = chat.previous();
    String homeBefore = chat.home;
    int expected = chat.successes + 1;
    long start = System.nanoTime();
    Response response = null;
    Failure failure = null;
    try {
      response = send(chat, mode, text);
    } catch (Throwable e) {
      Throwable cause = unwrap(e);
      failure = new Failure(cause, String.valueOf(cause.getMessage()));
    }
    long end = System.nanoTime();
    String answer = null;
    if (response != null) {
      answer = textOf(response);
      chat.successes++;
      chat.lastResponseId = response.id();
      Optional<String> backend = ChaosReport.backendOf(answer);
      chat.home = backend.orElse(chat.home);
    }
    String stateAfter = chat.conversation == null ? null : chat.conversation.lastResponseId().orElse(null);
    return new Turn(chat.id, chat.tenant, index, chat.style, mode, chat.clients.scope(chat.style), start, end,
        previous, homeBefore, expected, response == null ? null : response.id(), answer, failure, stateAfter);
  }

  /** One turn of the chat, in its style; the interceptor style continues the chat's last response. */
  private static Response send(Chat chat, Mode mode, String text) {
    return chat.conversation != null ? sendThroughConversation(chat.conversation, mode, text)
        : sendThroughInterceptor(chat.clients.affinityClient, mode, text, chat.lastResponseId);
  }

  private static Response sendThroughInterceptor(OpenAIClient client, Mode mode, String text, String previous) {
    ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(MODEL).input(text);
    if (previous != null) {
      params.previousResponseId(previous);
    }
    switch (mode) {
      case SYNC:
        return client.responses().create(params.build());
      case ASYNC:
        return client.async().responses().create(params.build()).join();
      case STREAM:
        try (StreamResponse<ResponseStreamEvent> events = client.responses().createStreaming(params.build())) {
          return completedResponse(events);
        }
      default:
        throw new AssertionError(mode);
    }
  }

  private static Response sendThroughConversation(Conversation conversation, Mode mode, String text) {
    switch (mode) {
      case SYNC:
        return conversation.send(text);
      case ASYNC:
        return conversation.sendAsync(text).join();
      case STREAM:
        try (StreamResponse<ResponseStreamEvent> events = conversation.stream(text)) {
          return completedResponse(events);
        }
      default:
        throw new AssertionError(mode);
    }
  }

  /** Reads a stream to its end; its {@code response.completed}, else {@link StreamEndedEarly}. */
  private static Response completedResponse(StreamResponse<ResponseStreamEvent> events) {
    Response completed = null;
    for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) events.stream()::iterator) {
      if (event.isCompleted()) {
        completed = event.asCompleted().response();
      }
    }
    if (completed == null) {
      throw new StreamEndedEarly();
    }
    return completed;
  }

  /**
   * A stream that ended without {@code response.completed} and without an exception: the caller
   * would not know the turn was lost. Never expected; counted as an untyped failure.
   */
  static final class StreamEndedEarly extends RuntimeException {
    private static final long serialVersionUID = 1L;

    StreamEndedEarly() {
      super("the stream ended without response.completed and without an error");
    }
  }

  /** The text of a turn: its tenant's marker, then the conversation's and turn's numbers. */
  static String marker(int conversation, int turn) {
    return Tenant.ofConversation(conversation).marker() + " conversation " + conversation + ", turn " + turn;
  }

  static String textOf(Response response) {
    return response.output().stream()
        .filter(item -> item.isMessage())
        .findFirst()
        .map(item -> item.asMessage().content().get(0).asOutputText().text())
        .orElse("");
  }

  static Throwable unwrap(Throwable error) {
    Throwable current = error;
    while ((current instanceof CompletionException || current instanceof ExecutionException)
        && current.getCause() != null) {
      current = current.getCause();
    }
    return current;
  }

  /** Hears every repair of every layer. */
  static final class RecordingListener extends AffinityListener {
    final Queue<RepairEvent> repaired = new ConcurrentLinkedQueue<>();
    final AtomicLong started = new AtomicLong();
    final AtomicLong failed = new AtomicLong();

    @Override
    public void repairStarted(ChainKey chain, ChainBreak cause) {
      started.incrementAndGet();
    }

    @Override
    public void repaired(ChainRepair repair) {
      repaired.add(new RepairEvent(repair.chain() == null ? null : repair.chain().id(),
          repair.chain() == null ? null : repair.chain().scope(), repair.replayed(),
          System.nanoTime()));
    }

    @Override
    public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
      failed.incrementAndGet();
    }
  }

  /** The highest heap use seen while the run went on. */
  static final class HeapSampler {
    private final AtomicLong peak = new AtomicLong();

    void sample() {
      Runtime runtime = Runtime.getRuntime();
      peak.accumulateAndGet(runtime.totalMemory() - runtime.freeMemory(), Math::max);
    }

    long peakBytes() {
      return peak.get();
    }
  }
}
