package io.github.affinity4j.testkit;

import static io.github.affinity4j.testkit.SimulatorHttp.MAPPER;
import static io.github.affinity4j.testkit.SimulatorHttp.answer;
import static io.github.affinity4j.testkit.SimulatorHttp.fixtureBodyQuoting;
import static io.github.affinity4j.testkit.SimulatorHttp.fixtureStatus;
import static io.github.affinity4j.testkit.SimulatorHttp.turn;
import static io.github.affinity4j.testkit.SimulatorHttp.userMessage;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.models.responses.inputtokens.InputTokenCountParams;
import com.openai.models.responses.inputtokens.InputTokenCountResponse;
import io.github.affinity4j.testkit.SimulatorHttp.Answer;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code POST …/responses/compact} and {@code POST …/responses/input_tokens}: each continues a
 * chain by {@code previous_response_id}, so each fails like a turn on a backend that does not
 * hold it. Two backends, round-robin; the cookie pins where a test needs the chain's backend.
 */
@Timeout(30)
final class CompactAndInputTokensTest {
  private static final String PREVIOUS_NOT_FOUND = "previous_response_not_found.json";

  private ApimSimulator sim;
  private SimulatorHttp http;
  /** A two-turn chain on backend-1: its last response id and its pin. */
  private String chain;
  private String pin;

  @BeforeEach
  void start() {
    sim = ApimSimulator.builder().backends(2).start();
    http = new SimulatorHttp(sim);
    Answer first = http.post("/responses", turn("first"), null);
    pin = first.issuedCookie();
    Answer second = http.post("/responses",
        turn("second").put("previous_response_id", first.json().get("id").asText()), pin);
    chain = second.json().get("id").asText();
    sim.clearRequestLog();
  }

  @AfterEach
  void close() {
    http.close();
    sim.close();
  }

  // --- input_tokens ---

  @Test
  void inputTokens_previousResponseIdOnItsBackend_countIsTheNextTurnsUsage() {
    ObjectNode next = turn("third").put("previous_response_id", chain);

    Answer counted = http.post("/responses/input_tokens", next, pin);
    Answer created = http.post("/responses", next, pin);

    assertThat(counted.status()).isEqualTo(200);
    assertThat(counted.json().get("object").asText()).isEqualTo("response.input_tokens");
    assertThat(counted.json().get("input_tokens").asLong())
        .isEqualTo(created.json().at("/usage/input_tokens").asLong())
        .isGreaterThan(count(turn("third")));
    assertThat(counted.json().size()).isEqualTo(2);
    LoggedRequest logged = sim.requestLog().get(0);
    assertThat(logged.previousResponseId()).isEqualTo(chain);
    assertThat(logged.backend()).isEqualTo("backend-1");
    assertThat(logged.responseId()).as("nothing created").isNull();
  }

  @Test
  void inputTokens_previousResponseIdOnAnotherBackend_previousResponseNotFoundFixture() {
    Answer elsewhere = http.post("/responses/input_tokens",
        turn("third").put("previous_response_id", chain), null);

    assertThat(sim.requestLog().get(0).backend()).isEqualTo("backend-2");
    assertThat(elsewhere.status()).isEqualTo(fixtureStatus(PREVIOUS_NOT_FOUND));
    assertThat(elsewhere.json()).isEqualTo(notFound(chain));
    assertThat(sim.requestLog().get(0).errorCode()).isEqualTo("previous_response_not_found");
    assertThat(sim.backend("backend-2").stats().notFoundErrors()).isEqualTo(1);
  }

  @Test
  void inputTokens_throughSdk_parses() {
    OpenAIClient client = http.sdk();

    InputTokenCountResponse count = client.responses().inputTokens().count(
        InputTokenCountParams.builder().model("gpt-4.1").input("How many tokens is this?").build());

    assertThat(count.validate().inputTokens()).isPositive();
  }

  // --- compact ---

  @Test
  void compact_previousResponseIdOnItsBackend_userMessagesThenOneSealedCompactionItem() {
    Answer compacted = http.post("/responses/compact",
        turn("third").put("previous_response_id", chain), pin);

    assertThat(compacted.status()).as(compacted.body()).isEqualTo(200);
    JsonNode body = compacted.json();
    assertThat(body.get("id").asText()).startsWith("resp_");
    assertThat(body.get("object").asText()).isEqualTo("response.compaction");
    assertThat(body.get("created_at").isNumber()).isTrue();
    assertThat(body.at("/usage/input_tokens").asLong()).isPositive();
    List<JsonNode> output = list(body.get("output"));
    assertThat(output).extracting(item -> item.get("type").asText() + "/" + item.path("role").asText())
        .containsExactly("message/user", "message/user", "message/user", "compaction/");
    assertThat(output.subList(0, 3)).extracting(item -> item.at("/content/0/text").asText())
        .containsExactly("first", "second", "third");
    JsonNode compaction = output.get(3);
    assertThat(compaction.get("id").asText()).startsWith("cmp_");
    String content = compaction.get("encrypted_content").asText();
    assertThat(sim.backend("backend-1").verifiesEncryptedContent(content)).isTrue();
    assertThat(sim.backend("backend-2").verifiesEncryptedContent(content)).isFalse();
    assertThat(sim.requestLog().get(0).previousResponseId()).isEqualTo(chain);
  }

  @Test
  void compact_previousResponseIdOnAnotherBackend_previousResponseNotFoundFixture() {
    Answer elsewhere = http.post("/responses/compact",
        turn("third").put("previous_response_id", chain), null);

    assertThat(sim.requestLog().get(0).backend()).isEqualTo("backend-2");
    assertThat(elsewhere.status()).isEqualTo(fixtureStatus(PREVIOUS_NOT_FOUND));
    assertThat(elsewhere.json()).isEqualTo(notFound(chain));
  }

  @Test
  void compactedOutput_sentAsNextInput_itsBackendReadsIt_anotherRefusesIt() {
    JsonNode compacted = http.post("/responses/compact",
        turn("third").put("previous_response_id", chain), pin).json();
    ArrayNode input = compacted.get("output").deepCopy();
    input.add(userMessage("fourth"));
    ObjectNode next = turn(input).put("store", false);

    Answer home = http.post("/responses", next, pin);
    Answer elsewhere = http.post("/responses", next, null);

    assertThat(home.status()).as(home.body()).isEqualTo(200);
    assertThat(answer(home.json()).userMessages()).isEqualTo(4);
    assertThat(sim.requestLog().get(1).encryptedInputItems()).isEqualTo(1);
    assertThat(sim.requestLog().get(2).backend()).isEqualTo("backend-2");
    assertThat(elsewhere.status()).isEqualTo(400);
    assertThat(elsewhere.json().at("/error/code").asText()).isEqualTo("invalid_encrypted_content");
    assertThat(sim.requestLog().get(2).refusedEncryptedContent()).isTrue();
  }

  @Test
  void compactAndInputTokens_unknownField_400NamesIt() {
    for (String path : List.of("/responses/compact", "/responses/input_tokens")) {
      Answer refused = http.post(path, turn("x").put("stream", true), null);

      assertThat(refused.status()).as(path).isEqualTo(400);
      assertThat(refused.json().at("/error/code").asText()).as(path).isEqualTo("unknown_parameter");
      assertThat(refused.json().at("/error/param").asText()).as(path).isEqualTo("stream");
    }
  }

  // --- helpers ---

  private long count(ObjectNode request) {
    return http.post("/responses/input_tokens", request, pin).json().get("input_tokens").asLong();
  }

  private static ObjectNode notFound(String id) {
    return fixtureBodyQuoting(PREVIOUS_NOT_FOUND, id);
  }

  private static List<JsonNode> list(JsonNode array) {
    return MAPPER.convertValue(array, MAPPER.getTypeFactory().constructCollectionType(List.class, JsonNode.class));
  }
}
