package io.github.affinity4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
final class MainTest {

  @Test
  void run_noCommand_saysWhichAreMissingAndReturns2() {
    CommandOutput result = CommandOutput.run();

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err()).contains("Missing command: demo or probe").contains("demo").contains("probe");
  }

  @Test
  void run_unknownCommand_returns2() {
    CommandOutput result = CommandOutput.run("benchmark");

    assertThat(result.exitCode()).isEqualTo(2);
    assertThat(result.err()).contains("benchmark");
  }

  @Test
  void run_help_listsBothCommandsAndReturns0() {
    CommandOutput result = CommandOutput.run("--help");

    assertThat(result.exitCode()).isZero();
    assertThat(result.out()).contains("demo ").contains("probe ");
  }

  @Test
  void probeHelp_listsEveryOption() {
    CommandOutput result = CommandOutput.run("probe", "--help");

    assertThat(result.exitCode()).isZero();
    assertThat(result.out()).contains("--base-url", "--api-key", "--subscription-key", "--header",
        "--entra", "--model", "--conversations", "--turns", "--stream", "--cookie-name",
        "--no-affinity4j", "--report", "--debug", "--simulator", "--backends", "--kill-backend",
        "--kill-after-turn");
  }

  @Test
  void run_version_printsTheProjectVersionFromTheBuild() {
    CommandOutput result = CommandOutput.run("--version");

    assertThat(result.exitCode()).isZero();
    String expected = System.getProperty("affinity4j.expected.version");
    assertThat(expected).as("set by the pom for Surefire").isNotBlank();
    assertThat(result.lines()).containsExactly("affinity4j-examples " + expected);
  }

  @Test
  void demoHelp_listsDebug() {
    CommandOutput result = CommandOutput.run("demo", "--help");

    assertThat(result.exitCode()).isZero();
    assertThat(result.out()).contains("--debug");
  }
}
