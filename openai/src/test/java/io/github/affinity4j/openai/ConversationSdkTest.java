package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.COOKIE;
import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.json;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static io.github.affinity4j.openai.ConversationFixtures.text;
import static io.github.affinity4j.openai.ConversationFixtures.toolParams;
import static java.util.stream.Collectors.counting;
import static java.util.stream.Collectors.groupingBy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.openai.ConversationFixtures.CookieRecorder;
import io.github.affinity4j.openai.ConversationFixtures.Sent;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 5's acceptance: conversations on a plain SDK client (no interceptor, no cookie jar) against
 * the simulator, sync, async and streaming, with function calls and forks.
 */
@Timeout(120)
final class ConversationSdkTest {
  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @Test
  void plainClient_hundredConversationsOfSixTurnsOnEightThreads_allWholeOnTheirBackendAndSpread()
      throws InterruptedException {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl()).build());
    AffinityConversations conversations = AffinityConversations.builder().client(client).defaults(defaults())
        .build();
    int count = 100;
    int turns = 6;
    Map<Integer, List<SimulatedAnswer>> answers = new ConcurrentHashMap<>();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    CountDownLatch start = new CountDownLatch(1);
    try {
      for (int c = 0; c < count; c++) {
        int conversation = c;
        pool.execute(() -> {
          try {
            start.await();
            Conversation chat = conversations.start();
            List<SimulatedAnswer> seen = new ArrayList<>();
            for (int turn = 1; turn <= turns; turn++) {
              seen.add(SimulatedAnswer.parse(text(chat.send(marker(conversation, turn)))));
            }
            answers.put(conversation, seen);
          } catch (Throwable t) {
            failures.add(t);
          }
        });
      }
      start.countDown();
      pool.shutdown();
      assertThat(pool.awaitTermination(100, TimeUnit.SECONDS)).as("conversations finished").isTrue();
    } finally {
      pool.shutdownNow();
    }

    assertThat(failures).isEmpty();
    assertThat(answers).hasSize(count);
    Map<String, Integer> homes = new HashMap<>();
    answers.forEach((conversation, seen) -> {
      for (int turn = 1; turn <= turns; turn++) {
        assertThat(seen.get(turn - 1).userMessages()).as("context of %d, turn %d", conversation, turn)
            .isEqualTo(turn);
        assertThat(seen.get(turn - 1).backend()).as("backend of %d, turn %d", conversation, turn)
            .isEqualTo(seen.get(0).backend());
      }
      homes.merge(seen.get(0).backend(), 1, Integer::sum);
    });
    assertThat(homes).containsOnlyKeys("backend-1", "backend-2", "backend-3");
    assertThat(homes.values()).allSatisfy(n -> assertThat(n / (double) count).isBetween(0.25, 0.42));
    // Kept by the pin alone: no turn was repaired, every continued turn carried its own chain's pin.
    assertThat(conversations.repairStats().breaks()).isZero();
    List<LoggedRequest> log = simulator.requestLog();
    assertThat(log).hasSize(count * turns);
    Map<Integer, String> issued = new HashMap<>();
    for (Sent sent : Sent.all(log)) {
      if (sent.turn() == 1) {
        assertThat(sent.request().hasAffinityCookie()).isFalse();
        issued.put(sent.conversation(), sent.request().issuedCookie());
      }
    }
    assertThat(issued.values()).doesNotContainNull().doesNotHaveDuplicates();
    for (Sent sent : Sent.all(log)) {
      if (sent.turn() > 1) {
        assertThat(sent.continues()).isTrue();
        assertThat(sent.request().affinityCookie()).as("pin of %d, turn %d", sent.conversation(), sent.turn())
            .isEqualTo(issued.get(sent.conversation()));
      }
    }
  }

  @Test
  void sendAsync_sixtyInterleavedConversations_allWholeOnTheirBackends() {
    simulator = ApimSimulator.builder().backends(3).start();
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl()).build());
    AffinityConversations conversations = AffinityConversations.builder().client(client).defaults(defaults())
        .build();
    int count = 60;
    int turns = 5;

    List<CompletableFuture<List<SimulatedAnswer>>> running = new ArrayList<>();
    for (int c = 0; c < count; c++) {
      Conversation chat = conversations.start();
      CompletableFuture<List<SimulatedAnswer>> chain = CompletableFuture.completedFuture(new ArrayList<>());
      for (int t = 1; t <= turns; t++) {
        String input = marker(c, t);
        // Each next turn starts in the previous one's dependent stage: the turn is over by then.
        chain = chain.thenCompose(seen -> chat.sendAsync(input).thenApply(response -> {
          seen.add(SimulatedAnswer.parse(text(response)));
          return seen;
        }));
      }
      running.add(chain);
    }

    Map<String, Integer> homes = new HashMap<>();
    for (CompletableFuture<List<SimulatedAnswer>> future : running) {
      List<SimulatedAnswer> seen = future.join();
      for (int turn = 1; turn <= turns; turn++) {
        assertThat(seen.get(turn - 1).userMessages()).isEqualTo(turn);
        assertThat(seen.get(turn - 1).backend()).isEqualTo(seen.get(0).backend());
      }
      homes.merge(seen.get(0).backend(), 1, Integer::sum);
    }
    assertThat(homes.values()).containsOnly(count / 3);
    assertThat(simulator.requestLog()).hasSize(count * turns)
        .filteredOn(request -> !request.hasAffinityCookie()).hasSize(count);
    assertThat(conversations.repairStats().breaks()).isZero();
  }

  @Test
  void stream_turnsOfThirtyConversations_idBoundAtCreatedTurnJournaledAtCompleted() {
    simulator = ApimSimulator.builder().backends(3).start();
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl()).build());
    AffinityConversations conversations = AffinityConversations.builder().client(client).defaults(defaults())
        .build();

    Map<String, Integer> homes = new HashMap<>();
    for (int c = 0; c < 30; c++) {
      Conversation chat = conversations.start();
      String home = null;
      for (int turn = 1; turn <= 4; turn++) {
        StringBuilder deltas = new StringBuilder();
        String createdId = null;
        String completedId = null;
        Boolean pinnedAfterCreated = null;
        try (StreamResponse<ResponseStreamEvent> stream = chat.stream(marker(c, turn))) {
          for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) stream.stream()::iterator) {
            if (event.isCreated()) {
              createdId = event.asCreated().response().id();
            } else if (pinnedAfterCreated == null) {
              // The event after response.created, long before response.completed: the new id is
              // already bound to the pin.
              assertThat(event.isCompleted()).isFalse();
              pinnedAfterCreated = conversations.store().get(ChainKey.response(createdId).in(conversations.scope())).isPresent();
            }
            event.outputTextDelta().ifPresent(delta -> deltas.append(delta.delta()));
            if (event.isCompleted()) {
              completedId = event.asCompleted().response().id();
              // The conversation moved on before this event reached us.
              assertThat(chat.lastResponseId()).contains(completedId);
            }
          }
        }
        assertThat(pinnedAfterCreated).as("id bound at response.created").isTrue();
        assertThat(completedId).isEqualTo(createdId);
        SimulatedAnswer answer = SimulatedAnswer.parse(deltas.toString());
        assertThat(answer.userMessages()).isEqualTo(turn);
        home = home == null ? answer.backend() : home;
        assertThat(answer.backend()).isEqualTo(home);
      }
      // Journaled at response.completed: four turns of one input and one output item each.
      assertThat(chat.history()).hasSize(8);
      // And a sync turn continues the streamed chain on its pin.
      SimulatedAnswer fifth = SimulatedAnswer.parse(text(chat.send(marker(c, 5))));
      assertThat(fifth.userMessages()).isEqualTo(5);
      assertThat(fifth.backend()).isEqualTo(home);
      homes.merge(home, 1, Integer::sum);
    }
    assertThat(homes.values()).containsOnly(10);
    assertThat(simulator.requestLog()).hasSize(30 * 5);
    assertThat(conversations.repairStats().breaks()).isZero();
  }

  @Test
  void submitToolOutputs_functionCallRoundTrip_outputPairedWithCallOnTheSameChainAndPin() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    CookieRecorder wire = new CookieRecorder();
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl(), wire).build());
    Conversation chat = AffinityConversations.builder().client(client).defaults(toolParams().build()).build()
        .start();

    Response asked = chat.send("What does get_weather say for Paris?");
    assertThat(chat.pendingToolCalls()).singleElement().satisfies(call -> {
      assertThat(call.name()).isEqualTo("get_weather");
      assertThat(asked.output()).anySatisfy(item ->
          assertThat(item.functionCall().map(ResponseFunctionToolCall::callId)).contains(call.callId()));
    });
    String callId = chat.pendingToolCalls().get(0).callId();
    assertThatThrownBy(() -> chat.submitToolOutputs(Map.of("call_unknown", "x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(callId).hasMessageContaining("get_weather").hasMessageContaining("call_unknown");

    Response answered = chat.submitToolOutputs(Map.of(callId, "18 C and sunny"));

    SimulatedAnswer answer = SimulatedAnswer.parse(text(answered));
    assertThat(answer.toolOutput()).isEqualTo("18 C and sunny");
    assertThat(answer.userMessages()).isEqualTo(1);
    assertThat(chat.pendingToolCalls()).isEmpty();
    assertThatThrownBy(() -> chat.submitToolOutputs(Map.of(callId, "again")))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining(answered.id());
    List<LoggedRequest> log = simulator.requestLog();
    assertThat(log).hasSize(2);
    assertThat(log.get(1).backend()).isEqualTo(log.get(0).backend());
    assertThat(log.get(1).affinityCookie()).isEqualTo(log.get(0).issuedCookie());
    JsonNode sent = json(log.get(1).body());
    assertThat(sent.get("previous_response_id").asText()).isEqualTo(asked.id());
    assertThat(sent.get("tools").get(0).get("name").asText()).isEqualTo("get_weather");
    assertThat(sent.get("instructions").asText()).isEqualTo("Answer in one line.");
    assertThat(sent.get("input")).singleElement().satisfies(item -> {
      assertThat(item.get("type").asText()).isEqualTo("function_call_output");
      assertThat(item.get("call_id").asText()).isEqualTo(callId);
      assertThat(item.get("output").asText()).isEqualTo("18 C and sunny");
    });
    // The pair is journaled: the history holds the question, the call, its output and the answer.
    assertThat(chat.history()).extracting(item -> item.isFunctionCall() ? "call"
            : item.isFunctionCallOutput() ? "output" : item.isEasyInputMessage() ? "user" : "assistant")
        .containsExactly("user", "call", "output", "assistant");
    assertThat(wire.cookies).allSatisfy(cookie -> assertThat(ConversationFixtures.cookieCount(cookie, COOKIE))
        .isLessThanOrEqualTo(1));
  }

  @Test
  void fork_afterTwoTurns_bothBranchesContinueIndependentlyOnThePinEachWithFullContext() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl()).build());
    Conversation chat = AffinityConversations.builder().client(client).defaults(defaults()).build().start();
    chat.send(marker(0, 1));
    Response second = chat.send(marker(0, 2));
    String home = SimulatedAnswer.parse(text(second)).backend();

    Conversation branch = chat.fork();
    SimulatedAnswer mainThree = SimulatedAnswer.parse(text(chat.send(marker(0, 3))));
    SimulatedAnswer branchThree = SimulatedAnswer.parse(text(branch.send(marker(1, 3))));
    SimulatedAnswer branchFour = SimulatedAnswer.parse(text(branch.send(marker(1, 4))));
    SimulatedAnswer mainFour = SimulatedAnswer.parse(text(chat.send(marker(0, 4))));

    assertThat(List.of(mainThree, branchThree)).extracting(SimulatedAnswer::userMessages).containsOnly(3);
    assertThat(List.of(mainFour, branchFour)).extracting(SimulatedAnswer::userMessages).containsOnly(4);
    assertThat(List.of(mainThree, mainFour, branchThree, branchFour)).extracting(SimulatedAnswer::backend)
        .containsOnly(home);
    assertThat(chat.lastResponseId()).isNotEqualTo(branch.lastResponseId());
    assertThat(historyText(chat)).contains(marker(0, 3), marker(0, 4)).doesNotContain(marker(1, 3));
    assertThat(historyText(branch)).contains(marker(0, 2), marker(1, 3), marker(1, 4))
        .doesNotContain(marker(0, 3));
    // Both branches' third turns continue the second response, with its pin.
    List<Sent> thirds = Sent.all(simulator.requestLog()).stream().filter(sent -> sent.turn() == 3).toList();
    assertThat(thirds).hasSize(2).allSatisfy(sent -> {
      assertThat(sent.previousResponseId()).isEqualTo(second.id());
      assertThat(sent.request().hasAffinityCookie()).isTrue();
    });
    assertThat(Sent.all(simulator.requestLog()).stream().collect(groupingBy(Sent::conversation, counting())))
        .containsEntry(0, 4L).containsEntry(1, 2L);
  }

  private static String historyText(Conversation chat) {
    return chat.history().toString();
  }
}
