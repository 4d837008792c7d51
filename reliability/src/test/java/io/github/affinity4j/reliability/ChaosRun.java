package io.github.affinity4j.reliability;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainRepair;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.AffinityOpenAI;
import io.github.affinity4j.openai.Conversation;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.CircuitBreakerRule;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
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

  /** A repair the listeners reported, and when. */
  record RepairEvent(String chainResponseId, boolean replayed, long nanos) {}

  /** A turn that failed, as the caller saw it. */
  record Failure(Throwable error, String message) {}

  /**
   * One turn, as the caller saw it.
   *
   * @param conversation the conversation's number
   * @param index 1 for its first turn
   * @param style how the conversation talks to the pool
   * @param mode sync, async or streamed
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
  record Turn(int conversation, int index, Style style, Mode mode, long startNanos, long endNanos,
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
    for (int i = 0; i < size.conversations; i++) {
      Style style = Style.values()[i % Style.values().length];
      chats.add(new Chat(i, style, new Random(seed * 31 + i), clients.start(style)));
    }

    LinkedBlockingQueue<Chat> ready = new LinkedBlockingQueue<>(chats);
    Queue<Turn> turns = new ConcurrentLinkedQueue<>();
    Queue<Throwable> harnessErrors = new ConcurrentLinkedQueue<>();
    AtomicLong completed = new AtomicLong();
    ExecutorService workers = Executors.newFixedThreadPool(size.threads);
    HeapSampler heap = new HeapSampler();
    for (int t = 0; t < size.threads; t++) {
      workers.execute(() -> {
        try {
          for (Chat chat; (chat = ready.poll()) != null; ) {
            turns.add(turn(chat, clients.affinityClient));
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
    PinCheck.Result pins = PinCheck.check(simulator.requestLog(), ChaosReport.owners(turnList));
    ResourceProbe.Pool pool = ResourceProbe.pool(clients.http);
    ChaosReport.Observed observed = new ChaosReport.Observed(size, seed, pinnedMode, plan, plan.lossEpisodes(),
        turnList, pins, List.copyOf(listener.repaired), listener.started.get(), listener.failed.get(),
        clients.interceptor.repairStats(), clients.onPlain.repairStats(), clients.layered.repairStats(), pool,
        heap.peakBytes(),
        elapsedNanos, finished, List.copyOf(harnessErrors));

    // Release everything, as an application shutting down would.
    clients.close();
    simulator.close();
    return observed;
  }

  /**
   * Runs a few turns of every style and mode, a repair among them, and releases it all: the
   * classes and static caches of the SDK and the library are loaded before the heap baseline, so
   * what the run retains is what it leaked.
   */
  private static void warmUp() {
    try (ApimSimulator simulator = ApimSimulator.builder().backends(3).start();
        Clients clients = new Clients(simulator.openAiBaseUrl(), new RecordingListener())) {
      for (Style style : Style.values()) {
        Chat chat = new Chat(-1, style, new Random(0), clients.start(style));
        for (Mode mode : Mode.values()) {
          String previous = style == Style.INTERCEPTOR ? chat.lastResponseId
              : chat.conversation.lastResponseId().orElse(null);
          Response response = style == Style.INTERCEPTOR
              ? sendThroughInterceptor(clients.affinityClient, mode, "warm up", previous)
              : sendThroughConversation(chat.conversation, mode, "warm up");
          chat.lastResponseId = response.id();
          chat.home = SimulatedAnswer.parse(textOf(response)).backend();
        }
        simulator.backend(chat.home).kill();
        if (chat.conversation != null) {
          sendThroughConversation(chat.conversation, Mode.SYNC, "warm up");
        } else {
          sendThroughInterceptor(clients.affinityClient, Mode.SYNC, "warm up", chat.lastResponseId);
        }
        simulator.backend(chat.home).revive();
        // The failure paths too: their classes, and the SDK's reflection caches for them.
        for (SimulatedBackend backend : simulator.backends()) {
          backend.failNext(3, 429, Duration.ofMillis(1));
        }
        warmUpFailure(() -> sendThroughConversationOrClient(clients, chat, Mode.ASYNC));
        for (SimulatedBackend backend : simulator.backends()) {
          backend.failNext(3, 500, Duration.ofMillis(1));
        }
        warmUpFailure(() -> sendThroughConversationOrClient(clients, chat, Mode.SYNC));
        for (SimulatedBackend backend : simulator.backends()) {
          backend.clearFaults();
          backend.cutNextStreamAfter(2);
        }
        warmUpFailure(() -> sendThroughConversationOrClient(clients, chat, Mode.STREAM));
        simulator.backends().forEach(SimulatedBackend::clearFaults);
      }
    }
  }

  private static Response sendThroughConversationOrClient(Clients clients, Chat chat, Mode mode) {
    return chat.conversation != null ? sendThroughConversation(chat.conversation, mode, "warm up")
        : sendThroughInterceptor(clients.affinityClient, mode, "warm up", chat.lastResponseId);
  }

  private static void warmUpFailure(Runnable turn) {
    try {
      turn.run();
    } catch (RuntimeException expected) {
      // the failure is what warms up
    }
  }

  /** The clients of a run: one OkHttp client under two SDK clients, and two conversation wrappers. */
  private static final class Clients implements AutoCloseable {
    final OkHttpClient http = new OkHttpClient.Builder().build();
    final AffinityInterceptor interceptor;
    final OpenAIClient affinityClient;
    final OpenAIClient plainClient;
    final AffinityConversations onPlain;
    final AffinityConversations layered;

    Clients(String baseUrl, AffinityListener listener) {
      interceptor = AffinityInterceptor.builder()
          .listener(listener)
          .retryPause(Duration.ofMillis(50))
          .build();
      affinityClient = AffinityOpenAI.builder()
          .baseUrl(baseUrl)
          .apiKey("chaos-test-key")
          .okHttpClient(http)
          .maxRetries(2)
          .timeout(TURN_TIMEOUT)
          .interceptor(interceptor)
          .build();
      plainClient = OpenAIOkHttpClient.builder()
          .baseUrl(baseUrl)
          .apiKey("chaos-test-key")
          .okHttpClient(http)
          .maxRetries(2)
          .timeout(TURN_TIMEOUT)
          .build();
      ResponseCreateParams defaults = ResponseCreateParams.builder().model(MODEL).build();
      onPlain = AffinityConversations.builder()
          .client(plainClient)
          .defaults(defaults)
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

    /** A new conversation in this style; null for the interceptor style, whose caller threads ids. */
    Conversation start(Style style) {
      return switch (style) {
        case INTERCEPTOR -> null;
        case CONVERSATION -> onPlain.start();
        case LAYERED -> layered.start();
      };
    }

    /** Releases what an application shutting down would: the SDK clients, then OkHttp's threads and sockets. */
    @Override
    public void close() {
      affinityClient.close();
      plainClient.close();
      Dispatcher dispatcher = http.dispatcher();
      dispatcher.executorService().shutdown();
      ConnectionPool pool = http.connectionPool();
      pool.evictAll();
    }
  }

  /** One conversation's state; used by one thread at a time (it is in the queue or with one worker). */
  private static final class Chat {
    final int id;
    final Style style;
    final Random random;
    final Conversation conversation;
    String lastResponseId;
    String home;
    int successes;
    int turnsTaken;

    Chat(int id, Style style, Random random, Conversation conversation) {
      this.id = id;
      this.style = style;
      this.random = random;
      this.conversation = conversation;
    }
  }

  private Turn turn(Chat chat, OpenAIClient affinityClient) {
    int index = ++chat.turnsTaken;
    int draw = chat.random.nextInt(10);
    Mode mode = draw < 5 ? Mode.SYNC : draw < 7 ? Mode.ASYNC : Mode.STREAM;
    String text = marker(chat.id, index);
    String previous = chat.style == Style.INTERCEPTOR ? chat.lastResponseId
        : chat.conversation.lastResponseId().orElse(null);
    String homeBefore = chat.home;
    int expected = chat.successes + 1;
    long start = System.nanoTime();
    Response response = null;
    Failure failure = null;
    try {
      response = chat.style == Style.INTERCEPTOR
          ? sendThroughInterceptor(affinityClient, mode, text, previous)
          : sendThroughConversation(chat.conversation, mode, text);
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
    return new Turn(chat.id, index, chat.style, mode, start, end, previous, homeBefore, expected,
        response == null ? null : response.id(), answer, failure, stateAfter);
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

  static String marker(int conversation, int turn) {
    return "conversation " + conversation + ", turn " + turn;
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
      repaired.add(new RepairEvent(repair.chain() == null ? null : repair.chain().id(), repair.replayed(),
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
