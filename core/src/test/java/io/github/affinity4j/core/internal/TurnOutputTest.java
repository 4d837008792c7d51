package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
