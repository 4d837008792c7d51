package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputItem;
import io.github.affinity4j.core.ChainBreak;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 16: every kind of chain survives the loss of a backend through {@link AffinityInterceptor},
 * on the simulator (which refuses another backend's ciphertext with {@code invalid_encrypted_content}):
 * stored chains of a reasoning model with encrypted reasoning (re-routed, or the gateway's own 500),
 * stateless chains ({@code store: false}, the client resends its items), and background turns
 * whose output is read on polls. 30 conversations x 5 turns each, a backend lost after turn 2.
 */
@Timeout(120)
final class ChainKindsRepairTest {
  private static final String MODEL = "o4-mini";
  private static final String LOST = "backend-2";
  // A clock standing still: no probe of a pin seen lost falls due, however slow the machine.
  private static final MutableClock STILL = new MutableClock();

  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

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
  void encryptedReasoning_backendLostAfterTurn2_all30SurviveWithFullContextAndNoCiphertextRefused(String gateway) {
    ApimSimulator.Builder builder = ApimSimulator.builder().backends(3).recordRequestBodies(true);
    simulator = (gateway.equals("REROUTE") ? builder.pinnedBackendMode(PinnedBackendMode.REROUTE)
        : builder.deadPinnedBackendStatus(500)).start();
    AffinityInterceptor interceptor = AffinityInterceptor.builder().retryPause(Duration.ofMillis(1)).clock(STILL).build();
    OpenAIClient client = client(interceptor);
    int conversations = 30;
    int turns = 5;
    String[] previous = new String[conversations];
    Map<String, Integer> firstTurns = new HashMap<>();

    for (int turn = 1; turn <= turns; turn++) {
      if (turn == 3) {
        simulator.backend(LOST).kill();
      }
      for (int c = 0; c < conversations; c++) {
        ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(MODEL)
            .input("conversation " + c + ", turn " + turn)
            .addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT);
        if (previous[c] != null) {
          params.previousResponseId(previous[c]);
        }
        Response response = client.responses().create(params.build());
        SimulatedAnswer answer = SimulatedAnswer.parse(text(response));
        assertThat(answer.userMessages()).as("conversation %d, turn %d: full context", c, turn).isEqualTo(turn);
        assertThat(response.output()).anyMatch(ResponseOutputItem::isReasoning);
        if (turn == 1) {
          firstTurns.merge(answer.backend(), 1, Integer::sum);
        }
        previous[c] = response.id();
      }
    }

    assertThat(firstTurns).as("first turns spread over the pool").hasSize(3)
        .allSatisfy((backend, count) -> assertThat(count).isEqualTo(conversations / 3));
    assertThat(simulator.requestLog()).as("no replay carried another backend's ciphertext")
        .noneMatch(LoggedRequest::refusedEncryptedContent);
    assertThat(interceptor.repairStats().repairsSucceeded()).as("the lost backend's conversations")
        .isEqualTo(firstTurns.get(LOST).longValue());
    assertThat(interceptor.repairStats().repairsFailed()).isZero();
    assertThat(interceptor.repairStats().reasoningLeftOut()).isPositive();
  }

  @Test
  void statelessTurn_carriesReasoningOfALostBackend_sentOnceMoreWithoutItAndAnswered() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OpenAIClient client = client(interceptor);
    Response first = client.responses().create(ResponseCreateParams.builder().model(MODEL).store(false)
        .input("Think about it.").addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT).build());
    simulator.backend(SimulatedAnswer.parse(text(first)).backend()).kill();

    List<ResponseInputItem> history = new ArrayList<>();
    history.add(ResponseInputItem.ofEasyInputMessage(com.openai.models.responses.EasyInputMessage.builder()
        .role(com.openai.models.responses.EasyInputMessage.Role.USER).content("Think about it.").build()));
    for (ResponseOutputItem item : first.output()) {
      if (item.isReasoning()) {
        history.add(ResponseInputItem.ofReasoning(item.asReasoning()));
      } else if (item.isMessage()) {
        history.add(ResponseInputItem.ofResponseOutputMessage(item.asMessage()));
      }
    }
    history.add(ResponseInputItem.ofEasyInputMessage(com.openai.models.responses.EasyInputMessage.builder()
        .role(com.openai.models.responses.EasyInputMessage.Role.USER).content("And then?").build()));
    Response second = client.responses().create(ResponseCreateParams.builder().model(MODEL).store(false)
        .inputOfResponse(history).addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT).build());

    assertThat(SimulatedAnswer.parse(text(second)).userMessages()).isEqualTo(2);
    List<LoggedRequest> log = simulator.requestLog();
    assertThat(log).filteredOn(LoggedRequest::refusedEncryptedContent).as("refused once").hasSize(1);
    assertThat(log.get(log.size() - 1).carriedEncryptedContent()).as("the resend carried none").isFalse();
    assertThat(interceptor.repairStats().breaks(ChainBreak.Kind.INVALID_ENCRYPTED_CONTENT)).isEqualTo(1);
    assertThat(interceptor.repairStats().reasoningLeftOut()).isEqualTo(1);
  }

  /** Issue 16, point 2: stateless chains (store false, the client resends its items) are chains. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"REROUTE", "UNAVAILABLE"})
  void statelessChains_backendLostAfterTurn2_all30SurviveOneRequestPerTurnAtMostTwo(String gateway) {
    ApimSimulator.Builder builder = ApimSimulator.builder().backends(3).recordRequestBodies(true);
    simulator = (gateway.equals("REROUTE") ? builder.pinnedBackendMode(PinnedBackendMode.REROUTE) : builder).start();
    AffinityInterceptor interceptor = AffinityInterceptor.builder().retryPause(Duration.ofMillis(1)).clock(STILL).build();
    OpenAIClient client = client(interceptor);
    int conversations = 30;
    int turns = 5;
    List<List<ResponseInputItem>> histories = new ArrayList<>();
    Map<String, Integer> firstTurns = new HashMap<>();
    String[] home = new String[conversations];

    for (int turn = 1; turn <= turns; turn++) {
      if (turn == 3) {
        simulator.backend(LOST).kill();
      }
      for (int c = 0; c < conversations; c++) {
        if (turn == 1) {
          histories.add(new ArrayList<>());
        }
        List<ResponseInputItem> history = histories.get(c);
        history.add(userMessage("conversation " + c + ", turn " + turn));
        Response response = client.responses().create(ResponseCreateParams.builder().model(MODEL).store(false)
            .inputOfResponse(history).addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT).build());
        SimulatedAnswer answer = SimulatedAnswer.parse(text(response));
        assertThat(answer.userMessages()).as("conversation %d, turn %d: full context", c, turn).isEqualTo(turn);
        if (turn == 1) {
          firstTurns.merge(answer.backend(), 1, Integer::sum);
          home[c] = answer.backend();
        } else if (!LOST.equals(home[c])) {
          assertThat(answer.backend()).as("conversation %d stays on its backend", c).isEqualTo(home[c]);
        }
        for (ResponseOutputItem item : response.output()) {
          if (item.isReasoning()) {
            history.add(ResponseInputItem.ofReasoning(item.asReasoning()));
          } else if (item.isMessage()) {
            history.add(ResponseInputItem.ofResponseOutputMessage(item.asMessage()));
          }
        }
      }
    }

    assertThat(firstTurns).as("new stateless conversations spread").hasSize(3)
        .allSatisfy((backend, count) -> assertThat(count).isEqualTo(conversations / 3));
    long extra = 0;
    for (int c = 0; c < conversations; c++) {
      String marker = "\"conversation " + c + ", turn "; // quoted: conversation 1 is not 10
      long requests = simulator.requestLog().stream()
          .filter(r -> r.body() != null && r.body().contains(marker)).count();
      // One request per turn on a live backend. The first turn to meet the lost backend costs two;
      // the process then knows it lost, and the other conversations on it resend at once. Later
      // turns still carry the lost backend's reasoning, and leave it out before they are sent.
      assertThat(requests).as("requests of conversation %d (home %s)", c, home[c])
          .isEqualTo(LOST.equals(home[c]) ? requests : turns).isBetween((long) turns, turns + 1L);
      extra += requests - turns;
    }
    assertThat(extra).as("failed requests for the lost backend, all conversations together").isEqualTo(1);
    assertThat(interceptor.repairStats().repairsSucceeded()).isEqualTo(firstTurns.get(LOST).longValue());
    assertThat(interceptor.repairStats().repairsFailed()).isZero();
  }

  /** Issue 16, point 3: background turns, their output read on polls, survive the loss of a backend. */
  @Test
  void backgroundTurns_polled_backendLostAfterTurn2_all30SurviveWithFullContext() {
    simulator = ApimSimulator.builder().backends(3).backgroundCompletesOnPoll(2).start();
    AffinityInterceptor interceptor = AffinityInterceptor.builder().retryPause(Duration.ofMillis(1)).clock(STILL).build();
    OpenAIClient client = client(interceptor);
    int conversations = 30;
    int turns = 5;
    String[] previous = new String[conversations];
    Map<String, Integer> firstTurns = new HashMap<>();

    for (int turn = 1; turn <= turns; turn++) {
      if (turn == 3) {
        simulator.backend(LOST).kill();
      }
      for (int c = 0; c < conversations; c++) {
        ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(MODEL).background(true)
            .input("conversation " + c + ", turn " + turn);
        if (previous[c] != null) {
          params.previousResponseId(previous[c]);
        }
        Response response = client.responses().create(params.build());
        for (int poll = 0; poll < 5 && !response.status().map(s -> s.asString().equals("completed")).orElse(false);
            poll++) {
          response = client.responses().retrieve(response.id());
        }
        assertThat(response.status()).map(s -> s.asString()).contains("completed");
        SimulatedAnswer answer = SimulatedAnswer.parse(text(response));
        assertThat(answer.userMessages()).as("conversation %d, turn %d: full context", c, turn).isEqualTo(turn);
        if (turn == 1) {
          firstTurns.merge(answer.backend(), 1, Integer::sum);
        }
        previous[c] = response.id();
      }
    }

    assertThat(firstTurns).hasSize(3).allSatisfy((backend, count) -> assertThat(count).isEqualTo(conversations / 3));
    assertThat(interceptor.repairStats().repairsSucceeded()).as("repaired from the journal the polls filled")
        .isEqualTo(firstTurns.get(LOST).longValue());
    assertThat(interceptor.repairStats().repairsFailed()).isZero();
  }

  private static ResponseInputItem userMessage(String text) {
    return ResponseInputItem.ofEasyInputMessage(com.openai.models.responses.EasyInputMessage.builder()
        .role(com.openai.models.responses.EasyInputMessage.Role.USER).content(text).build());
  }

  private OpenAIClient client(AffinityInterceptor interceptor) {
    OpenAIClient client = OpenAIOkHttpClient.builder()
        .baseUrl(simulator.openAiBaseUrl())
        .apiKey("test-key")
        .maxRetries(0)
        .addInterceptor(interceptor)
        .build();
    clients.add(client);
    return client;
  }

  private static String text(Response response) {
    return response.output().stream().filter(ResponseOutputItem::isMessage).findFirst().orElseThrow()
        .asMessage().content().get(0).asOutputText().text();
  }
}
