package io.github.affinity4j.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.testkit.LoggedRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The request-log check of the two-tenant chaos run: it must see the other tenant's content, its
 * response ids outside an attempt, and its chains' pins, and must not mistake a cookie value both
 * tenants were given for a leak. Conversations 0 to 2 are tenant A's, 3 to 5 tenant B's.
 */
final class TenantCheckTest {
  private static final String PATH = "/openai/v1/responses?" + Tenant.TAG_PARAMETER + "=";

  @Test
  void ownTurnsAndReplays_andAnUnpinnedAttempt_pass() {
    List<LoggedRequest> log = List.of(
        request(1, Tenant.A, null, null, "ck-1", turn(0, 1), "resp_a1"),
        request(2, Tenant.B, null, null, "ck-2", turn(3, 1), "resp_b1"),
        request(3, Tenant.A, "ck-1", "resp_a1", null, turn(0, 2), "resp_a2"),
        request(4, Tenant.B, "ck-2", "resp_b1", "ck-3", turn(3, 2), null),                  // re-routed: not found
        request(5, Tenant.B, null, null, "ck-4", turn(3, 1) + turn(3, 2), "resp_b2"),        // the replay
        request(6, Tenant.B, null, "resp_a2", "ck-5", Tenant.B.attackText(1), null));       // an attempt, unpinned

    TenantCheck.Result result = TenantCheck.check(log);

    assertThat(result.violationExamples()).isEmpty();
    assertThat(result.requests()).isEqualTo(6);
    assertThat(result.requestsByTenant()).containsEntry(Tenant.A, 2L).containsEntry(Tenant.B, 4L);
    assertThat(result.replaysByTenant()).containsEntry(Tenant.A, 0L).containsEntry(Tenant.B, 1L);
    assertThat(result.crossTenantRequests()).isEqualTo(1);
  }

  @Test
  void cookieValueBoundForBothTenants_continuingOwnChain_passes() {
    // A gateway may issue one value per backend: both tenants' chains are then bound to it.
    List<LoggedRequest> log = List.of(
        request(1, Tenant.A, null, null, "ck-1", turn(0, 1), "resp_a1"),
        request(2, Tenant.B, null, null, "ck-1", turn(3, 1), "resp_b1"),
        request(3, Tenant.B, "ck-1", "resp_b1", null, turn(3, 2), "resp_b2"),
        request(4, Tenant.A, "ck-1", "resp_a1", null, turn(0, 2), "resp_a2"));

    TenantCheck.Result result = TenantCheck.check(log);

    assertThat(result.violationExamples()).isEmpty();
  }

  @Test
  void otherTenantsContent_inAReplayedAttempt_caught() {
    List<LoggedRequest> log = List.of(
        request(1, Tenant.A, null, null, "ck-1", turn(0, 1), "resp_a1"),
        request(2, Tenant.B, null, "resp_a1", "ck-2", Tenant.B.attackText(1), null),
        request(3, Tenant.B, null, null, "ck-3", turn(0, 1) + Tenant.B.attackText(1), "resp_x"));

    TenantCheck.Result result = TenantCheck.check(log);

    assertThat(result.foreignContent()).isEqualTo(1);
    assertThat(result.attacksWithForeignContent()).isEqualTo(1);
    assertThat(result.attackReplays()).isEqualTo(1);
    assertThat(result.violationExamples()).singleElement().asString()
        .contains("tenant B's key held tenant A's content").contains("replayed");
  }

  @Test
  void attemptCarryingThePinOfTheVictimsChain_caught() {
    List<LoggedRequest> log = List.of(
        request(1, Tenant.A, null, null, "ck-1", turn(0, 1), "resp_a1"),
        request(2, Tenant.B, "ck-1", "resp_a1", null, Tenant.B.attackText(1), "resp_x"));

    TenantCheck.Result result = TenantCheck.check(log);

    assertThat(result.foreignPins()).isEqualTo(1);
    assertThat(result.pinnedAttacks()).isEqualTo(1);
    assertThat(result.violationExamples()).singleElement().asString().contains("its bound pin exactly");
  }

  @Test
  void otherTenantsResponseIdOutsideAnAttempt_andAPinBoundOnlyForTheOtherTenant_caught() {
    List<LoggedRequest> log = List.of(
        request(1, Tenant.A, null, null, "ck-1", turn(0, 1), "resp_a1"),
        request(2, Tenant.B, null, null, "ck-2", turn(3, 1), "resp_b1"),
        request(3, Tenant.B, null, "resp_a1", null, Tenant.B.resumedText(1), "resp_y"),    // a resumed conversation
        request(4, Tenant.B, "ck-1", "resp_b1", null, turn(3, 2), "resp_b2"));             // A's pin on B's chain

    TenantCheck.Result result = TenantCheck.check(log);

    assertThat(result.foreignResponseIds()).isEqualTo(1);
    assertThat(result.foreignPins()).isEqualTo(1);
    assertThat(String.join("\n", result.violationExamples()))
        .contains("outside a cross-tenant attempt").contains("bound only for tenant A's chains");
  }

  @Test
  void requestWithNoTenantsKey_caught() {
    List<LoggedRequest> log = List.of(
        new LoggedRequest(1, "POST", PATH + "none", null, "b1", 200, "ck-1", turn(0, 1), null, "resp_a1"),
        new LoggedRequest(2, "POST", "/openai/v1/responses", null, "b1", 200, "ck-2", turn(0, 1), null, "resp_a2"));

    TenantCheck.Result result = TenantCheck.check(log);

    assertThat(result.unattributed()).isEqualTo(2);
  }

  @Test
  void tagger_labelsTheKeyOnTheWire() {
    assertThat(Tenant.ofCredential("Bearer " + Tenant.B.apiKey())).contains(Tenant.B);
    assertThat(Tenant.ofCredential(Tenant.A.apiKey())).contains(Tenant.A);
    assertThat(Tenant.ofCredential("Bearer someone-else")).isEmpty();
    assertThat(Tenant.taggedIn(PATH + "A")).contains(Tenant.A);
    assertThat(Tenant.taggedIn(PATH + "mixed")).isEmpty();
    assertThat(Tenant.pathOf(PATH + "B")).isEqualTo("/openai/v1/responses");
  }

  private static LoggedRequest request(long sequence, Tenant tenant, String cookie, String previous,
      String issued, String body, String created) {
    return new LoggedRequest(sequence, "POST", PATH + tenant, cookie, "b1", created == null ? 400 : 200, issued,
        body, previous, created);
  }

  private static String turn(int conversation, int turn) {
    return "{\"input\":\"" + ChaosRun.marker(conversation, turn) + "\"}";
  }
}
