package io.github.affinity4j.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.reliability.FaultPlan.Action;
import io.github.affinity4j.reliability.FaultPlan.Kind;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The chaos suite's fault plan: the same seed gives the same plan, and every plan keeps its rules. */
final class FaultPlanTest {
  private static final List<String> BACKENDS = List.of("backend-1", "backend-2", "backend-3");

  @Test
  void sameSeed_samePlan_otherSeed_otherPlan() {
    assertThat(FaultPlan.generate(7, 1_200, BACKENDS).actions())
        .isEqualTo(FaultPlan.generate(7, 1_200, BACKENDS).actions());
    assertThat(FaultPlan.generate(7, 1_200, BACKENDS).actions())
        .isNotEqualTo(FaultPlan.generate(8, 1_200, BACKENDS).actions());
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 2, 3, 42, -5, 123_456_789, Long.MIN_VALUE, Long.MAX_VALUE})
  void anyPlan_keepsItsRules(long seed) {
    for (long turns : new long[] {1_200, 10_000}) {
      FaultPlan plan = FaultPlan.generate(seed, turns, BACKENDS);
      assertThat(plan.counts()).containsKeys(Kind.KILL, Kind.RATE_LIMIT, Kind.CUT_STREAM, Kind.SLOW);
      assertThat(plan.actions()).isSortedAccordingTo((a, b) -> Long.compare(a.atTurn(), b.atTurn()));
      assertThat(plan.actions()).allSatisfy(action -> assertThat(action.atTurn()).isBetween(1L, turns));
      checkLosses(plan.actions());
    }
  }

  @Test
  void shortRunsOrSmallPools_refused() {
    assertThatThrownBy(() -> FaultPlan.generate(1, 99, BACKENDS)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> FaultPlan.generate(1, 1_000, List.of("a", "b")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Replays the plan: at most two backends lost at once, one breaker episode at a time, a loss
   * ended only once begun, every loss ended, and no 429 burst on a backend whose breaker is being
   * tripped (it would replace the 500s).
   */
  private static void checkLosses(List<Action> actions) {
    Map<String, Kind> lost = new HashMap<>();
    Set<String> tripping = new HashSet<>();
    List<String> problems = new ArrayList<>();
    for (Action action : actions) {
      switch (action.kind()) {
        case KILL, TRIP_BREAKER -> {
          if (lost.containsKey(action.backend())) {
            problems.add("lost twice: " + action);
          }
          if (action.kind() == Kind.TRIP_BREAKER && !tripping.isEmpty()) {
            problems.add("two breakers at once: " + action);
          }
          lost.put(action.backend(), action.kind());
          if (action.kind() == Kind.TRIP_BREAKER) {
            tripping.add(action.backend());
          }
          if (lost.size() > 2) {
            problems.add("three backends lost: " + action);
          }
        }
        case REVIVE, CLOSE_BREAKER -> {
          Kind begun = lost.remove(action.backend());
          Kind expected = action.kind() == Kind.REVIVE ? Kind.KILL : Kind.TRIP_BREAKER;
          if (begun != expected) {
            problems.add("ended what was not begun: " + action);
          }
          tripping.remove(action.backend());
        }
        case RATE_LIMIT -> {
          if (tripping.contains(action.backend())) {
            problems.add("429s over a breaker's 500s: " + action);
          }
        }
        default -> { }
      }
    }
    assertThat(problems).isEmpty();
    assertThat(lost).as("losses never ended").isEmpty();
  }
}
