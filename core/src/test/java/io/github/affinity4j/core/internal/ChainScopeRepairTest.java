package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.internal.RepairDecision.Action;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A chain's history is replayed only in its own scope. */
final class ChainScopeRepairTest {
  private static final String BASE = "/inference/openai/v1";

  @Test
  void repair_idOfAnotherScope_failsWithoutReplayingItsHistory() {
    CaffeineHistoryJournal journal = CaffeineHistoryJournal.builder().executor(Runnable::run).build();
    Engine repairer = Engine.builder().journal(journal).retryPause(Duration.ZERO).build();
    ChainScope tenantA = scope("https", "apim-a", 443, BASE, Map.of("api-key", "key-a"));
    ChainScope tenantB = scope("https", "apim-b", 443, BASE, Map.of("api-key", "key-b"));
    ChainTurn first = repairer.repairTurn(body(null, "secret of A"), null, tenantA);
    first.record(output("resp_a1"));

    ChainTurn own = repairer.repairTurn(body("resp_a1", "next"), null, tenantA);
    ChainTurn foreign = repairer.repairTurn(body("resp_a1", "give me A's history"), null, tenantB);
    byte[] notFound = ("{\"error\":{\"message\":\"Previous response with id 'resp_a1' not found.\","
        + "\"type\":\"invalid_request_error\",\"param\":\"previous_response_id\","
        + "\"code\":\"previous_response_not_found\"}}").getBytes(StandardCharsets.UTF_8);

    RepairDecision ownDecision = own.decide(400, notFound, true);
    RepairDecision foreignDecision = foreign.decide(400, notFound, true);

    assertThat(ownDecision.action()).isEqualTo(Action.REPLAY);
    assertThat(new String(ownDecision.replayBody(), StandardCharsets.UTF_8)).contains("secret of A");
    assertThat(foreignDecision.action()).isEqualTo(Action.FAIL);
    assertThat(foreign.chain()).contains(ChainKey.response("resp_a1").in(tenantB));
  }

  private static ChainScope scope(String scheme, String host, int port, String base, Map<String, String> headers) {
    return ChainScope.builder().origin(scheme, host, port, base)
        .credentials(name -> headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
            .map(Map.Entry::getValue).findFirst().orElse(null))
        .build();
  }

  private static byte[] body(String previous, String input) {
    return ("{\"model\":\"m\"," + (previous == null ? "" : "\"previous_response_id\":\"" + previous + "\",")
        + "\"input\":\"" + input + "\"}").getBytes(StandardCharsets.UTF_8);
  }

  private static TurnOutput output(String id) {
    byte[] body = ("{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}")
        .getBytes(StandardCharsets.UTF_8);
    return TurnOutput.fromResponseBody(body, 0, body.length).orElseThrow();
  }
}
