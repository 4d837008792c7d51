package io.github.affinity4j.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.testkit.PinnedBackendMode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The chaos suite's invariants, each its own test, over one {@link ChaosRun} per pinned-backend
 * mode (see the subclasses). The run happens once, before the tests; each test judges one promise
 * of RELIABILITY.md on what the run recorded. Size and seed: {@link SuiteSize}.
 */
@Tag("chaos")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ChaosSuite {
  private ChaosReport report;

  abstract PinnedBackendMode pinnedBackendMode();

  @BeforeAll
  void run() throws InterruptedException {
    SuiteSize size = SuiteSize.current();
    long seed = SuiteSize.seed();
    System.out.printf("affinity4j chaos suite (%s, %s): starting with seed %d%n", size.label(),
        pinnedBackendMode(), seed);
    report = new ChaosRun(size, seed, pinnedBackendMode()).run();
    report.publish();
  }

  @Test
  void run_everyConversationTookAllItsTurns_inTime() {
    assertThat(report.run().harnessErrors()).as("errors of the harness itself").isEmpty();
    assertThat(report.run().finishedInTime()).as("the run finished in time").isTrue();
    assertThat(report.run().turns()).hasSize(report.run().size().conversations * report.run().size().turns);
    assertThat(report.run().episodes()).as("the plan lost backends").isNotEmpty();
    assertThat(report.run().repairs()).as("some chains were repaired").isNotEmpty();
    assertThat(report.successes()).as("most turns succeed")
        .isGreaterThan(report.run().turns().size() * 8L / 10);
  }

  @Test
  void everySuccessfulTurn_sawTheWholeConversation() {
    assertThat(ChaosReport.examples(report.contextViolations())).as("turns that succeeded with lost context")
        .isEmpty();
  }

  @Test
  void everyFailedTurn_failedWithATypedExceptionThatSaysWhy() {
    assertThat(ChaosReport.examples(report.untypedFailures())).as("failures not typed by the SDK").isEmpty();
    assertThat(ChaosReport.examples(report.unnamedRepairFailures()))
        .as("repair failures that do not name the chain and what broke").isEmpty();
  }

  @Test
  void conversations_moveOnExactlyWithTheirSuccessfulTurns() {
    assertThat(ChaosReport.examples(report.conversationStateViolations())).isEmpty();
  }

  @Test
  void noRequest_carriedAnotherConversationsPinOrContent() {
    PinCheck.Result pins = report.pins();
    assertThat(pins.violationExamples()).as("%d requests with a foreign pin or content", pins.violations())
        .isEmpty();
    assertThat(pins.unpinnedContinuations()).as("continued requests sent without their chain's pin").isZero();
    assertThat(pins.pinned()).as("continued requests checked").isGreaterThan(0);
  }

  @Test
  void repairs_onlyForLostBackends_atMostOnePerTurn_andPerLossAChainMet() {
    assertThat(ChaosReport.examples(report.unattributedRepairs())).isEmpty();
    assertThat(ChaosReport.examples(report.unjustifiedRepairs())).isEmpty();
    assertThat(ChaosReport.examples(report.chainsRepairedMoreThanTheirLosses())).isEmpty();
  }

  @Test
  void afterTheRun_heapBounded_okHttpIdle_noThreadsLeft() {
    assertThat(report.resourceViolations()).isEmpty();
  }
}
