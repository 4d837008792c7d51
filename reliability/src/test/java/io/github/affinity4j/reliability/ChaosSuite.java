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
    assertThat(report.harnessErrors).as("errors of the harness itself").isEmpty();
    assertThat(report.finishedInTime).as("the run finished in time").isTrue();
    assertThat(report.turns).isEqualTo((long) report.size.conversations * report.size.turns);
    assertThat(report.lossEpisodes).as("backends lost").isGreaterThan(0);
    assertThat(report.repairs).as("chains repaired").isGreaterThan(0);
    assertThat(report.successes).as("most turns succeed").isGreaterThan(report.turns * 8 / 10);
  }

  @Test
  void everySuccessfulTurn_sawTheWholeConversation() {
    assertThat(report.context.examples()).as("%d turns succeeded with lost context", report.context.count())
        .isEmpty();
  }

  @Test
  void everyFailedTurn_failedWithATypedExceptionThatNamesTheChainAndTheCause() {
    assertThat(report.untyped.examples()).as("%d failures not typed by the SDK", report.untyped.count()).isEmpty();
    assertThat(report.unnamed.examples())
        .as("%d failures that do not name the chain they continued, or a cause", report.unnamed.count())
        .isEmpty();
    assertThat(report.unnamedRepairFailures.examples())
        .as("%d repair failures that do not name the chain and what broke", report.unnamedRepairFailures.count())
        .isEmpty();
  }

  @Test
  void conversations_moveOnExactlyWithTheirSuccessfulTurns() {
    assertThat(report.conversationState.examples()).as("%d turns", report.conversationState.count()).isEmpty();
  }

  @Test
  void noRequest_carriedAnotherConversationsPinOrContent() {
    PinCheck.Result pins = report.pins;
    assertThat(pins.violationExamples()).as("%d requests with a foreign pin or content", pins.violations())
        .isEmpty();
    assertThat(pins.unpinnedContinuations()).as("continued requests sent without their chain's pin").isZero();
    assertThat(pins.pinned()).as("continued requests checked").isGreaterThan(0);
  }

  @Test
  void twoTenantsOnOneStore_noRequestCarriedTheOtherTenantsContentResponseIdOrPin() {
    TenantCheck.Result tenants = report.tenants;
    assertThat(tenants.violationExamples())
        .as("%d requests with no tenant's key (%d), or with the other tenant's content (%d), response id (%d)"
            + " or pin (%d)", tenants.violations(), tenants.unattributed(), tenants.foreignContent(),
            tenants.foreignResponseIds(), tenants.foreignPins())
        .isEmpty();
    for (Tenant tenant : Tenant.values()) {
      assertThat(tenants.requestsByTenant().get(tenant)).as("requests of tenant %s checked", tenant).isPositive();
      assertThat(tenants.replaysByTenant().get(tenant)).as("replays of tenant %s checked", tenant).isPositive();
    }
  }

  @Test
  void crossTenantAttempts_neverReplayedNorPinned_resumesRefused() {
    TenantCheck.Result tenants = report.tenants;
    assertThat(report.attemptLeaks.examples())
        .as("%d attempts that got any of the victim's chain", report.attemptLeaks.count()).isEmpty();
    assertThat(tenants.pinnedAttacks()).as("attempts sent with the pin of the victim's chain").isZero();
    assertThat(tenants.attacksWithForeignContent()).as("attempts sent or replayed with the victim's content")
        .isZero();
    assertThat(tenants.attackReplays()).as("attempts replayed").isZero();
    assertThat(tenants.crossTenantRequests()).as("attempts sent naming the other tenant's response").isPositive();
    assertThat(report.resumeAttempts).as("resumes of the other tenant's response tried").isPositive();
  }

  @Test
  void repairs_onlyForLostBackends_atMostOnePerTurn_andPerLossAChainMet() {
    assertThat(report.unattributedRepairs.examples()).as("%d", report.unattributedRepairs.count()).isEmpty();
    assertThat(report.unjustifiedRepairs.examples()).as("%d", report.unjustifiedRepairs.count()).isEmpty();
    assertThat(report.chainsOverRepaired.examples()).as("%d", report.chainsOverRepaired.count()).isEmpty();
  }

  @Test
  void afterTheRun_heapBounded_okHttpIdle_noThreadsLeft() {
    assertThat(report.resourceViolations()).isEmpty();
  }
}
