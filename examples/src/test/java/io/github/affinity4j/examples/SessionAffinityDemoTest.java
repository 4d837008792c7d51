package io.github.affinity4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
final class SessionAffinityDemoTest {

  @Test
  void run_onEmbeddedSimulator_showsBreakThenCookieFixThenAffinity4j() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    int exit = new SessionAffinityDemo(out).run();

    String printed = bytes.toString(StandardCharsets.UTF_8);
    assertThat(exit).isZero();
    assertThat(printed)
        .contains("turn 2 -> HTTP 400 previous_response_not_found")
        .contains("turn 5 -> ", "5 user messages in context")
        .contains("conversations per backend: {backend-1=2, backend-2=2, backend-3=2}")
        .doesNotContain("UNEXPECTED");
  }
}
