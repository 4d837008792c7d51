package io.github.affinity4j.testkit;

import static io.github.affinity4j.testkit.SimulatorHttp.MAPPER;
import static io.github.affinity4j.testkit.SimulatorHttp.answer;
import static io.github.affinity4j.testkit.SimulatorHttp.encryptedTurn;
import static io.github.affinity4j.testkit.SimulatorHttp.fixtureBodyQuoting;
import static io.github.affinity4j.testkit.SimulatorHttp.fixtureStatus;
import static io.github.affinity4j.testkit.SimulatorHttp.items;
import static io.github.affinity4j.testkit.SimulatorHttp.outputItem;
import static io.github.affinity4j.testkit.SimulatorHttp.turn;
import static io.github.affinity4j.testkit.SimulatorHttp.userMessage;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.github.affinity4j.testkit.SimulatorHttp.Answer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code store: false} on one backend, so that nothing here is about routing: the response is not
 * kept, its items still carry ids, full items come back as sent, and only references by id fail.
 */
@Timeout(30)
final class StoreFalseTest {
  private static final String ITEM_NOT_FOUND = "item_not_found_store_false.json";
  private static final String PREVIOUS_NOT_FOUND = "previous_response_not_found.json";

  private ApimSimulator sim;
  private SimulatorHttp http;

  @BeforeEach
  void start() {
    sim = ApimSimulator.builder().backends(1).start();
    http = new SimulatorHttp(sim);
  }

  @AfterEach
  void close() {
    http.close();
    sim.close();
  }

  @Test
  void storeFalse_previousResponseIdOnItsOwnBackend_previousResponseNotFoundFixture() {
    String id = unstored(encryptedTurn(TextNode.valueOf("hi"))).get("id").asText();

    Answer next = http.post("/responses", turn("again").put("previous_response_id", id), null);

    assertThat(next.status()).isEqualTo(fixtureStatus(PREVIOUS_NOT_FOUND));
    assertThat(next.json()).isEqualTo(fixtureBodyQuoting(PREVIOUS_NOT_FOUND, id));
    assertThat(sim.requestLog().get(1).errorCode()).isEqualTo("previous_response_not_found");
  }

  @Test
  void storeFalse_retrieve_404InTheModelsShape() {
    String id = unstored(turn("hi")).get("id").asText();

    Answer retrieved = http.get("/responses/" + id, null);

    assertThat(retrieved.status()).isEqualTo(404);
    assertThat(retrieved.json()).isEqualTo(MAPPER.createObjectNode().set("error", MAPPER.createObjectNode()
        .put("message", "Response with id '" + id + "' not found.")
        .put("type", "invalid_request_error")
        .putNull("param")
        .putNull("code")));
  }

  @Test
  void storeFalse_outputItems_stillCarryTheirIds() {
    JsonNode reasoned = unstored(encryptedTurn(TextNode.valueOf("think")));
    ObjectNode withTool = turn("Use get_weather.").put("store", false);
    withTool.putArray("tools").addObject().put("type", "function").put("name", "get_weather");
    JsonNode called = unstored(withTool);

    assertThat(reasoned.get("store").asBoolean()).isFalse();
    assertThat(outputItem(reasoned, "reasoning").get("id").asText()).matches("rs_[0-9a-f]{32}");
    assertThat(outputItem(reasoned, "message").get("id").asText()).matches("msg_[0-9a-f]{32}");
    assertThat(outputItem(called, "function_call").get("id").asText()).matches("fc_[0-9a-f]{32}");
  }

  @Test
  void storeFalse_fullItemsSentBackWithTheirIds_accepted() {
    ObjectNode withTool = encryptedTurn(TextNode.valueOf("Use get_weather.")).put("store", false);
    withTool.putArray("tools").addObject().put("type", "function").put("name", "get_weather");
    JsonNode called = unstored(withTool);
    JsonNode call = outputItem(called, "function_call");

    ObjectNode next = encryptedTurn(items(userMessage("Use get_weather."),
        outputItem(called, "reasoning"), call,
        MAPPER.createObjectNode().put("type", "function_call_output")
            .put("call_id", call.get("call_id").asText()).put("output", "sunny"),
        userMessage("Thanks.")));
    next.put("store", false);
    Answer answered = http.post("/responses", next, null);

    assertThat(answered.status()).as(answered.body()).isEqualTo(200);
    assertThat(answer(answered.json()).userMessages()).isEqualTo(2);
  }

  @Test
  void storeFalse_itemReferenceToUnstoredItem_400WithFixtureBody() {
    String reasoningId = outputItem(unstored(encryptedTurn(TextNode.valueOf("think"))), "reasoning")
        .get("id").asText();

    Answer referenced = http.post("/responses", turn(items(
        MAPPER.createObjectNode().put("type", "item_reference").put("id", reasoningId),
        userMessage("more"))).put("store", false), null);

    assertThat(referenced.status()).isEqualTo(fixtureStatus(ITEM_NOT_FOUND));
    assertThat(referenced.json()).isEqualTo(fixtureBodyQuoting(ITEM_NOT_FOUND, reasoningId));
    assertThat(sim.backend("backend-1").stats().notFoundErrors()).isEqualTo(1);
  }

  @Test
  void storingRequest_fullItemWithUnstoredId_400WithFixtureBody() {
    JsonNode message = outputItem(unstored(turn("hi")), "message");

    Answer storing = http.post("/responses", turn(items(userMessage("hi"), message,
        userMessage("more"))), null);

    assertThat(storing.status()).isEqualTo(fixtureStatus(ITEM_NOT_FOUND));
    assertThat(storing.json()).isEqualTo(fixtureBodyQuoting(ITEM_NOT_FOUND, message.get("id").asText()));
  }

  // --- helpers ---

  /** Creates a response with {@code store: false} and returns it. */
  private JsonNode unstored(ObjectNode body) {
    Answer answer = http.post("/responses", body.put("store", false), null);
    assertThat(answer.status()).as(answer.body()).isEqualTo(200);
    return answer.json();
  }
}
