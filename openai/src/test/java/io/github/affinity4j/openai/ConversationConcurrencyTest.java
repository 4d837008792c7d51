package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static io.github.affinity4j.openai.ConversationFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.InternalServerException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import okhttp3.Interceptor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 5's thread-safety contract: one turn at a time per conversation, a second one rejected at
 * once (not queued) and nothing sent for it; the turn ends when its call returns, its future
 * completes, or its stream reaches its last event or is closed. No timing: a gate in the client
 * holds the first request on the wire until the others have been turned away.
 */
@Timeout(60)
final class ConversationConcurrencyTest {
  private final List<OpenAIClient> clients = new ArrayList<>();
  private final Gate gate = new Gate();
  private ApimSimulator simulator;
  private Conversation chat;

  @BeforeEach
  void start() {
    simulator = ApimSimulator.builder().backends(3).start();
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl()).addInterceptor(gate).build());
    chat = AffinityConversations.builder().client(client).defaults(defaults()).build().start();
  }

  @AfterEach
  void close() {
    gate.release.countDown();
    clients.forEach(OpenAIClient::close);
    simulator.close();
  }

  @Test
  void everyKindOfTurn_whileASendIsOnTheWire_rejectedAtOnceAndNothingSent() throws Exception {
    chat.send(marker(0, 1));
    gate.armed = true;
    ExecutorService threads = Executors.newFixedThreadPool(9);
    try {
      CompletableFuture<Response> running = CompletableFuture.supplyAsync(() -> chat.send(marker(0, 2)), threads);
      assertThat(gate.inFlight.await(30, TimeUnit.SECONDS)).as("first turn on the wire").isTrue();

      List<Consumer<Conversation>> attempts = List.of(
          c -> c.send(marker(1, 2)),
          c -> c.send(defaults().toBuilder().input(marker(1, 2)).build()),
          c -> c.sendAsync(marker(1, 2)).join(),
          c -> c.sendAsync(defaults().toBuilder().input(marker(1, 2)).build()).join(),
          c -> c.stream(marker(1, 2)).close(),
          c -> c.stream(defaults().toBuilder().input(marker(1, 2)).build()).close(),
          c -> c.submitToolOutputs(Map.of("call_1", "x")),
          c -> c.send(marker(1, 2)));
      CountDownLatch go = new CountDownLatch(1);
      ConcurrentLinkedQueue<Throwable> outcomes = new ConcurrentLinkedQueue<>();
      CountDownLatch done = new CountDownLatch(attempts.size());
      for (Consumer<Conversation> attempt : attempts) {
        threads.execute(() -> {
          try {
            go.await();
            attempt.accept(chat);
            outcomes.add(new AssertionError("a second turn was let through"));
          } catch (Throwable t) {
            outcomes.add(t instanceof CompletionException ? t.getCause() : t);
          } finally {
            done.countDown();
          }
        });
      }
      go.countDown();
      assertThat(done.await(30, TimeUnit.SECONDS)).as("rejections, threads:%n%s", stackDump()).isTrue();

      assertThat(outcomes).hasSize(attempts.size()).allSatisfy(outcome -> assertThat(outcome)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("fork()"));
      assertThat(simulator.requestLog()).as("nothing sent for a rejected turn").hasSize(1);
      gate.release.countDown();
      assertThat(SimulatedAnswer.parse(text(running.get(30, TimeUnit.SECONDS))).userMessages()).isEqualTo(2);
      // The turn is over: the next one runs, and continues it.
      assertThat(SimulatedAnswer.parse(text(chat.send(marker(0, 3)))).userMessages()).isEqualTo(3);
      assertThat(simulator.requestLog()).hasSize(3);
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void sendAsync_whileOnTheWire_readersAndForksDoNotWaitAndSeeTheLastFinishedTurn() throws Exception {
    Response first = chat.send(marker(0, 1));
    gate.armed = true;
    CompletableFuture<Response> running = chat.sendAsync(marker(0, 2));
    assertThat(gate.inFlight.await(30, TimeUnit.SECONDS)).isTrue();

    assertThat(chat.lastResponseId()).contains(first.id());
    assertThat(chat.history()).hasSize(2);
    assertThat(chat.toString()).contains("turnInProgress=true");
    Conversation branch = chat.fork();
    assertThat(SimulatedAnswer.parse(text(branch.send(marker(1, 2)))).userMessages()).isEqualTo(2);

    gate.release.countDown();
    assertThat(running.get(30, TimeUnit.SECONDS).id()).isNotEqualTo(first.id());
    assertThat(chat.lastResponseId()).contains(running.get().id());
  }

  @Test
  void stream_holdsTheTurnUntilItsLastEvent_orUntilClosed() {
    StreamResponse<ResponseStreamEvent> first = chat.stream(marker(0, 1));
    assertThatThrownBy(() -> chat.send(marker(0, 2))).isInstanceOf(IllegalStateException.class);
    assertThat(chat.sendAsync(marker(0, 2))).failsWithin(Duration.ofSeconds(5))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCauseInstanceOf(IllegalStateException.class);

    // Read to the last event without closing: the turn ended at response.completed.
    Iterator<ResponseStreamEvent> events = first.stream().iterator();
    String completed = null;
    while (events.hasNext()) {
      ResponseStreamEvent event = events.next();
      if (event.isCompleted()) {
        completed = event.asCompleted().response().id();
        // Ended before this event reached us: the next turn may start right here.
        assertThat(chat.toString()).contains("turnInProgress=false");
      }
    }
    assertThat(chat.lastResponseId()).contains(completed);
    assertThat(SimulatedAnswer.parse(text(chat.send(marker(0, 2)))).userMessages()).isEqualTo(2);
    first.close();

    // Closed before any event: the turn ends, and the conversation stays where it was.
    String before = chat.lastResponseId().orElseThrow();
    chat.stream(marker(0, 3)).close();
    assertThat(chat.lastResponseId()).contains(before);
    assertThat(SimulatedAnswer.parse(text(chat.send(marker(0, 3)))).userMessages()).isEqualTo(3);
  }

  @Test
  void failedTurns_syncAndAsync_endTheTurnAndLeaveTheConversationWhereItWas() {
    Response first = chat.send(marker(0, 1));
    String home = SimulatedAnswer.parse(text(first)).backend();
    simulator.backend(home).failNext(2, 500, Duration.ofMillis(1));

    assertThatThrownBy(() -> chat.send(marker(0, 2))).isInstanceOf(InternalServerException.class);
    assertThat(chat.sendAsync(marker(0, 2))).failsWithin(Duration.ofSeconds(30))
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .withCauseInstanceOf(InternalServerException.class);

    assertThat(chat.lastResponseId()).contains(first.id());
    SimulatedAnswer second = SimulatedAnswer.parse(text(chat.send(marker(0, 2))));
    assertThat(second.userMessages()).isEqualTo(2);
    assertThat(second.backend()).isEqualTo(home);
  }

  /** Holds the first request after {@link #armed} is set until {@link #release} opens. */
  private static final class Gate implements Interceptor {
    final CountDownLatch inFlight = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    volatile boolean armed;

    @Override
    public okhttp3.Response intercept(Chain chain) throws IOException {
      if (armed) {
        armed = false;
        inFlight.countDown();
        try {
          if (!release.await(30, TimeUnit.SECONDS)) {
            throw new InterruptedIOException("gate never released");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted at the gate");
        }
      }
      return chain.proceed(chain.request());
    }
  }

  private static String stackDump() {
    StringBuilder dump = new StringBuilder();
    Thread.getAllStackTraces().forEach((thread, stack) -> {
      dump.append(thread.getName()).append('\n');
      for (StackTraceElement frame : stack) {
        dump.append("    at ").append(frame).append('\n');
      }
    });
    return dump.toString();
  }
}
