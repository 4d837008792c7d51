package io.github.affinity4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@code probe --simulator}: the probe on an embedded APIM simulator, no gateway, no key. */
@Timeout(60)
final class ProbeSimulatorTest {
  private static final Pattern SUMMARY = Pattern.compile(
      "probe: conversations=(\\d+) survived=(\\d+) turns_ok=(\\d+) turns_failed=(\\d+) "
          + "repairs=(\\d+) backends=(.*)");
  private static final Pattern TURN = Pattern.compile(
      "conversation=(\\d+) turn=(\\d+) status=(\\S+) region=(\"[^\"]*\"|\\S+) .* repaired=(yes|no)"
          + "(?: items_replayed=\\d+)? latency_ms=\\d+(?: error=(\\S+) detail=.*)?");

  @Test
  void simulator_sixConversationsThreeTurns_everyOneSurvivesSpread_exit0() {
    CommandOutput result = CommandOutput.run("probe", "--simulator", "--conversations", "6",
        "--turns", "3");

    assertThat(result.exitCode()).isZero();
    Summary summary = summary(result);
    assertThat(summary.conversations).isEqualTo(6);
    assertThat(summary.survived).isEqualTo(6);
    assertThat(summary.turnsOk).isEqualTo(18);
    assertThat(summary.turnsFailed).isZero();
    assertThat(summary.repairs).isZero();
    assertThat(summary.backends).isEqualTo(Map.of("East US", 6, "West US", 6, "Sweden Central", 6));
    assertThat(result.out()).contains("conversations=6 survived=6");
    assertThat(result.linesStartingWith("# simulator: 3 backends")).hasSize(1);
  }

  @Test
  void simulator_backendKilledAfterTurn1_affinity4jRepairsTheConversationsItHeld_exit0() {
    CommandOutput result = CommandOutput.run("probe", "--simulator", "--conversations", "6",
        "--turns", "3", "--kill-backend", "2");

    assertThat(result.exitCode()).isZero();
    Summary summary = summary(result);
    assertThat(summary.survived).isEqualTo(6);
    // Round-robin put conversations 2 and 5 on backend-2 (West US): each repaired once, at turn 2,
    // and West US answered only their first turns.
    assertThat(summary.repairs).isEqualTo(2);
    assertThat(summary.backends).containsEntry("West US", 2);
    List<Matcher> repaired = turns(result).stream().filter(t -> t.group(5).equals("yes")).toList();
    assertThat(repaired).extracting(t -> t.group(1) + "/" + t.group(2)).containsExactly("2/2", "5/2");
    assertThat(result.out()).contains("# simulator: backend-2 killed");
  }

  @Test
  void simulator_noAffinity4jBackendKilled_reportsLostConversations_exit1() {
    CommandOutput result = CommandOutput.run("probe", "--simulator", "--no-affinity4j",
        "--conversations", "6", "--turns", "3", "--kill-backend", "2");

    assertThat(result.exitCode()).isEqualTo(1);
    Summary summary = summary(result);
    // Without a cookie each turn goes where round-robin sends it: a conversation survives only
    // while that happens to be the backend holding its chain; the others are lost, none repaired.
    assertThat(summary.survived).isLessThan(6);
    assertThat(summary.turnsFailed).isEqualTo(6 - summary.survived);
    assertThat(summary.repairs).isZero();
    List<Matcher> turns = turns(result);
    assertThat(turns).hasSize(summary.turnsOk + summary.turnsFailed);
    assertThat(turns).filteredOn(t -> t.group(6) != null).hasSize(summary.turnsFailed)
        .allSatisfy(t -> assertThat(t.group(6)).isEqualTo("previous_response_not_found"));
  }

  @Test
  void simulator_twoBackends_spreadsOverTwoRegions() {
    CommandOutput result = CommandOutput.run("probe", "--simulator", "--backends", "2",
        "--conversations", "4", "--turns", "2");

    assertThat(result.exitCode()).isZero();
    assertThat(summary(result).backends).isEqualTo(Map.of("East US", 4, "West US", 4));
  }

  @Test
  void simulator_optionsThatDoNotGoTogether_exit2() {
    List<CommandOutput> results = List.of(
        CommandOutput.run("probe", "--simulator", "--base-url", "http://127.0.0.1:1/openai/v1"),
        CommandOutput.run("probe", "--kill-backend", "1", "--base-url", "http://127.0.0.1:1/v1",
            "--api-key", "k-123"),
        CommandOutput.run("probe", "--simulator", "--kill-backend", "4"),
        CommandOutput.run("probe", "--simulator", "--backends", "31"),
        CommandOutput.run("probe", "--simulator", "--turns", "2", "--kill-backend", "1",
            "--kill-after-turn", "2"),
        CommandOutput.run("probe", "--simulator", "--kill-after-turn", "1"),
        CommandOutput.run("probe", "--api-key", "k-123"));

    assertThat(results).allSatisfy(result -> {
      assertThat(result.exitCode()).isEqualTo(2);
      assertThat(result.out()).doesNotContain("probe: conversations=");
    });
  }

  // --- helpers ---

  private record Summary(int conversations, int survived, int turnsOk, int turnsFailed, int repairs,
      Map<String, Integer> backends) {}

  private static Summary summary(CommandOutput result) {
    List<String> lines = result.lines();
    Matcher m = SUMMARY.matcher(lines.get(lines.size() - 1));
    assertThat(m.matches()).as(lines.get(lines.size() - 1)).isTrue();
    Map<String, Integer> backends = new TreeMap<>();
    if (!m.group(6).isEmpty()) {
      for (String entry : m.group(6).split(",")) {
        int colon = entry.lastIndexOf(':');
        backends.put(entry.substring(0, colon), Integer.parseInt(entry.substring(colon + 1)));
      }
    }
    return new Summary(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
        Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)),
        backends);
  }

  private static List<Matcher> turns(CommandOutput result) {
    List<Matcher> turns = new ArrayList<>();
    for (String line : result.linesStartingWith("conversation=")) {
      Matcher matcher = TURN.matcher(line);
      assertThat(matcher.matches()).as(line).isTrue();
      turns.add(matcher);
    }
    return turns;
  }
}
