package io.github.affinity4j.testkit;

import static io.github.affinity4j.testkit.SimulatorHttp.MAPPER;
import static io.github.affinity4j.testkit.SimulatorHttp.answer;
import static io.github.affinity4j.testkit.SimulatorHttp.items;
import static io.github.affinity4j.testkit.SimulatorHttp.turn;
import static io.github.affinity4j.testkit.SimulatorHttp.userMessage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.errors.NotFoundException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.inputitems.InputItemListPage;
import io.github.affinity4j.testkit.SimulatorHttp.Answer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Background responses ({@code background: true}): queued on create, polled to completion on the
 * backend that holds them, cancelled, listed, deleted; and what a poll that lands on another
 * backend of the pool gets.
 */
@Timeout(30)
final class BackgroundResponsesTest {
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
  void background_created_queuedWithEmptyOutput() {
    start(ApimSimulator.builder().backends(1));

    Answer created = http.post("/responses", background("hi"), null);

    assertThat(created.status()).isEqualTo(200);
    JsonNode response = created.json();
    assertThat(response.get("id").asText()).startsWith("resp_");
    assertThat(response.get("status").asText()).isEqualTo("queued");
    assertThat(response.get("background").asBoolean()).isTrue();
    assertThat(response.get("output")).isEmpty();
    assertThat(response.get("usage").isNull()).isTrue();
    assertThat(response.get("completed_at").isNull()).isTrue();
    LoggedRequest logged = sim.requestLog().get(0);
    assertThat(logged.responseStatus()).isEqualTo("queued");
    assertThat(logged.responseId()).isEqualTo(response.get("id").asText());
    assertThat(logged.backgroundPoll()).isFalse();
  }

  @Test
  void background_polledByDefault_inProgressThenCompletedOnSecondPoll() {
    start(ApimSimulator.builder().backends(1));
    String id = http.post("/responses", background("hi"), null).json().get("id").asText();

    JsonNode first = http.get("/responses/" + id, null).json();
    JsonNode second = http.get("/responses/" + id, null).json();
    JsonNode third = http.get("/responses/" + id, null).json();

    assertThat(first.get("status").asText()).isEqualTo("in_progress");
    assertThat(first.get("output")).isEmpty();
    assertThat(second.get("status").asText()).isEqualTo("completed");
    assertThat(answer(second).userMessages()).isEqualTo(1);
    assertThat(answer(second).lastUserMessage()).isEqualTo("hi");
    assertThat(second.get("usage").get("input_tokens").asLong()).isPositive();
    assertThat(second.get("completed_at").isNumber()).isTrue();
    assertThat(third).isEqualTo(second);
    assertThat(sim.requestLog()).extracting(LoggedRequest::responseStatus, LoggedRequest::backgroundPoll)
        .containsExactly(
            tuple("queued", false),
            tuple("in_progress", true),
            tuple("completed", true),
            tuple("completed", true));
  }

  @Test
  void backgroundCompletesOnPoll_three_twoPollsInProgressThenCompleted() {
    start(ApimSimulator.builder().backends(1).backgroundCompletesOnPoll(3));
    String id = http.post("/responses", background("hi"), null).json().get("id").asText();

    List<String> statuses = new ArrayList<>();
    for (int poll = 0; poll < 3; poll++) {
      statuses.add(http.get("/responses/" + id, null).json().get("status").asText());
    }

    assertThat(statuses).containsExactly("in_progress", "in_progress", "completed");
  }

  @Test
  void backgroundCompletesAfter_time_inProgressUntilTheClockPassesIt() {
    TestClock clock = new TestClock();
    start(ApimSimulator.builder().backends(1).clock(clock)
        .backgroundCompletesAfter(Duration.ofSeconds(30)));
    String id = http.post("/responses", background("hi"), null).json().get("id").asText();

    for (int poll = 0; poll < 5; poll++) {
      assertThat(http.get("/responses/" + id, null).json().get("status").asText())
          .as("poll %d at the same instant", poll).isEqualTo("in_progress");
    }
    clock.advance(Duration.ofSeconds(29));
    assertThat(http.get("/responses/" + id, null).json().get("status").asText()).isEqualTo("in_progress");
    clock.advance(Duration.ofSeconds(1));
    JsonNode done = http.get("/responses/" + id, null).json();

    assertThat(done.get("status").asText()).isEqualTo("completed");
    assertThat(answer(done).userMessages()).isEqualTo(1);
  }

  @Test
  void backgroundPoll_landsOnAnotherBackend_404InTheModelsShape_onItsOwnCompletes() {
    start(ApimSimulator.builder().backends(2));
    Answer created = http.post("/responses", background("hi"), null);
    String id = created.json().get("id").asText();

    // Without the cookie the round-robin sends the poll to backend-2.
    Answer elsewhere = http.get("/responses/" + id, null);
    Answer pinned1 = http.get("/responses/" + id, created.issuedCookie());
    Answer pinned2 = http.get("/responses/" + id, created.issuedCookie());

    assertThat(elsewhere.status()).isEqualTo(404);
    assertThat(elsewhere.json()).isEqualTo(MAPPER.createObjectNode().set("error", MAPPER.createObjectNode()
        .put("message", "Response with id '" + id + "' not found.")
        .put("type", "invalid_request_error")
        .putNull("param")
        .putNull("code")));
    assertThat(pinned1.json().get("status").asText()).as("the misrouted poll did not count")
        .isEqualTo("in_progress");
    assertThat(pinned2.json().get("status").asText()).isEqualTo("completed");
    assertThat(answer(pinned2.json()).backend()).isEqualTo("backend-1");
    assertThat(sim.requestLog()).extracting(LoggedRequest::backend, LoggedRequest::status,
            LoggedRequest::backgroundPoll)
        .containsExactly(
            tuple("backend-1", 200, false),
            tuple("backend-2", 404, false),
            tuple("backend-1", 200, true),
            tuple("backend-1", 200, true));
  }

  @Test
  void cancel_queuedBackgroundResponse_cancelledForGood_andIdempotent() {
    start(ApimSimulator.builder().backends(1));
    String id = http.post("/responses", background("hi"), null).json().get("id").asText();

    Answer cancelled = http.post("/responses/" + id + "/cancel", "", null);
    JsonNode polled = http.get("/responses/" + id, null).json();
    JsonNode polledAgain = http.get("/responses/" + id, null).json();
    Answer again = http.post("/responses/" + id + "/cancel", "", null);

    assertThat(cancelled.status()).isEqualTo(200);
    assertThat(cancelled.json().get("status").asText()).isEqualTo("cancelled");
    assertThat(cancelled.json().get("output")).isEmpty();
    assertThat(polled.get("status").asText()).isEqualTo("cancelled");
    assertThat(polledAgain).isEqualTo(polled);
    assertThat(again.status()).isEqualTo(200);
    assertThat(again.json()).isEqualTo(cancelled.json());
    assertThat(sim.requestLog().get(1).responseStatus()).isEqualTo("cancelled");
  }

  @Test
  void cancel_inProgressResponse_cancelled_butCompletedOneAnsweredUnchanged() {
    start(ApimSimulator.builder().backends(1));
    String running = http.post("/responses", background("a"), null).json().get("id").asText();
    http.get("/responses/" + running, null);
    String done = http.post("/responses", background("b"), null).json().get("id").asText();
    http.get("/responses/" + done, null);
    JsonNode completed = http.get("/responses/" + done, null).json();

    JsonNode cancelledRunning = http.post("/responses/" + running + "/cancel", "", null).json();
    Answer cancelledDone = http.post("/responses/" + done + "/cancel", "", null);

    assertThat(cancelledRunning.get("status").asText()).isEqualTo("cancelled");
    assertThat(cancelledDone.status()).isEqualTo(200);
    assertThat(cancelledDone.json()).isEqualTo(completed);
  }

  @Test
  void cancel_synchronousResponse_400() {
    start(ApimSimulator.builder().backends(1));
    String id = http.post("/responses", turn("hi"), null).json().get("id").asText();

    Answer refused = http.post("/responses/" + id + "/cancel", "", null);

    assertThat(refused.status()).isEqualTo(400);
    assertThat(refused.json().at("/error/message").asText()).isEqualTo("Cannot cancel a synchronous response.");
    assertThat(refused.json().at("/error/type").asText()).isEqualTo("invalid_request_error");
  }

  @Test
  void background_withStoreFalse_400NothingCreated() {
    start(ApimSimulator.builder().backends(1));

    Answer refused = http.post("/responses", background("hi").put("store", false), null);

    assertThat(refused.status()).isEqualTo(400);
    assertThat(refused.json().at("/error/param").asText()).isEqualTo("background");
    assertThat(sim.backend("backend-1").stats().responsesCreated()).isZero();
  }

  @Test
  void inputItems_onTheHoldingBackend_listedWithIdsNewestFirst_elsewhere404() {
    start(ApimSimulator.builder().backends(2));
    Answer created = http.post("/responses", background(items(userMessage("first"), userMessage("second"))), null);
    String id = created.json().get("id").asText();

    Answer listed = http.get("/responses/" + id + "/input_items", created.issuedCookie());
    Answer ascending = http.get("/responses/" + id + "/input_items?order=asc&limit=1", created.issuedCookie());
    Answer elsewhere = http.get("/responses/" + id + "/input_items", null);

    JsonNode list = listed.json();
    assertThat(list.get("object").asText()).isEqualTo("list");
    assertThat(list.get("data")).extracting(item -> item.at("/content/0/text").asText())
        .containsExactly("second", "first");
    assertThat(list.get("data")).allSatisfy(item -> {
      assertThat(item.get("id").asText()).matches("msg_[0-9a-f]{32}");
      assertThat(item.get("type").asText()).isEqualTo("message");
      assertThat(item.at("/content/0/type").asText()).isEqualTo("input_text");
    });
    assertThat(list.get("first_id").asText()).isEqualTo(list.at("/data/0/id").asText());
    assertThat(list.get("has_more").asBoolean()).isFalse();
    assertThat(ascending.json().get("data")).singleElement()
        .satisfies(item -> assertThat(item.at("/content/0/text").asText()).isEqualTo("first"));
    assertThat(ascending.json().get("has_more").asBoolean()).isTrue();
    assertThat(ascending.json().at("/data/0/id")).as("ids are kept between listings")
        .isEqualTo(list.at("/data/1/id"));
    assertThat(elsewhere.status()).isEqualTo(404);
  }

  @Test
  void delete_backgroundResponse_thenPoll404() {
    start(ApimSimulator.builder().backends(1));
    String id = http.post("/responses", background("hi"), null).json().get("id").asText();

    Answer deleted = http.delete("/responses/" + id, null);
    Answer polled = http.get("/responses/" + id, null);

    assertThat(deleted.status()).isEqualTo(200);
    assertThat(deleted.json().get("deleted").asBoolean()).isTrue();
    assertThat(polled.status()).isEqualTo(404);
  }

  @Test
  void previousResponseId_ofCompletedBackgroundResponse_chainContinues() {
    start(ApimSimulator.builder().backends(1).backgroundCompletesOnPoll(1));
    String id = http.post("/responses", background("first"), null).json().get("id").asText();
    http.get("/responses/" + id, null);

    Answer next = http.post("/responses", turn("second").put("previous_response_id", id), null);

    assertThat(answer(next.json()).userMessages()).isEqualTo(2);
  }

  @Test
  void backgroundStream_queuedEventsFirst_andTheStoredResponseIsCompleted() {
    start(ApimSimulator.builder().backends(1));

    Answer stream = http.post("/responses", background("hi").put("stream", true), null);
    List<JsonNode> events = stream.events();
    String id = events.get(0).at("/response/id").asText();
    JsonNode polled = http.get("/responses/" + id, null).json();

    assertThat(stream.eventTypes()).startsWith("response.created", "response.queued", "response.in_progress")
        .endsWith("response.completed");
    assertThat(events.get(0).at("/response/status").asText()).isEqualTo("queued");
    assertThat(events.get(0).at("/response/background").asBoolean()).isTrue();
    assertThat(polled.get("status").asText()).isEqualTo("completed");
    assertThat(polled).isEqualTo(events.get(events.size() - 1).get("response"));
  }

  @Test
  void resumedStream_startingAfterCursor_sendsTheRestAndCompletesTheResponse() {
    start(ApimSimulator.builder().backends(1));
    String id = http.post("/responses", background("hi there"), null).json().get("id").asText();

    Answer resumed = http.get("/responses/" + id + "?stream=true&starting_after=2", null);
    JsonNode polled = http.get("/responses/" + id, null).json();

    List<JsonNode> events = resumed.events();
    assertThat(events.get(0).get("sequence_number").asInt()).isEqualTo(3);
    assertThat(events).extracting(event -> event.get("sequence_number").asInt())
        .isSorted().doesNotHaveDuplicates();
    assertThat(resumed.eventTypes()).doesNotContain("response.created", "response.queued")
        .endsWith("response.completed");
    assertThat(polled.get("status").asText()).isEqualTo("completed");
    assertThat(sim.requestLog().get(1).backgroundPoll()).isTrue();
  }

  @Test
  void sdk_backgroundResponse_pollCancelAndListInputItemsParse() {
    start(ApimSimulator.builder().backends(1));
    OpenAIClient client = http.sdk();
    ResponseCreateParams params = ResponseCreateParams.builder().model("gpt-4.1").input("hi")
        .background(true).build();

    Response queued = client.responses().create(params).validate();
    Response running = client.responses().retrieve(queued.id()).validate();
    Response completed = client.responses().retrieve(queued.id()).validate();
    InputItemListPage inputItems = client.responses().inputItems().list(queued.id());
    Response other = client.responses().create(params);
    Response cancelled = client.responses().cancel(other.id()).validate();
    client.responses().delete(other.id());

    assertThat(queued.status()).hasValue(ResponseStatus.QUEUED);
    assertThat(queued.background()).hasValue(true);
    assertThat(running.status()).hasValue(ResponseStatus.IN_PROGRESS);
    assertThat(completed.status()).hasValue(ResponseStatus.COMPLETED);
    assertThat(completed.output().get(0).asMessage().content().get(0).asOutputText().text())
        .startsWith("Backend backend-1");
    assertThat(inputItems.data()).singleElement().satisfies(item -> {
      item.validate();
      assertThat(item.isResponseInputMessageItem()).isTrue();
      assertThat(item.asResponseInputMessageItem().id()).startsWith("msg_");
    });
    assertThat(cancelled.status()).hasValue(ResponseStatus.CANCELLED);
    assertThatThrownBy(() -> client.responses().retrieve(other.id())).isInstanceOf(NotFoundException.class);
  }

  @Test
  void backgroundOptions_outOfRange_rejectedWithTheValue() {
    ApimSimulator.Builder builder = ApimSimulator.builder();

    assertThatThrownBy(() -> builder.backgroundCompletesOnPoll(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("backgroundCompletesOnPoll must be 1 or more, was 0");
    assertThatThrownBy(() -> builder.backgroundCompletesAfter(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("backgroundCompletesAfter must not be negative, was PT-1S");
  }

  @Test
  void backgroundCompletesOnPoll_afterCompletesAfter_pollsCountAgain() {
    start(ApimSimulator.builder().backends(1).clock(new TestClock())
        .backgroundCompletesAfter(Duration.ofHours(1)).backgroundCompletesOnPoll(1));
    String id = http.post("/responses", background("hi"), null).json().get("id").asText();

    assertThat(http.get("/responses/" + id, null).json().get("status").asText()).isEqualTo("completed");
  }

  // --- helpers ---

  private void start(ApimSimulator.Builder builder) {
    sim = builder.start();
    http = new SimulatorHttp(sim);
  }

  private static ObjectNode background(String text) {
    return turn(text).put("background", true);
  }

  private static ObjectNode background(JsonNode input) {
    return turn(input).put("background", true);
  }
}
