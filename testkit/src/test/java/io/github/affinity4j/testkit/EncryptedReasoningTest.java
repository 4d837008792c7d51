package io.github.affinity4j.testkit;

import static io.github.affinity4j.testkit.SimulatorHttp.answer;
import static io.github.affinity4j.testkit.SimulatorHttp.encryptedTurn;
import static io.github.affinity4j.testkit.SimulatorHttp.fixtureBody;
import static io.github.affinity4j.testkit.SimulatorHttp.fixtureStatus;
import static io.github.affinity4j.testkit.SimulatorHttp.items;
import static io.github.affinity4j.testkit.SimulatorHttp.outputItem;
import static io.github.affinity4j.testkit.SimulatorHttp.userMessage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.openai.client.OpenAIClient;
import com.openai.errors.BadRequestException;
import com.openai.models.responses.EasyInputMessage;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputItem;
import io.github.affinity4j.testkit.SimulatorHttp.Answer;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Encrypted reasoning is bound to the backend that made it, as it is to the Azure resource that
 * made it: sent back to that backend it is read, sent to another it is refused with
 * {@code invalid_encrypted_content}. Raw HTTP where the exact body matters, the SDK for a round
 * trip of its own types.
 */
@Timeout(30)
final class EncryptedReasoningTest {
  private static final String INVALID = "invalid_encrypted_content.json";

  private ApimSimulator sim;
  private SimulatorHttp http;

  @AfterEach
  void close() {
    if (http != null) {
      http.close();
    }
    if (sim != null) {
      sim.close();
    }
  }

  @Test
  void encryptedReasoning_requested_reasoningItemBeforeMessageVerifiableOnlyByItsBackend() {
    start(2);

    Answer created = http.post("/responses", encryptedTurn(TextNode.valueOf("think")), null);

    JsonNode output = created.json().get("output");
    assertThat(output).hasSize(2);
    JsonNode reasoning = output.get(0);
    assertThat(reasoning.get("type").asText()).isEqualTo("reasoning");
    assertThat(reasoning.get("id").asText()).matches("rs_[0-9a-f]{32}");
    assertThat(reasoning.get("summary")).isEmpty();
    String content = reasoning.get("encrypted_content").asText();
    assertThat(content).as("looks like the real, Fernet-like tokens").matches("gAAAAAB[A-Za-z0-9_-]{150,}==");
    assertThat(output.get(1).get("type").asText()).isEqualTo("message");
    assertThat(sim.backend("backend-1").verifiesEncryptedContent(content)).isTrue();
    assertThat(sim.backend("backend-2").verifiesEncryptedContent(content)).isFalse();
  }

  @Test
  void encryptedReasoning_twoTurns_eachTokenDistinct() {
    start(1);

    String first = content(http.post("/responses", encryptedTurn(TextNode.valueOf("a")), null));
    String second = content(http.post("/responses", encryptedTurn(TextNode.valueOf("a")), null));

    assertThat(first).isNotEqualTo(second);
    assertThat(sim.backend("backend-1").verifiesEncryptedContent(second)).isTrue();
  }

  @ParameterizedTest(name = "ids kept: {0}")
  @ValueSource(booleans = {true, false})
  void reasoningItem_replayedToItsOwnBackend_accepted(boolean keepIds) {
    start(2);
    Answer first = http.post("/responses", encryptedTurn(TextNode.valueOf("think")).put("store", false), null);

    Answer second = http.post("/responses", statelessReplay(first, keepIds), first.issuedCookie());

    assertThat(second.status()).as(second.body()).isEqualTo(200);
    assertThat(answer(second.json()).userMessages()).isEqualTo(2);
    assertThat(answer(second.json()).backend()).isEqualTo("backend-1");
    LoggedRequest logged = last();
    assertThat(logged.encryptedInputItems()).isEqualTo(1);
    assertThat(logged.carriedEncryptedContent()).isTrue();
    assertThat(logged.refusedEncryptedContent()).isFalse();
    assertThat(logged.errorCode()).isNull();
  }

  @ParameterizedTest(name = "ids kept: {0}")
  @ValueSource(booleans = {true, false})
  void reasoningItem_replayedToAnotherBackend_400WithFixtureBody(boolean keepIds) {
    start(2);
    Answer first = http.post("/responses", encryptedTurn(TextNode.valueOf("think")).put("store", false), null);
    String content = content(first);

    // No cookie: the round-robin sends the replay to backend-2.
    Answer second = http.post("/responses", statelessReplay(first, keepIds), null);

    assertThat(second.status()).isEqualTo(fixtureStatus(INVALID)).isEqualTo(400);
    assertThat(second.json()).isEqualTo(invalidEncryptedContent(content));
    assertThat(second.json().at("/error/message").asText())
        .isEqualTo("The encrypted content " + content.substring(0, 4) + "..."
            + content.substring(content.length() - 4) + " could not be verified.");
    LoggedRequest logged = last();
    assertThat(logged.backend()).isEqualTo("backend-2");
    assertThat(logged.status()).isEqualTo(400);
    assertThat(logged.encryptedInputItems()).isEqualTo(1);
    assertThat(logged.errorCode()).isEqualTo("invalid_encrypted_content");
    assertThat(logged.refusedEncryptedContent()).isTrue();
    assertThat(sim.backend("backend-2").stats().responsesCreated()).isZero();
    assertThat(sim.backend("backend-2").stats().notFoundErrors()).as("not a not-found").isZero();
  }

  @Test
  void reasoningItem_tamperedOrGarbageOnItsOwnBackend_refused() {
    start(1);
    String content = content(http.post("/responses", encryptedTurn(TextNode.valueOf("think")), null));
    char[] chars = content.toCharArray();
    chars[60] = chars[60] == 'A' ? 'B' : 'A';
    String tampered = new String(chars);

    for (String bad : List.of(tampered, "not base64 at all", "gAAAAABoAAAA")) {
      Answer refused = http.post("/responses", encryptedTurn(items(
          reasoning(bad), userMessage("more"))).put("store", false), null);

      assertThat(refused.status()).as(bad).isEqualTo(400);
      assertThat(refused.json()).as(bad).isEqualTo(invalidEncryptedContent(bad));
    }
  }

  @Test
  void encryptedReasoning_streamed_reasoningItemInOutputItemDoneAndInCompleted() {
    start(2);

    Answer stream = http.post("/responses",
        encryptedTurn(TextNode.valueOf("think")).put("stream", true), null);

    List<JsonNode> events = stream.events();
    JsonNode done = events.stream()
        .filter(event -> event.get("type").asText().equals("response.output_item.done"))
        .findFirst().orElseThrow();
    JsonNode completed = events.get(events.size() - 1);
    assertThat(done.get("output_index").asInt()).isZero();
    assertThat(done.at("/item/type").asText()).isEqualTo("reasoning");
    assertThat(completed.get("type").asText()).isEqualTo("response.completed");
    assertThat(completed.at("/response/output/0")).isEqualTo(done.get("item"));
    assertThat(completed.at("/response/output/1/type").asText()).isEqualTo("message");
    String content = done.at("/item/encrypted_content").asText();
    assertThat(sim.backend("backend-1").verifiesEncryptedContent(content)).isTrue();
    assertThat(sim.backend("backend-2").verifiesEncryptedContent(content)).isFalse();
  }

  @Test
  void sdk_reasoningOutputSentBack_otherBackendRefusesItsOwnAccepts() {
    start(2);
    OpenAIClient client = http.sdk();
    Response first = client.responses().create(ResponseCreateParams.builder().model("o4-mini")
        .input("think").store(false).addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT)
        .build()).validate();
    List<ResponseOutputItem> output = first.output();
    ResponseCreateParams replay = ResponseCreateParams.builder().model("o4-mini").store(false)
        .addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT)
        .inputOfResponse(List.of(
            ResponseInputItem.ofEasyInputMessage(user("think")),
            ResponseInputItem.ofReasoning(output.get(0).asReasoning()),
            ResponseInputItem.ofResponseOutputMessage(output.get(1).asMessage()),
            ResponseInputItem.ofEasyInputMessage(user("more"))))
        .build();

    // The SDK keeps no cookie: round-robin sends the second request to backend-2, the third to backend-1.
    assertThatThrownBy(() -> client.responses().create(replay))
        .isInstanceOfSatisfying(BadRequestException.class, e -> {
          assertThat(e.code()).hasValue("invalid_encrypted_content");
          assertThat(e.type()).hasValue("invalid_request_error");
          assertThat(e.param()).isEmpty();
        });
    Response third = client.responses().create(replay).validate();

    String text = third.output().get(third.output().size() - 1).asMessage().content().get(0)
        .asOutputText().text();
    assertThat(SimulatedAnswer.parse(text).backend()).isEqualTo("backend-1");
    assertThat(SimulatedAnswer.parse(text).userMessages()).isEqualTo(2);
    assertThat(sim.requestLog()).extracting(LoggedRequest::refusedEncryptedContent)
        .containsExactly(false, true, false);
  }

  @Test
  void requestLog_inputWithoutEncryptedContent_countsNone() {
    start(1);

    http.post("/responses", SimulatorHttp.turn(items(userMessage("hi"),
        SimulatorHttp.MAPPER.createObjectNode().put("type", "reasoning").set("summary",
            SimulatorHttp.MAPPER.createArrayNode()))).put("store", false), null);

    assertThat(last().status()).isEqualTo(200);
    assertThat(last().encryptedInputItems()).isZero();
    assertThat(last().carriedEncryptedContent()).isFalse();
  }

  // --- helpers ---

  private void start(int backends) {
    sim = ApimSimulator.builder().backends(backends).start();
    http = new SimulatorHttp(sim);
  }

  private LoggedRequest last() {
    List<LoggedRequest> log = sim.requestLog();
    return log.get(log.size() - 1);
  }

  private static String content(Answer answer) {
    return outputItem(answer.json(), "reasoning").get("encrypted_content").asText();
  }

  /**
   * The next turn of a stateless client: the whole history with the first turn's output items
   * (with their ids, as the SDK sends them back, or stripped), and a new user message.
   */
  private static ObjectNode statelessReplay(Answer first, boolean keepIds) {
    ObjectNode reasoning = outputItem(first.json(), "reasoning").deepCopy();
    ObjectNode message = outputItem(first.json(), "message").deepCopy();
    if (!keepIds) {
      reasoning.remove("id");
      message.remove("id");
    }
    return encryptedTurn(items(userMessage("think"), reasoning, message, userMessage("more")))
        .put("store", false);
  }

  private static ObjectNode reasoning(String encryptedContent) {
    ObjectNode item = SimulatorHttp.MAPPER.createObjectNode();
    item.put("type", "reasoning");
    item.putArray("summary");
    item.put("encrypted_content", encryptedContent);
    return item;
  }

  /** The fixture's body, quoting {@code content} shortened where it quotes its own. */
  private static ObjectNode invalidEncryptedContent(String content) {
    ObjectNode body = fixtureBody(INVALID);
    ObjectNode error = (ObjectNode) body.get("error");
    Matcher quoted = Pattern.compile("content (\\S+) could").matcher(error.get("message").asText());
    assertThat(quoted.find()).as("the fixture quotes a shortened ciphertext").isTrue();
    String shortened = content.length() <= 8 ? content
        : content.substring(0, 4) + "..." + content.substring(content.length() - 4);
    error.put("message", error.get("message").asText().replace(quoted.group(1), shortened));
    return body;
  }

  private static EasyInputMessage user(String text) {
    return EasyInputMessage.builder().role(EasyInputMessage.Role.USER).content(text).build();
  }
}
