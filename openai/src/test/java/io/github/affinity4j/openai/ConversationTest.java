package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.COOKIE;
import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static io.github.affinity4j.openai.ConversationFixtures.text;
import static io.github.affinity4j.openai.ConversationFixtures.toolParams;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.openai.client.OpenAIClient;
import com.openai.core.ObjectMappers;
import com.openai.models.Reasoning;
import com.openai.models.ReasoningEffort;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseInputItem;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.openai.ConversationFixtures.CookieRecorder;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The conversation's details: params, history, resume, routing, cookies, and what it reveals. */
@Timeout(60)
final class ConversationTest {
  private final List<OpenAIClient> clients = new ArrayList<>();
  private final CookieRecorder wire = new CookieRecorder();
  private ApimSimulator simulator;
  private OpenAIClient client;
  private AffinityConversations conversations;

  @BeforeEach
  void start() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    client = closeLater(clients, plainClient(simulator.openAiBaseUrl(), wire).build());
    conversations = AffinityConversations.builder().client(client).defaults(defaults()).build();
  }

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    simulator.close();
  }

  @Test
  void send_paramsAConversationCannotChain_rejectedBeforeAnythingIsSent() {
    Conversation chat = conversations.start();
    Map<String, Function<ResponseCreateParams.Builder, ResponseCreateParams.Builder>> wrong = Map.of(
        "previous_response_id", params -> params.previousResponseId("resp_1"),
        "conversation", params -> params.conversation("conv_1"));

    wrong.forEach((what, change) -> {
      ResponseCreateParams params = change.apply(defaults().toBuilder().input("hi")).build();
      assertThatThrownBy(() -> chat.send(params)).as(what)
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(what);
      assertThatThrownBy(() -> chat.sendAsync(params)).as(what).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> chat.stream(params)).as(what).isInstanceOf(IllegalArgumentException.class);
      ResponseCreateParams asDefaults = change.apply(defaults().toBuilder()).build();
      assertThatThrownBy(() -> AffinityConversations.builder().defaults(asDefaults)).as(what)
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> conversations.start(asDefaults)).as(what).isInstanceOf(IllegalArgumentException.class);
    });
    assertThat(simulator.requestLog()).isEmpty();
    // Rejected before the turn began: the conversation is free.
    assertThat(SimulatedAnswer.parse(text(chat.send(marker(0, 1)))).userMessages()).isEqualTo(1);
  }

  @Test
  void defaultsWithAnInput_rejected_notSilentlyDropped() {
    ResponseCreateParams withInput = defaults().toBuilder().input("hi").build();

    assertThatThrownBy(() -> conversations.start(withInput)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AffinityConversations.builder().defaults(withInput))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(simulator.requestLog()).isEmpty();
  }

  @Test
  void storeSettingChangedAfterTheFirstTurn_rejectedBeforeAnythingIsSent_eitherWay() {
    Conversation stored = conversations.start();
    stored.send("one");
    Conversation stateless = conversations.start(defaults().toBuilder().store(false).build());
    stateless.send("one");
    int sent = simulator.requestLog().size();

    assertThatThrownBy(() -> stored.send(defaults().toBuilder().store(false).input("two").build()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> stateless.send(defaults().toBuilder().store(true).input("two").build()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(simulator.requestLog()).hasSize(sent);
    assertThat(SimulatedAnswer.parse(text(stored.send("two"))).userMessages()).as("free again").isEqualTo(2);
    assertThat(SimulatedAnswer.parse(text(stateless.send("two"))).userMessages()).isEqualTo(2);
  }

  @Test
  void sendString_afterSendParams_keepsTheirModelInstructionsAndToolsAndStartOverridesDefaults() {
    Conversation chat = conversations.start(toolParams().build());
    chat.send("Hello");
    chat.send(ResponseCreateParams.builder().model("gpt-4.1-mini").instructions("Be brief.").input("Hi").build());
    chat.send("And now?");

    List<JsonNode> bodies = simulator.requestLog().stream()
        .map(request -> ConversationFixtures.json(request.body())).toList();
    assertThat(bodies.get(0).get("tools").get(0).get("name").asText()).isEqualTo("get_weather");
    assertThat(bodies.get(0).get("instructions").asText()).isEqualTo("Answer in one line.");
    assertThat(bodies.get(2).get("model").asText()).isEqualTo("gpt-4.1-mini");
    assertThat(bodies.get(2).get("instructions").asText()).isEqualTo("Be brief.");
    assertThat(bodies.get(2).has("tools")).isFalse();
    assertThat(bodies.get(2).get("input").asText()).isEqualTo("And now?");
  }

  @Test
  void history_afterTurnsWithToolsAndReasoning_isTheJournalsItemsAsSdkInputItemsLossless() throws IOException {
    ResponseCreateParams params = toolParams()
        .reasoning(Reasoning.builder().effort(ReasoningEffort.LOW).build())
        .addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT)
        .build();
    Conversation chat = conversations.start(params);
    assertThat(chat.history()).isEmpty();
    chat.send("What does get_weather say for Paris?");
    chat.submitToolOutputs(Map.of(chat.pendingToolCalls().get(0).callId(), "18 C and sunny"));
    chat.send("Thanks.");

    List<ResponseInputItem> history = chat.history();

    ArrayNode journaled = ObjectMappers.jsonMapper().createArrayNode();
    for (byte[] array : conversations.journal().history(ChainKey.response(chat.lastResponseId().orElseThrow()).in(conversations.scope()))
        .itemArrays()) {
      ObjectMappers.jsonMapper().readTree(array).forEach(journaled::add);
    }
    JsonNode exported = ObjectMappers.jsonMapper().valueToTree(history);
    assertThat(exported).isEqualTo(journaled);
    assertThat(history).extracting(ConversationTest::kind).containsExactly(
        "user", "reasoning", "function_call", "function_call_output", "reasoning", "assistant",
        "user", "reasoning", "assistant");
  }

  @Test
  void resume_byAnotherInstanceSharingStoreAndJournal_continuesOnThePinWithPendingToolCalls() {
    Conversation chat = conversations.start(toolParams().build());
    chat.send(marker(0, 1));
    Response asked = chat.send("What does get_weather say for Lyon?");
    String home = SimulatedAnswer.parse(text(chat.fork().send(marker(9, 3)))).backend();
    AffinityConversations elsewhere = AffinityConversations.builder().client(client)
        .defaults(toolParams().build())
        .store(conversations.store()).journal(conversations.journal()).build();

    Conversation resumed = elsewhere.resume(asked.id());

    assertThat(resumed.lastResponseId()).contains(asked.id());
    assertThat(resumed.pendingToolCalls()).extracting(call -> call.callId())
        .isEqualTo(chat.pendingToolCalls().stream().map(call -> call.callId()).toList());
    assertThat(resumed.pinFingerprint()).isEqualTo(chat.pinFingerprint()).isPresent();
    assertThat(resumed.history()).hasSize(4);
    SimulatedAnswer answer = SimulatedAnswer.parse(text(resumed.submitToolOutputs(
        Map.of(resumed.pendingToolCalls().get(0).callId(), "12 C"))));
    assertThat(answer.toolOutput()).isEqualTo("12 C");
    assertThat(answer.userMessages()).isEqualTo(2);
    assertThat(answer.backend()).isEqualTo(home);
    assertThat(last(simulator.requestLog()).hasAffinityCookie()).isTrue();
    assertThatThrownBy(() -> elsewhere.resume("not an id")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void resume_chainTheStoreAndJournalNeverSaw_findsNothing() {
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    AffinityConversations stranger = AffinityConversations.builder().client(client).defaults(defaults()).build();

    assertThatThrownBy(() -> stranger.resume(first.id())).isInstanceOf(NoSuchElementException.class);
  }

  @Test
  void resume_pinKnownButHistoryNot_resumesAndHistorySaysWhatIsMissing() {
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    AffinityConversations forgetful = AffinityConversations.builder().client(client).defaults(defaults())
        .store(conversations.store()).build();

    Conversation resumed = forgetful.resume(first.id());

    assertThat(resumed.pendingToolCalls()).isEmpty();
    assertThat(resumed.pinFingerprint()).isPresent();
    assertThatThrownBy(resumed::history).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(first.id()).hasMessageContaining(ChainHistory.Status.MISSING_LINK.name());
  }

  @Test
  void history_journalUnavailable_saysItCouldNotBeReadNotThatTheHistoryIsMissing() {
    HistoryJournal down = new HistoryJournal() {
      @Override
      public void record(JournalTurn turn) {}

      @Override
      public void forget(ChainKey chain) {}

      @Override
      public void recordConversation(ChainKey conversation, byte[] items) {}

      @Override
      public ChainHistory history(ChainKey chain) {
        return ChainHistory.unavailable(chain);
      }

      @Override
      public void clear() {}

      @Override
      public long estimatedSize() {
        return 0;
      }

      @Override
      public String toString() {
        return "DownJournal[UNAVAILABLE]";
      }
    };
    Conversation chat = AffinityConversations.builder().client(client).defaults(defaults()).journal(down).build()
        .start();
    Response first = chat.send(marker(0, 1));

    assertThatThrownBy(chat::history).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(first.id()).hasMessageContaining(down.toString())
        .hasMessageNotContaining(ChainHistory.Status.MISSING_LINK.name());
  }

  @Test
  void routing_afterATurn_isThatResponsesRoutingAndThePinsFingerprint() {
    Conversation chat = conversations.start();
    assertThat(chat.routing()).isEqualTo(RoutingInfo.EMPTY);
    assertThat(chat.pinFingerprint()).isEmpty();
    assertThat(chat.lastResponseId()).isEmpty();

    SimulatedAnswer answer = SimulatedAnswer.parse(text(chat.send(marker(0, 1))));

    LoggedRequest request = last(simulator.requestLog());
    assertThat(chat.routing().region()).isEqualTo(answer.region());
    assertThat(chat.routing().requestId()).isNotBlank();
    assertThat(chat.routing().apimRequestId()).isNotBlank();
    assertThat(chat.routing().remainingRequests()).isNotNull();
    assertThat(chat.pinFingerprint()).contains(fingerprint(request.issuedCookie()));
    chat.send(marker(0, 2));
    assertThat(chat.pinFingerprint()).contains(fingerprint(request.issuedCookie()));
  }

  @Test
  void cookies_callersOwnOnParamsOrClient_keptAndThePinAddedAfterThemOnce() {
    Conversation chat = conversations.start(defaults().toBuilder().putAdditionalHeader("Cookie", "theme=dark")
        .build());
    chat.send(marker(0, 1));
    chat.send(marker(0, 2));
    String issued = simulator.requestLog().get(0).issuedCookie();
    assertThat(new ArrayList<>(wire.cookies)).containsExactly("theme=dark", "theme=dark; " + COOKIE + "=" + issued);

    OpenAIClient withDefaultCookie = closeLater(clients, plainClient(simulator.openAiBaseUrl(), wire)
        .putHeader("Cookie", "team=blue").build());
    Conversation other = AffinityConversations.builder().client(withDefaultCookie).defaults(defaults()).build()
        .start();
    wire.cookies.clear();
    other.send(marker(1, 1));
    other.send(marker(1, 2));
    String otherIssued = last(simulator.requestLog()).affinityCookie();
    assertThat(new ArrayList<>(wire.cookies)).containsExactly("team=blue", "team=blue; " + COOKIE + "=" + otherIssued);

    // An affinity cookie of the caller's own is sent as the caller made it: no second one.
    wire.cookies.clear();
    other.send(defaults().toBuilder().putAdditionalHeader("Cookie", COOKIE + "=" + otherIssued).input(marker(1, 3))
        .build());
    assertThat(new ArrayList<>(wire.cookies)).containsExactly(COOKIE + "=" + otherIssued);
  }

  @Test
  void toStrings_afterPinnedTurns_showIdsAndSettingsButNoCookieValue() {
    Conversation chat = conversations.start();
    chat.send(marker(0, 1));
    chat.send(marker(0, 2));
    String issued = simulator.requestLog().get(0).issuedCookie();

    assertThat(chat.toString()).contains(chat.lastResponseId().orElseThrow()).doesNotContain(issued);
    assertThat(conversations.toString()).contains("/openai/v1/responses").doesNotContain(issued);
    assertThat(chat.routing().toString()).doesNotContain(issued);
  }

  @Test
  void build_clientWhoseOptionsCannotBeRead_needsABaseUrlThenWorks() {
    OpenAIClient opaque = (OpenAIClient) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {OpenAIClient.class}, (proxy, method, args) -> {
          if (method.getName().equals("withOptions")) {
            throw new UnsupportedOperationException("no options here");
          }
          try {
            return method.invoke(client, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });

    assertThatThrownBy(() -> AffinityConversations.wrap(opaque)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("baseUrl");
    assertThatThrownBy(() -> AffinityConversations.builder().baseUrl("not a url"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> AffinityConversations.builder().build()).isInstanceOf(NullPointerException.class)
        .hasMessageContaining("client");

    Conversation chat = AffinityConversations.builder().client(opaque).baseUrl(simulator.openAiBaseUrl())
        .defaults(defaults()).build().start();
    SimulatedAnswer first = SimulatedAnswer.parse(text(chat.send(marker(0, 1))));
    SimulatedAnswer second = SimulatedAnswer.parse(text(chat.send(marker(0, 2))));
    assertThat(second.userMessages()).isEqualTo(2);
    assertThat(second.backend()).isEqualTo(first.backend());
  }

  @Test
  void resume_throughAClientOfAnotherHostOrKey_findsNothingAndSendsNothing() {
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    // The same gateway under another host name, and under the same name with another key.
    OpenAIClient elsewhere = closeLater(clients,
        plainClient(simulator.openAiBaseUrl().replace("127.0.0.1", "localhost")).build());
    OpenAIClient otherKey = closeLater(clients, plainClient(simulator.openAiBaseUrl()).apiKey("other-key").build());
    simulator.clearRequestLog();

    for (OpenAIClient stranger : List.of(elsewhere, otherKey)) {
      AffinityConversations shared = AffinityConversations.builder().client(stranger).defaults(defaults())
          .store(conversations.store()).journal(conversations.journal()).build();
      assertThatThrownBy(() -> shared.resume(first.id())).isInstanceOf(NoSuchElementException.class);
      assertThat(shared.history(first.id()).status()).isEqualTo(ChainHistory.Status.MISSING_LINK);
    }
    assertThat(simulator.requestLog()).isEmpty();
    assertThat(conversations.resume(first.id()).history()).hasSize(2);
  }

  private static String kind(ResponseInputItem item) {
    if (item.isEasyInputMessage()) {
      return "user";
    }
    if (item.isResponseOutputMessage()) {
      return "assistant";
    }
    if (item.isFunctionCall()) {
      return "function_call";
    }
    if (item.isFunctionCallOutput()) {
      return "function_call_output";
    }
    return item.isReasoning() ? "reasoning" : "other: " + item;
  }

  private static String fingerprint(String cookieValue) {
    return AffinityToken.fingerprintOf(cookieValue);
  }

  private static <T> T last(List<T> list) {
    return list.get(list.size() - 1);
  }
}
