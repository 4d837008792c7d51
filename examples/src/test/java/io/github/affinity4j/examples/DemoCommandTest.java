package io.github.affinity4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
final class DemoCommandTest {
  // Scenario, survived, answered by b1/b2/b3, repairs, requests, as expected.
  private static final Pattern ROW = Pattern.compile(
      "(\\d) (.+?)\\s{2,}(\\d/6)\\s+(\\d+% / \\d+% / \\d+%)\\s+(\\d+)\\s+(\\d+)\\s+(.+)");

  @Test
  void demo_onEmbeddedSimulator_everyRowAsExpectedAndExit0() {
    CommandOutput result = CommandOutput.run("demo");

    assertThat(result.exitCode()).isZero();
    List<String[]> rows = rows(result);
    assertThat(rows).hasSize(4);
    // 1: the plain SDK breaks every conversation at turn 2: 6 first turns, 6 failed second turns.
    assertThat(rows.get(0)).containsExactly(
        "1", "plain SDK, no cookie", "0/6", "33% / 33% / 33%", "0", "12", "yes");
    // 2: a process-wide jar keeps them all, on one backend.
    assertThat(rows.get(1)).containsExactly(
        "2", "SDK + process-wide cookie jar", "6/6", "100% / 0% / 0%", "0", "30", "yes");
    // 3: affinity4j keeps them all, spread evenly, without a repair.
    assertThat(rows.get(2)).containsExactly(
        "3", "affinity4j", "6/6", "33% / 33% / 33%", "0", "30", "yes");
    // 4: the two conversations on the killed backend are repaired: the first to meet the loss
    // costs one extra request, the second replays at once (the backend is known lost by then),
    // unless a second passed between them on a slow machine and its turn probed the lost pin.
    assertThat(rows.get(3)).containsSequence("4", "affinity4j, backend-2 killed", "6/6");
    assertThat(rows.get(3)[4]).isEqualTo("2");
    assertThat(rows.get(3)[5]).isIn("31", "32");
    assertThat(rows.get(3)[6]).isEqualTo("yes");
    assertThat(result.out()).contains("demo: OK.").doesNotContain("UNEXPECTED");
  }

  @Test
  void demo_story_showsTheBreakTheSinglePileAndTheRepairs() {
    CommandOutput result = CommandOutput.run("demo");

    String out = result.out();
    assertThat(out.lines().filter(line -> line.contains("turn 2: previous_response_not_found")))
        .hasSize(6);
    assertThat(out.lines().filter(line -> line.contains("b1 b1 b1 b1 b1") && line.contains("context 5/5")))
        .hasSizeGreaterThanOrEqualTo(6);
    assertThat(out.lines().filter(line -> line.contains("b2 b2 | b") && line.contains("repaired at turn 3")))
        .hasSize(2)
        .allSatisfy(line -> assertThat(line).contains("* ").contains("context 5/5")
            .containsPattern("pin [0-9a-f]{8} -> [0-9a-f]{8}, repaired at turn 3 \\(4 items replayed\\)"));
    assertThat(out).contains("conversations per backend: b1 2, b2 2, b3 2.");
  }

  @Test
  void demo_runTwice_printsTheSame() {
    CommandOutput first = CommandOutput.run("demo");
    CommandOutput second = CommandOutput.run("demo");

    assertThat(second.out()).isEqualTo(first.out());
  }

  private static List<String[]> rows(CommandOutput result) {
    return result.lines().stream()
        .map(ROW::matcher)
        .filter(java.util.regex.Matcher::matches)
        .map(m -> new String[] {m.group(1), m.group(2).trim(), m.group(3), m.group(4), m.group(5),
            m.group(6), m.group(7).trim()})
        .toList();
  }
}
