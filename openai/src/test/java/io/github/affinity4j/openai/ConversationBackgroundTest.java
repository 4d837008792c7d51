package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIIoException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseStatus;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Background turns through a Conversation: polled on their backend until they end, whichever way. */
@Timeout(30)
final class ConversationBackgroundTest {
  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;
  private OpenAIClient client;
  private Conversation chat;
  private String before;

  @BeforeEach
  void start() {
    // A background response that never completes by itself: it ends only when cancelled.
    simulator = ApimSimulator.builder().backends(3).backgroundCompletesOnPoll(Integer.MAX_VALUE).start();
    client = closeLater(clients, plainClient(simulator.openAiBaseUrl()).build());
    AffinityConversations conversations = AffinityConversations.builder().client(client).defaults(defaults())
        .backgroundPollInterval(Duration.ofMillis(5)).build();
    chat = conversations.start();
    before = chat.send("A stored turn first").id();
  }

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    simulator.close();
  }

  @Test
  void cancelledWhilePolled_returnedCancelled_conversationStaysWhereItWas() {
    CompletableFuture<Response> turn = chat.sendAsync(defaults().toBuilder().background(true).input("Long job").build());
    String id = awaitPolled();

    cancelOnItsBackend(id);

    Response ended = turn.join();
    assertThat(ended.id()).isEqualTo(id);
    assertThat(ended.status()).contains(ResponseStatus.CANCELLED);
    assertThat(chat.lastResponseId()).as("nothing to continue from").contains(before);
    assertThat(simulator.requestLog()).filteredOn(LoggedRequest::backgroundPoll)
        .as("every poll pinned to the backend that holds it").allMatch(LoggedRequest::hasAffinityCookie);
  }

  @Test
  void interruptedWhilePolling_ioExceptionWithTheFlagSet_conversationFreeAndWhereItWas() throws Exception {
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicBoolean flagSet = new AtomicBoolean();
    // A long pause between polls, so that the interrupt finds the caller waiting there, not in a poll.
    Conversation waiting = AffinityConversations.builder().client(client).defaults(defaults())
        .backgroundPollInterval(Duration.ofSeconds(30)).build().start();
    String stored = waiting.send("A stored turn first").id();
    Thread caller = new Thread(() -> {
      try {
        waiting.send(defaults().toBuilder().background(true).input("Long job").build());
      } catch (RuntimeException e) {
        thrown.set(e);
        flagSet.set(Thread.currentThread().isInterrupted());
      }
    });
    caller.start();
    while (caller.getState() != Thread.State.TIMED_WAITING) { // in the pause after the create
      Thread.onSpinWait();
    }

    caller.interrupt();
    caller.join();

    assertThat(thrown.get()).isInstanceOf(OpenAIIoException.class);
    assertThat(flagSet).isTrue();
    assertThat(waiting.lastResponseId()).contains(stored);
    assertThat(waiting.send("Next").previousResponseId()).as("free again, from where it was").contains(stored);
  }

  @Test
  void backgroundPollInterval_outOfRange_rejected() {
    AffinityConversations.Builder builder = AffinityConversations.builder();
    assertThatThrownBy(() -> builder.backgroundPollInterval(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.backgroundPollInterval(Duration.ofHours(2)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /** Waits for the first poll of a background response; returns its id. */
  private String awaitPolled() {
    while (true) {
      for (LoggedRequest request : simulator.requestLog()) {
        if (request.backgroundPoll()) {
          return request.path().substring(request.path().lastIndexOf('/') + 1);
        }
      }
      Thread.onSpinWait();
    }
  }

  /** Cancels through a plain client: it lands on any backend, so it is sent until it reaches the right one. */
  private void cancelOnItsBackend(String id) {
    for (int attempt = 0; attempt < 30; attempt++) {
      try {
        client.responses().cancel(id);
        return;
      } catch (NotFoundException elsewhere) {
        // another backend: the gateway spreads unpinned requests
      }
    }
    throw new AssertionError("cancel never reached the backend of " + id);
  }
}
