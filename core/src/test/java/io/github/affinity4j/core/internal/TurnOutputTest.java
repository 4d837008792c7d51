package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainKey;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class TurnOutputTest {

  private static final String OUTPUT = "[{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[]},"
      + "{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\","
      + "\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\",\"annotations\":[]}]}]";

  @Test
  void fromResponseBody_response_readsIdStatusAndOutputInAnyOrder() {
    TurnOutput output = parse("{\"output\": " + OUTPUT.replace(",", ", ") + ", \"usage\":{\"total\":3},"
        + "\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"instructions\":\"x\"}").orElseThrow();

    assertThat(output.responseId()).isEqualTo("resp_1");
    assertThat(output.status()).contains("completed");
    assertThat(text(output.items())).as("as sent, spaces included").isEqualTo(OUTPUT.replace(",", ", "));
    assertThat(output.isContinuable()).isTrue();
    assertThat(output.toString()).doesNotContain("Hi").contains("resp_1");
  }

  @Test
  void isContinuable_onlyFinishedResponses() {
    for (String status : new String[] {"completed", "incomplete"}) {
      assertThat(TurnOutput.of("resp_1", status, bytes("[]")).isContinuable()).as(status).isTrue();
    }
    assertThat(TurnOutput.of("resp_1", null, bytes("[]")).isContinuable()).isTrue();
    for (String status : new String[] {"queued", "in_progress", "failed", "cancelled"}) {
      assertThat(TurnOutput.of("resp_1", status, bytes("[]")).isContinuable()).as(status).isFalse();
    }
  }

  @Test
  void fromResponseBody_notAResponse_empty() {
    assertThat(parse("{\"id\":\"conv_1\",\"object\":\"conversation\",\"output\":[]}")).isEmpty();
    assertThat(parse("{\"id\":\"resp_1\",\"object\":\"response\"}")).as("no output").isEmpty();
    assertThat(parse("{\"id\":\"resp 1\",\"output\":[]}")).as("bad id").isEmpty();
    assertThat(parse("{\"output\":[]}")).as("no id").isEmpty();
    assertThat(parse("{\"id\":\"resp_1\",\"output\":[")).as("truncated").isEmpty();
    assertThat(parse("[]")).isEmpty();
    assertThat(parse("<html>")).isEmpty();
  }

  @Test
  void of_badArguments_throw() {
    assertThatThrownBy(() -> TurnOutput.of("", null, bytes("[]"))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TurnOutput.of("resp_1", null, null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void chainOf_responseObject_returnsResponseKey() {
    assertThat(chainOf("{\"id\":\"resp_2\",\"object\":\"response\",\"output\":[{\"id\":\"msg_1\","
        + "\"type\":\"message\"}],\"conversation\":{\"id\":\"conv_1\"}}"))
        .contains(ChainKey.response("resp_2"));
    assertThat(chainOf("{\"output\":[{\"id\":\"msg_1\"}],\"object\":\"response\",\"id\":\"resp_2\"}"))
        .contains(ChainKey.response("resp_2"));
  }

  @Test
  void chainOf_conversationAndThreadObjects_returnTheirKeys() {
    assertThat(chainOf("{\"id\":\"conv_1\",\"object\":\"conversation\",\"metadata\":{}}"))
        .contains(ChainKey.conversation("conv_1"));
    assertThat(chainOf("{\"id\":\"thread_1\",\"object\":\"thread\"}"))
        .contains(ChainKey.thread("thread_1"));
    assertThat(chainOf("{\"id\":\"run_1\",\"object\":\"thread.run\",\"thread_id\":\"thread_2\"}"))
        .contains(ChainKey.thread("thread_2"));
  }

  @Test
  void chainOf_noObject_kindFromIdPrefix() {
    assertThat(chainOf("{\"id\":\"resp_1\"}")).contains(ChainKey.response("resp_1"));
    assertThat(chainOf("{\"id\":\"conv_1\"}")).contains(ChainKey.conversation("conv_1"));
    assertThat(chainOf("{\"id\":\"thread_1\"}")).contains(ChainKey.thread("thread_1"));
    assertThat(chainOf("{\"id\":\"msg_1\",\"type\":\"message\"}")).isEmpty();
  }

  @Test
  void chainOf_noChain_returnsEmpty() {
    assertThat(chainOf("{\"object\":\"response\",\"status\":\"completed\"}")).isEmpty();
    assertThat(chainOf("{\"object\":\"list\",\"data\":[{\"id\":\"msg_1\"}]}")).isEmpty();
    assertThat(chainOf("{\"id\":\"resp_1\",\"object\":\"response.deleted\",\"deleted\":true}"))
        .isEmpty();
    assertThat(chainOf("{\"id\":\"run_1\",\"object\":\"thread.run\"}")).isEmpty();
    assertThat(chainOf("{\"error\":{\"message\":\"Previous response with id 'resp_1' not found.\","
        + "\"code\":\"previous_response_not_found\"}}")).isEmpty();
    assertThat(chainOf("{\"id\":42,\"object\":\"response\"}")).isEmpty();
    assertThat(chainOf("{\"id\":\"" + "r".repeat(257) + "\",\"object\":\"response\"}")).isEmpty();
  }

  @Test
  void chainOf_notJson_returnsEmpty() {
    assertThat(chainOf("")).isEmpty();
    assertThat(chainOf("<html>502 Bad Gateway</html>")).isEmpty();
    assertThat(chainOf("[\"resp_1\"]")).isEmpty();
    assertThat(chainOf("{\"id\":\"resp_1\"")).isEmpty(); // truncated before object is known
  }

  @Test
  void chainOf_answerKnown_stopsReading() {
    // Garbage after the first two fields is never parsed: the scan stops once both are read.
    assertThat(chainOf("{\"id\":\"resp_3\",\"object\":\"response\",\"output\":[ not json at all"))
        .contains(ChainKey.response("resp_3"));
  }

  static Optional<ChainKey> chainOf(String body) {
    byte[] bytes = bytes(body);
    return TurnOutput.chainOf(bytes, 0, bytes.length);
  }

  private static Optional<TurnOutput> parse(String json) {
    byte[] body = bytes(json);
    return TurnOutput.fromResponseBody(body, 0, body.length);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
