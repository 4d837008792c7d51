package io.github.affinity4j.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.testkit.LoggedRequest;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The request-log check the suites rely on: it must see a foreign pin, a pinned new chain, mixed content. */
final class PinCheckTest {
  private static final String PATH = "/openai/v1/responses";

  @Test
  void ownPins_andUnpinnedNewChainsAndReplays_pass() {
    List<LoggedRequest> log = List.of(
        request(1, null, "b1", null, "ck-a", body(1, 1), "resp_a1"),
        request(2, null, "b2", null, "ck-b", body(2, 1), "resp_b1"),
        request(3, "ck-a", "b1", "resp_a1", null, body(1, 2), "resp_a2"),
        request(4, "ck-b", "b1", "resp_b1", "ck-c", body(2, 2), null),          // re-routed: not found
        request(5, null, "b3", null, "ck-d", body(2, 1) + body(2, 2), "resp_b2"), // the replay
        request(6, "ck-d", "b3", "resp_b2", null, body(2, 3), "resp_b3"));

    PinCheck.Result result = PinCheck.check(log, Map.of("resp_a1", 1, "resp_b1", 2, "resp_a2", 1, "resp_b2", 2));

    assertThat(result.violationExamples()).isEmpty();
    assertThat(result.requests()).isEqualTo(6);
    assertThat(result.continued()).isEqualTo(3);
    assertThat(result.pinned()).isEqualTo(3);
    assertThat(result.fresh()).isEqualTo(3);
    assertThat(result.replays()).isEqualTo(1);
  }

  @Test
  void anotherConversationsPin_caught_namingWhoseItIs() {
    List<LoggedRequest> log = List.of(
        request(1, null, "b1", null, "ck-a", body(1, 1), "resp_a1"),
        request(2, null, "b1", null, "ck-b", body(2, 1), "resp_b1"),
        request(3, "ck-b", "b1", "resp_a1", null, body(1, 2), "resp_a2"));

    PinCheck.Result result = PinCheck.check(log, Map.of("resp_a1", 1, "resp_b1", 2));

    assertThat(result.violations()).isEqualTo(1);
    assertThat(result.violationExamples().get(0)).contains("another pin").contains("issued to conversation 2");
  }

  @Test
  void pinnedNewChain_mixedReplay_foreignContent_andUnknownPrevious_caught() {
    List<LoggedRequest> log = List.of(
        request(1, null, "b1", null, "ck-a", body(1, 1), "resp_a1"),
        request(2, "ck-a", "b1", null, null, body(2, 1), "resp_b1"),                // new chain, pinned
        request(3, null, "b2", null, "ck-c", body(1, 1) + body(3, 1), "resp_x"),     // replay of two
        request(4, "ck-a", "b1", "resp_a1", null, body(3, 2), "resp_y"),            // content of 3 on 1's chain
        request(5, null, "b1", "resp_never", null, body(1, 2), null));              // unknown previous

    PinCheck.Result result = PinCheck.check(log, Map.of("resp_a1", 1));

    assertThat(result.violations()).isEqualTo(4);
    assertThat(String.join("\n", result.violationExamples()))
        .contains("carried a pin").contains("mixed conversations").contains("with content of [3]")
        .contains("which no earlier request created");
  }

  @Test
  void continuedWithoutItsPin_counted() {
    List<LoggedRequest> log = List.of(
        request(1, null, "b1", null, "ck-a", body(1, 1), "resp_a1"),
        request(2, null, "b1", "resp_a1", null, body(1, 2), "resp_a2"));

    PinCheck.Result result = PinCheck.check(log, Map.of("resp_a1", 1));

    assertThat(result.violations()).isZero();
    assertThat(result.unpinnedContinuations()).isEqualTo(1);
  }

  private static LoggedRequest request(long sequence, String cookie, String backend, String previous,
      String issued, String body, String created) {
    return new LoggedRequest(sequence, "POST", PATH, cookie, backend, created == null ? 400 : 200, issued, body,
        previous, created);
  }

  private static String body(int conversation, int turn) {
    return "{\"input\":\"" + ChaosRun.marker(conversation, turn) + "\"}";
  }
}
