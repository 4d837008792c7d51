package io.github.affinity4j.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.AffinityOpenAI;
import io.github.affinity4j.openai.Conversation;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * One {@link Conversation} hammered from many threads, as its Javadoc allows: every method may be
 * called from any thread; one turn runs at a time, and a turn started meanwhile fails at once with
 * an {@link IllegalStateException} and sends nothing; readers never wait and see the latest
 * finished turn; the next turn may start from a future's dependent stage or at a stream's
 * {@code response.completed}. Under that load, with the conversation's backend lost and back,
 * no turn is lost and none is sent twice.
 */
@Tag("concurrency")
@Timeout(value = 10, unit = TimeUnit.MINUTES)
final class SharedConversationTest {
  /** What the rejection of a turn started meanwhile names: the way out, not its wording. */
  private static final String BUSY = "fork()";
  private static final Pattern MARKER = Pattern.compile("conversation 0, turn (\\d+)");

  /** What the conversation is built on. */
  enum Layering {
    /** {@link AffinityConversations} over a plain SDK client. */
    PLAIN,
    /** {@link AffinityConversations} over an {@link AffinityOpenAI} client, sharing its store and journal. */
    ON_INTERCEPTOR
  }

  private final SuiteSize size = SuiteSize.current();
  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @ParameterizedTest
  @EnumSource(Layering.class)
  void oneConversation_manyThreads_oneTurnAtATime_restRejectedAtOnce_noTurnLostOrSentTwice(Layering layering)
      throws Exception {
    Conversation chat = conversation(layering);
    int threads = size.pick(16, 64);
    int target = size.pick(60, 300);

    Queue<Success> successes = new ConcurrentLinkedQueue<>();
    AtomicInteger succeeded = new AtomicInteger();
    AtomicLong rejected = new AtomicLong();
    Queue<String> unexpected = new ConcurrentLinkedQueue<>();
    AtomicInteger ids = new AtomicInteger();
    AtomicBoolean writing = new AtomicBoolean(true);
    String[] lost = new String[1];
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch writersDone = new CountDownLatch(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads + 1);
    try {
      for (int t = 0; t < threads; t++) {
        pool.execute(() -> {
          await(go);
          while (succeeded.get() < target && unexpected.isEmpty()) {
            int id = ids.incrementAndGet();                 // unique: the "turn" of the marker
            String text = ChaosRun.marker(0, id);
            try {
              Response response = switch (id % 3) {
                case 0 -> chat.send(text);
                case 1 -> chat.sendAsync(text).join();
                default -> streamed(chat, text);
              };
              SimulatedAnswer answer = SimulatedAnswer.parse(ChaosRun.textOf(response));
              successes.add(new Success(id, response.id(), answer));
              // The conversation's backend is lost for the middle third of its turns.
              int count = succeeded.incrementAndGet();
              if (count == target / 3) {
                lost[0] = answer.backend();
                simulator.backend(lost[0]).kill();
              } else if (count == 2 * target / 3) {
                simulator.backend(lost[0]).revive();
              }
            } catch (Exception e) {
              Throwable cause = ChaosRun.unwrap(e);
              if (cause instanceof IllegalStateException && String.valueOf(cause.getMessage()).contains(BUSY)) {
                rejected.incrementAndGet();
                LockSupport.parkNanos(20_000);   // paces the hammering on a small machine
              } else {
                unexpected.add(text + ": " + cause);
              }
            }
          }
          writersDone.countDown();
        });
      }
      // A reader, all along: never waits, never fails, never sees the conversation go back.
      Queue<String> readerProblems = new ConcurrentLinkedQueue<>();
      CompletableFuture<Integer> reader = CompletableFuture.supplyAsync(() -> read(chat, writing, readerProblems),
          pool);
      go.countDown();
      pool.shutdown();
      // The writers end first; then the reader is told to stop.
      assertThat(writersDone.await(5, TimeUnit.MINUTES)).as("threads:%n%s", Rotation.stackDump()).isTrue();
      writing.set(false);
      assertThat(pool.awaitTermination(5, TimeUnit.MINUTES)).as("threads:%n%s", Rotation.stackDump()).isTrue();
      int reads = reader.get();

      assertThat(unexpected).as("outcomes other than a success or an at-once rejection").isEmpty();
      assertThat(successes.size()).isGreaterThanOrEqualTo(target);
      assertThat(rejected.get()).as("turns rejected while another ran").isPositive();
      // Serial: the k-th turn to finish saw exactly k user messages, each its own.
      List<Integer> seen = successes.stream().map(s -> s.answer().userMessages()).sorted().toList();
      assertThat(seen).containsExactlyElementsOf(IntStream.rangeClosed(1, successes.size()).boxed().toList());
      assertThat(successes).allSatisfy(s ->
          assertThat(s.answer().lastUserMessage()).isEqualTo(ChaosRun.marker(0, s.id())));
      Success last = successes.stream().max((a, b) -> Integer.compare(a.answer().userMessages(),
          b.answer().userMessages())).orElseThrow();
      assertThat(chat.lastResponseId()).contains(last.responseId());
      assertThat(chat.history()).hasSize(2 * successes.size());
      assertThat(readerProblems).isEmpty();
      assertThat(reads).isPositive();

      // Nothing was sent for a rejected turn, and no turn was sent but as itself or its repair.
      Set<Integer> sent = new TreeSet<>();
      for (LoggedRequest request : simulator.requestLog()) {
        sent.add(lastMarker(request.body()));
      }
      Set<Integer> whole = new TreeSet<>(successes.stream().map(Success::id).toList());
      assertThat(sent).as("turns that reached the gateway: the successful ones, none rejected").isEqualTo(whole);
      System.out.printf("affinity4j one conversation, %d threads (%s, %s): %d turns in order, %d rejected at once,"
              + " %d reads; backend %s lost for the middle third%n", threads, size.label(), layering,
          successes.size(), rejected.get(), reads, lost[0]);
    } finally {
      pool.shutdownNow();
    }
  }

  @ParameterizedTest
  @EnumSource(Layering.class)
  void nextTurn_startedFromTheFuturesStage_orAtResponseCompleted_isNeverRejected(Layering layering) throws Exception {
    Conversation chat = conversation(layering);
    int depth = size.pick(20, 100);

    CompletableFuture<Response> chained = chat.sendAsync(ChaosRun.marker(0, 1));
    for (int turn = 2; turn <= depth; turn++) {
      String text = ChaosRun.marker(0, turn);
      chained = chained.thenCompose(previous -> chat.sendAsync(text));
    }
    Response last = chained.get(5, TimeUnit.MINUTES);
    assertThat(SimulatedAnswer.parse(ChaosRun.textOf(last)).userMessages()).isEqualTo(depth);

    int turn = depth;
    for (int i = 0; i < depth; i++) {
      Response sentAtCompleted = null;
      try (StreamResponse<ResponseStreamEvent> events = chat.stream(ChaosRun.marker(0, ++turn))) {
        for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) events.stream()::iterator) {
          if (event.isCompleted()) {
            sentAtCompleted = chat.send(ChaosRun.marker(0, ++turn));   // the stream is still open
          }
        }
      }
      assertThat(sentAtCompleted).isNotNull();
      assertThat(SimulatedAnswer.parse(ChaosRun.textOf(sentAtCompleted)).userMessages()).isEqualTo(turn);
    }
  }

  private record Success(int id, String responseId, SimulatedAnswer answer) {}

  private Conversation conversation(Layering layering) {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    ResponseCreateParams defaults = ResponseCreateParams.builder().model(ChaosRun.MODEL).build();
    if (layering == Layering.PLAIN) {
      OpenAIClient client = remember(OpenAIOkHttpClient.builder().baseUrl(simulator.openAiBaseUrl())
          .apiKey("test-key").maxRetries(0).build());
      return AffinityConversations.builder().client(client).defaults(defaults).build().start();
    }
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OpenAIClient client = remember(AffinityOpenAI.builder().baseUrl(simulator.openAiBaseUrl()).apiKey("test-key")
        .maxRetries(0).interceptor(interceptor).build());
    return AffinityConversations.builder().client(client).defaults(defaults).store(interceptor.store())
        .journal(interceptor.journal()).build().start();
  }

  private static Response streamed(Conversation chat, String text) {
    try (StreamResponse<ResponseStreamEvent> events = chat.stream(text)) {
      Response completed = null;
      for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) events.stream()::iterator) {
        if (event.isCompleted()) {
          completed = event.asCompleted().response();
        }
      }
      if (completed == null) {
        throw new ChaosRun.StreamEndedEarly();
      }
      return completed;
    }
  }

  /** Reads the conversation in a loop while the writers run; returns how many rounds it made. */
  private static int read(Conversation chat, AtomicBoolean writing, Queue<String> problems) {
    int rounds = 0;
    int historySeen = 0;
    while (writing.get()) {
      try {
        long start = System.nanoTime();
        chat.lastResponseId();
        chat.routing();
        chat.pinFingerprint();
        chat.pendingToolCalls();
        String shown = chat.toString();
        chat.fork().lastResponseId();
        int history = chat.history().size();
        long millis = (System.nanoTime() - start) / 1_000_000;
        if (history < historySeen) {
          problems.add("history went back from " + historySeen + " to " + history + " items");
        }
        if (millis > 5_000) {
          problems.add("a read took " + millis + " ms: readers must not wait for a turn");
        }
        if (shown.contains("APIM-Backend-Affinity=")) {
          problems.add("toString() shows a cookie");
        }
        historySeen = history;
        rounds++;
        LockSupport.parkNanos(200_000);   // paces the reader on a small machine; it waits for nothing
      } catch (RuntimeException e) {
        problems.add("a read failed: " + e);
      }
    }
    return rounds;
  }

  /** The id of the turn a request was sent for: its last marker (a replay carries earlier ones first). */
  private static int lastMarker(String body) {
    Matcher matcher = MARKER.matcher(body);
    int last = -1;
    while (matcher.find()) {
      last = Integer.parseInt(matcher.group(1));
    }
    return last;
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private OpenAIClient remember(OpenAIClient client) {
    clients.add(client);
    return client;
  }
}
