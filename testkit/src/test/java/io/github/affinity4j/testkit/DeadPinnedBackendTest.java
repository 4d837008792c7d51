package io.github.affinity4j.testkit;

import static io.github.affinity4j.testkit.SimulatorHttp.answer;
import static io.github.affinity4j.testkit.SimulatorHttp.encryptedTurn;
import static io.github.affinity4j.testkit.SimulatorHttp.fixtureBody;
import static io.github.affinity4j.testkit.SimulatorHttp.fixtureStatus;
import static io.github.affinity4j.testkit.SimulatorHttp.items;
import static io.github.affinity4j.testkit.SimulatorHttp.outputItem;
import static io.github.affinity4j.testkit.SimulatorHttp.turn;
import static io.github.affinity4j.testkit.SimulatorHttp.userMessage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.github.affinity4j.testkit.SimulatorHttp.Answer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link ApimSimulator.Builder#deadPinnedBackendStatus(int)}: APIM's own 500 (or 502, 504) for a
 * request pinned to a backend it cannot reach, instead of a re-route or a 503.
 */
@Timeout(30)
final class DeadPinnedBackendTest {
  private static final String CONNECTION_FAILURE = "apim_backend_connection_failure_500.json";
  private static final String UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

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

  @ParameterizedTest
  @EnumSource(PinnedBackendMode.class)
  void status500_pinnedBackendKilled_gatewayAnswersInApimShapeWithoutForwarding(PinnedBackendMode mode) {
    start(ApimSimulator.builder().backends(2).pinnedBackendMode(mode).deadPinnedBackendStatus(500));
    Answer first = http.post("/responses", turn("hi"), null);
    String previous = first.json().get("id").asText();
    sim.backend("backend-1").kill();

    Answer pinned = http.post("/responses", turn("again").put("previous_response_id", previous),
        first.issuedCookie());

    assertThat(pinned.status()).isEqualTo(fixtureStatus(CONNECTION_FAILURE)).isEqualTo(500);
    JsonNode body = pinned.json();
    assertThat(fieldNames(body)).containsExactlyElementsOf(fieldNames(fixtureBody(CONNECTION_FAILURE)));
    assertThat(body.get("statusCode")).isEqualTo(fixtureBody(CONNECTION_FAILURE).get("statusCode"));
    assertThat(body.get("message")).isEqualTo(fixtureBody(CONNECTION_FAILURE).get("message"));
    assertThat(body.get("activityId").asText()).matches(UUID)
        .isEqualTo(pinned.headers().get("apim-request-id"));
    assertThat(pinned.issuedCookie()).as("the pin is kept").isNull();
    assertThat(pinned.headers().get("x-backend-region")).isNull();
    assertThat(sim.backend("backend-1").stats().requests()).isEqualTo(1);
    assertThat(sim.backend("backend-2").stats().requests()).isZero();
    LoggedRequest logged = sim.requestLog().get(1);
    assertThat(logged.wasRouted()).isFalse();
    assertThat(logged.status()).isEqualTo(500);
    assertThat(logged.previousResponseId()).isEqualTo(previous);
    assertThat(logged.errorCode()).isNull();
  }

  @ParameterizedTest
  @ValueSource(ints = {502, 504})
  void status502or504_pinnedBackendKilled_thatStatusInApimShape(int status) {
    start(ApimSimulator.builder().backends(2).deadPinnedBackendStatus(status));
    Answer first = http.post("/responses", turn("hi"), null);
    sim.backend("backend-1").kill();

    Answer pinned = http.get("/responses/" + first.json().get("id").asText(), first.issuedCookie());

    assertThat(pinned.status()).isEqualTo(status);
    assertThat(pinned.json().get("statusCode").asInt()).isEqualTo(status);
    assertThat(pinned.json().get("message").asText())
        .isEqualTo(status == 502 ? "Bad gateway" : "Gateway timeout");
    assertThat(pinned.json().get("activityId").asText()).matches(UUID);
  }

  @Test
  void deadPinnedBackendStatus_unpinnedRequest_routedToALiveBackend() {
    start(ApimSimulator.builder().backends(2).deadPinnedBackendStatus(500));
    sim.backend("backend-1").kill();

    Answer unpinned = http.post("/responses", turn("hi"), null);

    assertThat(unpinned.status()).isEqualTo(200);
    assertThat(sim.requestLog().get(0).backend()).isEqualTo("backend-2");
  }

  @Test
  void deadPinnedBackendStatus_backendRevived_pinServedAgain() {
    start(ApimSimulator.builder().backends(2).deadPinnedBackendStatus(500));
    Answer first = http.post("/responses", turn("hi"), null);
    String previous = first.json().get("id").asText();
    sim.backend("backend-1").kill();
    http.post("/responses", turn("again").put("previous_response_id", previous), first.issuedCookie());
    sim.backend("backend-1").revive();

    Answer again = http.post("/responses", turn("again").put("previous_response_id", previous),
        first.issuedCookie());

    assertThat(again.status()).isEqualTo(200);
    assertThat(answer(again.json()).userMessages()).isEqualTo(2);
  }

  @Test
  void deadPinnedBackendStatus_breakerOpenNotKilled_followsThePinnedBackendMode() {
    TestClock clock = new TestClock();
    start(ApimSimulator.builder().backends(2).clock(clock).deadPinnedBackendStatus(500)
        .pinnedBackendMode(PinnedBackendMode.STRICT)
        .circuitBreaker(CircuitBreakerRule.builder().count(1).statusRange(500, 599)
            .tripDuration(Duration.ofMinutes(1)).build()));
    Answer first = http.post("/responses", turn("hi"), null);
    sim.backend("backend-1").failNext(1, 500);
    http.post("/responses", turn("trip"), first.issuedCookie());

    Answer pinned = http.post("/responses", turn("again"), first.issuedCookie());

    assertThat(sim.backend("backend-1").isCircuitOpen()).isTrue();
    assertThat(pinned.status()).isEqualTo(503);
    assertThat(pinned.json()).isEqualTo(fixtureBody("breaker_open_503.json"));
  }

  @Test
  void deadPinnedBackendStatus_otherStatuses_rejected() {
    ApimSimulator.Builder builder = ApimSimulator.builder();

    for (int status : List.of(0, 200, 404, 501, 503, 505)) {
      assertThatThrownBy(() -> builder.deadPinnedBackendStatus(status)).as("%d", status)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("deadPinnedBackendStatus must be 500, 502 or 504, was " + status);
    }
  }

  @Test
  void requestLog_requestAnsweredByTheGateway_stillCountsEncryptedInput() {
    start(ApimSimulator.builder().backends(2).deadPinnedBackendStatus(500));
    Answer first = http.post("/responses",
        encryptedTurn(TextNode.valueOf("think")).put("store", false), null);
    ObjectNode reasoning = outputItem(first.json(), "reasoning").deepCopy();
    sim.backend("backend-1").kill();

    http.post("/responses", turn(items(reasoning, userMessage("more"))).put("store", false),
        first.issuedCookie());

    LoggedRequest logged = sim.requestLog().get(1);
    assertThat(logged.status()).isEqualTo(500);
    assertThat(logged.encryptedInputItems()).isEqualTo(1);
    assertThat(logged.refusedEncryptedContent()).isFalse();
  }

  // --- helpers ---

  private void start(ApimSimulator.Builder builder) {
    sim = builder.start();
    http = new SimulatorHttp(sim);
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      names.add(it.next());
    }
    return names;
  }
}
