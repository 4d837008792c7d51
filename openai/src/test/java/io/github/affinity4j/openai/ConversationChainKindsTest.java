package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static io.github.affinity4j.openai.ConversationFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseStatus;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 16 through the wrapper: every kind of chain survives the loss of a backend. 30
 * conversations x 5 turns each on the simulator (3 backends, cookie affinity; another backend's
 * ciphertext refused with {@code invalid_encrypted_content}), one backend lost after turn 2: stored
 * chains of a reasoning model with encrypted reasoning, stateless conversations ({@code store:
 * false}: the conversation keeps and resends its items) and background turns polled to completion.
 */
@Timeout(120)
final class ConversationChainKindsTest {
  private static final String MODEL = "o4-mini";
  private static final String LOST = "backend-2";
  private static final int CONVERSATIONS = 30;
  private static final int TURNS = 5;

  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;
  private AffinityConversations conversations;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  /** How the gateway answers a request pinned to the lost backend. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"REROUTE", "GATEWAY_500"})
  void encryptedReasoning_backendLostAfterTurn2_all30SurviveAndNoCiphertextRefused(String gateway) {
    start(gateway, ResponseCreateParams.builder().model(MODEL)
        .addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT).build(), false);

    String[] home = talk(chat -> chat::send);

    assertSpreadAndRepaired(home);
    assertThat(simulator.requestLog()).as("no replay carried another backend's ciphertext")
        .noneMatch(LoggedRequest::refusedEncryptedContent);
    assertThat(conversations.repairStats().reasoningLeftOut()).isPositive();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"REROUTE", "UNAVAILABLE"})
  void statelessConversations_backendLostAfterTurn2_all30SurviveOneRequestPerTurnAtMostTwo(String gateway) {
    start(gateway, ResponseCreateParams.builder().model(MODEL).store(false)
        .addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT).build(), false);
    List<Conversation> chats = new ArrayList<>();
    String[] home = talk(chat -> {
      chats.add(chat);
      return chat::send;
    });

    assertSpreadAndRepaired(home);
    long extra = 0;
    for (int c = 0; c < CONVERSATIONS; c++) {
      List<ResponseInputItem> history = chats.get(c).history();
      assertThat(history).as("kept by the conversation: 5 user messages, 5 answers with their reasoning")
          .hasSize(TURNS * 3);
      assertThat(history).filteredOn(ResponseInputItem::isReasoning).hasSize(TURNS);
      String mark = "\"" + marker(c, 1); // quoted: conversation 1 is not 10
      List<LoggedRequest> sent = simulator.requestLog().stream()
          .filter(r -> r.body() != null && r.body().contains(mark)).toList();
      assertThat(sent).as("requests of conversation %d: no previous_response_id, the whole history each turn", c)
          .allMatch(r -> !r.body().contains("previous_response_id"))
          .hasSizeBetween(TURNS, LOST.equals(home[c]) ? TURNS + 1 : TURNS);
      extra += sent.size() - TURNS;
    }
    // One request per turn on a live backend. The first turn to meet the lost backend costs two;
    // the process then knows it lost, and the other conversations on it resend at once.
    assertThat(extra).isEqualTo(1);
  }

  /** Sync turns poll on the caller's thread; async ones on delays. */
  @ParameterizedTest(name = "async={0}")
  @ValueSource(booleans = {false, true})
  void backgroundTurns_polledToCompletion_backendLostAfterTurn2_all30SurviveWithFullContext(boolean async) {
    start("REROUTE", ResponseCreateParams.builder().model(MODEL).background(true).build(), true);

    String[] home = talk(chat -> async ? text -> chat.sendAsync(text).join() : chat::send);

    assertSpreadAndRepaired(home);
    assertThat(simulator.requestLog()).filteredOn(LoggedRequest::backgroundPoll).as("each turn polled to its end")
        .hasSizeGreaterThanOrEqualTo(CONVERSATIONS * TURNS * 2);
  }

  // --- helpers ---

  private interface Talker {
    java.util.function.Function<String, Response> of(Conversation chat);
  }

  private void start(String gateway, ResponseCreateParams defaults, boolean background) {
    ApimSimulator.Builder builder = ApimSimulator.builder().backends(3).recordRequestBodies(true);
    if (gateway.equals("REROUTE")) {
      builder.pinnedBackendMode(PinnedBackendMode.REROUTE);
    } else if (gateway.equals("GATEWAY_500")) {
      builder.deadPinnedBackendStatus(500);
    }
    if (background) {
      builder.backgroundCompletesOnPoll(2);
    }
    simulator = builder.start();
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl()).build());
    conversations = AffinityConversations.builder().client(client).defaults(defaults)
        .retryPause(Duration.ofMillis(1)).backgroundPollInterval(Duration.ofMillis(1))
        .clock(new MutableClock()) // standing still: no probe of a pin seen lost falls due
        .build();
  }

  /** Runs 30 conversations x 5 turns, a backend lost after turn 2; returns where each one's first turn went. */
  private String[] talk(Talker talker) {
    List<java.util.function.Function<String, Response>> chats = new ArrayList<>();
    String[] home = new String[CONVERSATIONS];
    for (int turn = 1; turn <= TURNS; turn++) {
      if (turn == 3) {
        simulator.backend(LOST).kill();
      }
      for (int c = 0; c < CONVERSATIONS; c++) {
        if (turn == 1) {
          chats.add(talker.of(conversations.start()));
        }
        Response response = chats.get(c).apply(marker(c, turn));
        assertThat(response.status()).contains(ResponseStatus.COMPLETED);
        SimulatedAnswer answer = SimulatedAnswer.parse(text(response));
        assertThat(answer.userMessages()).as("conversation %d, turn %d: full context", c, turn).isEqualTo(turn);
        if (turn == 1) {
          home[c] = answer.backend();
        } else if (!LOST.equals(home[c])) {
          assertThat(answer.backend()).as("conversation %d stays on its backend", c).isEqualTo(home[c]);
        }
      }
    }
    return home;
  }

  private void assertSpreadAndRepaired(String[] home) {
    Map<String, Integer> firstTurns = new HashMap<>();
    for (String backend : home) {
      firstTurns.merge(backend, 1, Integer::sum);
    }
    assertThat(firstTurns).as("first turns spread over the pool").hasSize(3)
        .allSatisfy((backend, count) -> assertThat(count).isEqualTo(CONVERSATIONS / 3));
    assertThat(conversations.repairStats().repairsSucceeded()).as("the lost backend's conversations")
        .isEqualTo(firstTurns.get(LOST).longValue());
    assertThat(conversations.repairStats().repairsFailed()).isZero();
  }
}
