package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainBreak.Kind;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.ErrorFixtures;
import io.github.affinity4j.core.FreshBackendRules;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.RepairDecision.Action;
import io.github.affinity4j.testsupport.LogCapture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class EngineRepairTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");

  private static final byte[] NOT_FOUND = ErrorFixtures.load("previous_response_not_found.json").body();
  private static final byte[] BREAKER_OPEN = ErrorFixtures.load("breaker_open_503.json").body();
  private static final byte[] RATE_LIMITED = ErrorFixtures.load("rate_limited_429.json").body();
  private static final byte[] CONVERSATION_NOT_FOUND = ErrorFixtures.load("conversation_not_found.json").body();
  private static final byte[] ITEM_NOT_FOUND = ErrorFixtures.load("item_not_found_store_false.json").body();

  private static final AffinityToken PIN_A = pin("backend-a", "eastus");
  private static final AffinityToken PIN_B = pin("backend-b", "swedencentral");

  private final MutableClock clock = new MutableClock();
  private final RecordingListener events = new RecordingListener();
  private final CaffeineHistoryJournal journal = CaffeineHistoryJournal.builder().executor(Runnable::run).build();
  private final Engine repairer = Engine.builder()
      .journal(journal)
      .listener(events)
      .clock(clock)
      .build();

  @Test
  void notFound_retryThenReplay_retriesOnceOnSamePinThenReplaysWholeHistory() throws IOException {
    twoTurns();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"And the third?\"")), PIN_A, ChainScope.NONE);

    RepairDecision retry = turn.decide(400, NOT_FOUND);
    assertThat(retry.action()).isEqualTo(Action.RETRY);
    assertThat(retry.pause()).isEqualTo(Duration.ofMillis(500));
    assertThat(retry.cause()).map(ChainBreak::kind).contains(Kind.PREVIOUS_RESPONSE_NOT_FOUND);

    RepairDecision replay = turn.decide(400, NOT_FOUND);
    assertThat(replay.action()).isEqualTo(Action.REPLAY);
    assertThat(turn.isReplay()).isTrue();
    JsonNode body = MAPPER.readTree(replay.replayBody());
    assertThat(body.has("previous_response_id")).isFalse();
    assertThat(body.get("input")).hasSize(5);
    assertThat(body.get("input").get(4).get("content").asText()).isEqualTo("And the third?");
    assertThat(replay.itemsReplayed()).isEqualTo(4);
    assertThat(replay.replayBytes()).isEqualTo(replay.replayBody().length);
    FreshBackendRules.assertAccepted(replay.replayBody());

    clock.advance(Duration.ofMillis(1234));
    turn.succeeded(PIN_B, PIN_B.routing());
    turn.record(output("resp_3x", "Third."));

    ChainHistory history = journal.history(ChainKey.response("resp_3x"));
    assertThat(history.isComplete()).as("the new id links to the old chain").isTrue();
    assertThat(history.turns()).isEqualTo(3);
    assertThat(events.lines).containsExactly(
        "started response:resp_2 PREVIOUS_RESPONSE_NOT_FOUND",
        "repaired response:resp_2 PREVIOUS_RESPONSE_NOT_FOUND replayed=true " + PIN_A.fingerprint() + " eastus -> "
            + PIN_B.fingerprint() + " swedencentral items=4 bytes=" + replay.replayBytes() + " PT1.234S");
    assertThat(repairer.repairStats()).isEqualTo(new RepairStats(1, 1, 1, 1, 1, 0,
        Map.of(Kind.PREVIOUS_RESPONSE_NOT_FOUND, 1L)));
  }

  @Test
  void notFound_retrySucceeds_noReplayTurnRecordedOnItsOwnParent() {
    twoTurns();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);

    assertThat(turn.decide(400, NOT_FOUND).action()).isEqualTo(Action.RETRY);
    turn.succeeded(PIN_A, RoutingInfo.EMPTY);
    turn.record(output("resp_3", "Fine."));

    assertThat(turn.isReplay()).isFalse();
    assertThat(journal.history(ChainKey.response("resp_3")).turns()).isEqualTo(3);
    assertThat(events.lines).hasSize(2).last().asString().contains("replayed=false").contains("items=0");
    assertThat(repairer.repairStats().replays()).isZero();
    assertThat(repairer.repairStats().repairsSucceeded()).isEqualTo(1);
  }

  @Test
  void notFound_reroutedByGateway_replaysAtOnceWithoutRetry() {
    twoTurns();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);

    RepairDecision decision = turn.decide(400, NOT_FOUND, true);

    assertThat(decision.action()).isEqualTo(Action.REPLAY);
    assertThat(repairer.repairStats().retries()).isZero();
    assertThat(repairer.repairStats().replays()).isEqualTo(1);
  }

  @Test
  void backendUnavailable_pinnedChain_replaysAtOnce() {
    twoTurns();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);

    RepairDecision decision = turn.decide(503, BREAKER_OPEN);

    assertThat(decision.action()).isEqualTo(Action.REPLAY);
    assertThat(decision.cause()).map(ChainBreak::kind).contains(Kind.BACKEND_UNAVAILABLE);
    assertThat(repairer.repairStats().retries()).isZero();
    assertThat(repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), null, ChainScope.NONE).decide(503, BREAKER_OPEN).action())
        .as("unpinned: the gateway chose, the SDK retries").isEqualTo(Action.NONE);
  }

  @Test
  void connectionFailure_pinnedChainRetriedAtOnceThenReplayedUnpinnedPassesOn() {
    twoTurns();

    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);
    RepairDecision retry = turn.decideConnectionFailure();
    assertThat(retry.action()).as("a closed pooled connection says nothing about the backend").isEqualTo(Action.RETRY);
    assertThat(retry.pause()).isZero();
    assertThat(turn.decideConnectionFailure().action()).as("failed again: replay").isEqualTo(Action.REPLAY);
    RepairDecision failed = turn.decideConnectionFailure();
    assertThat(failed.action()).isEqualTo(Action.FAIL);
    assertFailedNote(failed, "resp_2", Kind.BACKEND_UNAVAILABLE);
    assertThat(failed.errorBody()).isEmpty();
    assertThat(repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), null, ChainScope.NONE).decideConnectionFailure().action())
        .isEqualTo(Action.NONE);

    RepairStats before = repairer.repairStats();
    int eventsBefore = events.lines.size();
    ChainTurn healed = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);
    healed.decideConnectionFailure();
    healed.succeeded(PIN_A, RoutingInfo.EMPTY);
    assertThat(healed.isReplay()).isFalse();
    assertThat(repairer.repairStats()).as("a connection retry that works is no break and no repair").isEqualTo(before);
    assertThat(events.lines).hasSize(eventsBefore);
    assertThat(repairer.toBuilder().repairPolicy(RepairPolicy.REPLAY).build()
        .repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE).decideConnectionFailure().action())
        .as("REPLAY: at once, for every kind of break").isEqualTo(Action.REPLAY);
  }

  @Test
  void replayPolicy_notFound_replaysWithoutRetry() {
    twoTurns();
    Engine replaying = repairer.toBuilder().repairPolicy(RepairPolicy.REPLAY).build();

    assertThat(replaying.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE).decide(400, NOT_FOUND).action())
        .isEqualTo(Action.REPLAY);
    assertThat(replaying.journal()).isSameAs(journal);
  }

  @Test
  void failPolicy_errorNamesTheChainAndTheBreakNoRequestReplayed() throws IOException {
    twoTurns();
    Engine failing = repairer.toBuilder().repairPolicy(RepairPolicy.FAIL).build();
    ChainTurn turn = failing.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);

    RepairDecision decision = turn.decide(400, NOT_FOUND);

    assertThat(decision.action()).isEqualTo(Action.FAIL);
    assertThat(decision.cause()).map(ChainBreak::kind).contains(Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertFailedNote(decision, "resp_2", Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    JsonNode error = MAPPER.readTree(decision.errorBody().orElseThrow()).get("error");
    assertThat(error.get("message").asText()).as("the original message, the note's appended")
        .isEqualTo(MAPPER.readTree(NOT_FOUND).at("/error/message").asText() + " (" + decision.message() + ")");
    assertThat(error.get("code").asText()).isEqualTo("previous_response_not_found");
    assertThatThrownBy(decision::replayBody).isInstanceOf(IllegalStateException.class);
    assertThat(turn.decide(400, NOT_FOUND).note()).map(ChainNote::reason).contains(ChainNote.Reason.ALREADY_REPAIRED);
    assertThat(events.lines).containsExactly("failed response:resp_2 PREVIOUS_RESPONSE_NOT_FOUND " + decision.message());
    assertThat(failing.repairStats()).isEqualTo(new RepairStats(1, 0, 0, 0, 0, 1, Map.of(Kind.PREVIOUS_RESPONSE_NOT_FOUND, 1L)));

    RepairDecision apim = failing.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE).decide(503, BREAKER_OPEN);
    assertFailedNote(apim, "resp_2", Kind.BACKEND_UNAVAILABLE);
    assertThat(MAPPER.readTree(apim.errorBody().orElseThrow()).get("message").asText())
        .isEqualTo(MAPPER.readTree(BREAKER_OPEN).get("message").asText() + " (" + apim.message() + ")");
  }

  @Test
  void failPolicy_journalsNothing() {
    CaffeineHistoryJournal empty = CaffeineHistoryJournal.builder().executor(Runnable::run).build();
    Engine failing = repairer.toBuilder().journal(empty).repairPolicy(RepairPolicy.FAIL).build();

    failing.repairTurn(bytes(request(null, "\"One\"")), null, ChainScope.NONE).record(output("resp_1", "Uno"));
    failing.recordConversation(bytes("{\"items\":[]}"), ChainKey.conversation("conv_1"), ChainScope.NONE);

    assertThat(failing.journals()).isFalse();
    assertThat(repairer.journals()).isTrue();
    assertThat(empty.estimatedSize()).isZero();
  }

  @Test
  void historyMissing_failsPreciselyAfterOneRetryAndNoMore() {
    twoTurns();
    journal.clear();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);

    assertThat(turn.decide(400, NOT_FOUND).action()).as("the one extra request").isEqualTo(Action.RETRY);
    RepairDecision decision = turn.decide(400, NOT_FOUND);

    assertThat(decision.action()).isEqualTo(Action.FAIL);
    assertFailedNote(decision, "resp_2", Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertThat(journal.history(ChainKey.response("resp_2")).status()).isEqualTo(ChainHistory.Status.MISSING_LINK);
    assertThat(turn.decide(400, NOT_FOUND).action()).isEqualTo(Action.NONE);
    assertThat(repairer.repairStats()).isEqualTo(new RepairStats(1, 1, 1, 0, 0, 1, Map.of(Kind.PREVIOUS_RESPONSE_NOT_FOUND, 1L)));
  }

  @Test
  void historyWithHole_failNamesTheMissingLink() {
    journal.record(JournalTurn.builder().responseId("resp_2").previousResponseId("resp_1")
        .input(bytes("[]")).output(bytes("[]")).build());

    RepairDecision decision = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE).decide(503, BREAKER_OPEN);

    assertThat(decision.action()).isEqualTo(Action.FAIL);
    assertFailedNote(decision, "resp_2", Kind.BACKEND_UNAVAILABLE);
    ChainHistory history = journal.history(ChainKey.response("resp_2"));
    assertThat(history.link()).contains(ChainKey.response("resp_1"));
    assertThat(history.turns()).isEqualTo(1);
    assertThat(decision.note().orElseThrow().detail()).as("names the missing link").contains("resp_1");
  }

  @Test
  void replayFails_failsOnceThenPassesOn() {
    twoTurns();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);
    assertThat(turn.decide(503, BREAKER_OPEN).action()).isEqualTo(Action.REPLAY);

    RepairDecision failed = turn.decide(503, BREAKER_OPEN);

    assertThat(failed.action()).isEqualTo(Action.FAIL);
    assertFailedNote(failed, "resp_2", Kind.BACKEND_UNAVAILABLE);
    assertThat(turn.decide(503, BREAKER_OPEN).action()).isEqualTo(Action.NONE);
    assertThat(turn.decide(400, NOT_FOUND).action()).isEqualTo(Action.NONE);
    assertThat(repairer.repairStats().replays()).isEqualTo(1);
    assertThat(repairer.repairStats().repairsFailed()).isEqualTo(1);
  }

  @Test
  void retryAnsweredSomethingElse_failsNamingTheChain() throws IOException {
    twoTurns();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);
    turn.decide(400, NOT_FOUND);

    RepairDecision failed = turn.decide(429, RATE_LIMITED);

    assertThat(failed.action()).isEqualTo(Action.FAIL);
    assertThat(failed.cause()).map(ChainBreak::kind).contains(Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertFailedNote(failed, "resp_2", Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertThat(errorMessage(failed))
        .isEqualTo(MAPPER.readTree(RATE_LIMITED).at("/error/message").asText() + " (" + failed.message() + ")");
    assertThat(repairer.repairStats().repairsFailed()).isEqualTo(1);
    assertThat(events.lines).last().isEqualTo("failed response:resp_2 PREVIOUS_RESPONSE_NOT_FOUND " + failed.message());
  }

  @Test
  void rateLimited429_notABreakNothingCountedErrorNamesTheChain() throws IOException {
    twoTurns();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);

    RepairDecision decision = turn.decide(429, RATE_LIMITED);

    assertThat(decision.action()).isEqualTo(Action.NONE);
    assertThat(decision.cause()).isEmpty();
    ChainNote note = decision.note().orElseThrow();
    assertThat(note.chain()).isEqualTo(ChainKey.response("resp_2"));
    assertThat(note.reason()).isEqualTo(ChainNote.Reason.NOT_A_BREAK);
    assertThat(note.brokenBy()).isEmpty();
    assertThat(decision.message()).isEqualTo(note.getMessage());
    JsonNode amended = MAPPER.readTree(decision.errorBody().orElseThrow());
    JsonNode original = MAPPER.readTree(RATE_LIMITED);
    assertThat(amended.at("/error/message").asText())
        .isEqualTo(original.at("/error/message").asText() + " (" + decision.message() + ")");
    assertThat(amended.at("/error/code").asText()).isEqualTo("429");
    assertThat(turn.decide(200, new byte[0])).isSameAs(RepairDecision.NONE);
    assertThat(repairer.repairStats().breaks()).isZero();
    assertThat(events.lines).isEmpty();
  }

  @Test
  void newChain_errorOrConnectionFailure_nothingToName() {
    ChainTurn turn = repairer.repairTurn(bytes("{\"model\":\"gpt-4.1\",\"input\":\"Hi\"}"), null, ChainScope.NONE);

    assertThat(turn.decide(429, RATE_LIMITED)).isSameAs(RepairDecision.NONE);
    assertThat(turn.decideConnectionFailure()).isSameAs(RepairDecision.NONE);
    assertThat(turn.brokeOff()).isEmpty();
  }

  @Test
  void connectionFailure_unpinned_notedNotABreak() {
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), null, ChainScope.NONE);

    RepairDecision decision = turn.decideConnectionFailure();

    assertThat(decision.action()).isEqualTo(Action.NONE);
    assertThat(decision.errorBody()).isEmpty();
    ChainNote note = decision.note().orElseThrow();
    assertThat(note.chain()).isEqualTo(ChainKey.response("resp_2"));
    assertThat(note.reason()).isEqualTo(ChainNote.Reason.NOT_A_BREAK);
    assertThat(note.brokenBy()).isEmpty();
    assertThat(repairer.repairStats().breaks()).isZero();
  }

  @Test
  void brokeOff_namesTheChainAsBrokeOff() {
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);

    ChainNote note = turn.brokeOff().orElseThrow();

    assertThat(note.chain()).isEqualTo(ChainKey.response("resp_2"));
    assertThat(note.reason()).isEqualTo(ChainNote.Reason.BROKE_OFF);
    assertThat(note.brokenBy()).isEmpty();
    assertThat(note.getStackTrace()).isEmpty();
  }

  @Test
  void afterItsRepair_furtherErrorsStillNameTheChain() {
    twoTurns();
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);
    turn.decide(400, NOT_FOUND);
    turn.decide(400, NOT_FOUND);
    turn.succeeded(PIN_B, RoutingInfo.EMPTY);

    RepairDecision after = turn.decide(500, bytes("{\"error\":{\"message\":\"boom\"}}"));

    assertThat(after.action()).isEqualTo(Action.NONE);
    assertThat(after.note()).map(ChainNote::chain).contains(ChainKey.response("resp_2"));
    assertThat(after.note()).map(ChainNote::reason).contains(ChainNote.Reason.ALREADY_REPAIRED);
    assertThat(after.errorBody()).isPresent();
  }

  @Test
  void errorWithoutMessage_namedInAnAffinity4jField() throws IOException {
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);

    RepairDecision apim = turn.decide(500, bytes("{\"statusCode\":500}"));
    RepairDecision inner = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE)
        .decide(500, bytes("{\"error\":{\"code\":\"server_error\"}}"));

    assertThat(MAPPER.readTree(apim.errorBody().orElseThrow()).get("affinity4j").asText()).isEqualTo(apim.message());
    assertThat(MAPPER.readTree(apim.errorBody().orElseThrow()).get("statusCode").asInt()).isEqualTo(500);
    assertThat(MAPPER.readTree(inner.errorBody().orElseThrow()).at("/error/affinity4j").asText())
        .isEqualTo(inner.message());
  }

  @Test
  void errorThatIsNotAJsonObject_notAmendedButNoted() {
    for (byte[] body : List.of(new byte[0], bytes("<html>Bad gateway</html>"), bytes("[1,2]"), bytes("{\"error\":"))) {
      RepairDecision decision = repairer.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE).decide(500, body);
      assertThat(decision.action()).isEqualTo(Action.NONE);
      assertThat(decision.errorBody()).isEmpty();
      assertThat(decision.note()).isPresent();
    }
  }

  @Test
  void conversation_notFound_replayDropsConversationAndMovesItsHead() throws IOException {
    byte[] created = bytes("{\"id\":\"conv_1\",\"object\":\"conversation\",\"created_at\":1}");
    repairer.recordConversation(bytes("{\"items\":[{\"type\":\"message\",\"role\":\"developer\",\"content\":\"seed\"}]}"),
        TurnOutput.chainOf(created, 0, created.length).orElse(null), ChainScope.NONE);
    String first = "{\"model\":\"m\",\"conversation\":\"conv_1\",\"input\":\"One\"}";
    record(first, null, output("resp_1", "Uno"));
    ChainTurn turn = repairer.repairTurn(bytes("{\"model\":\"m\",\"conversation\":\"conv_1\",\"input\":\"Two\"}"), PIN_A, ChainScope.NONE);

    assertThat(turn.chain()).contains(ChainKey.conversation("conv_1"));
    assertThat(turn.decide(404, CONVERSATION_NOT_FOUND).action()).isEqualTo(Action.RETRY);
    RepairDecision replay = turn.decide(404, CONVERSATION_NOT_FOUND);

    assertThat(replay.action()).isEqualTo(Action.REPLAY);
    JsonNode body = MAPPER.readTree(replay.replayBody());
    assertThat(body.has("conversation")).isFalse();
    assertThat(body.get("input")).hasSize(4);
    assertThat(body.get("input").get(0).get("content").asText()).isEqualTo("seed");
    FreshBackendRules.assertAccepted(replay.replayBody());
    turn.succeeded(null, RoutingInfo.EMPTY);
    turn.record(output("resp_2x", "Dos"));

    ChainHistory history = journal.history(ChainKey.conversation("conv_1"));
    assertThat(history.lastResponseId()).contains("resp_2x");
    assertThat(history.turns()).isEqualTo(2);
    assertThat(history.isComplete()).isTrue();
  }

  @Test
  void conversation_creationNeverRecorded_failsNamingTheConversation() {
    record("{\"model\":\"m\",\"conversation\":\"conv_9\",\"input\":\"One\"}", null, output("resp_1", "Uno"));
    ChainTurn turn = repairer.repairTurn(bytes("{\"model\":\"m\",\"conversation\":\"conv_9\",\"input\":\"Two\"}"), PIN_A, ChainScope.NONE);

    RepairDecision decision = turn.decide(503, BREAKER_OPEN);

    assertThat(journal.history(ChainKey.conversation("conv_9")).isComplete()).as("its start is unknown").isFalse();
    assertThat(decision.action()).isEqualTo(Action.FAIL);
    ChainNote note = decision.note().orElseThrow();
    assertThat(note.chain()).isEqualTo(ChainKey.conversation("conv_9"));
    assertThat(note.reason()).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
    assertThat(note.brokenBy()).contains(Kind.BACKEND_UNAVAILABLE);
  }

  @Test
  void recordConversation_onlyForAConversationTheResponseNamed() {
    byte[] items = bytes("{\"items\":[]}");

    repairer.recordConversation(items, null, ChainScope.NONE);
    repairer.recordConversation(items, ChainKey.response("resp_1"), ChainScope.NONE);
    assertThat(journal.estimatedSize()).isZero();

    repairer.recordConversation(items, ChainKey.conversation("conv_1"), ChainScope.NONE);
    assertThat(journal.history(ChainKey.conversation("conv_1")).isComplete()).isTrue();
  }

  @Test
  void itemNotFound_requestWithForeignIds_replaysItsInputWithoutThem() {
    String body = "{\"model\":\"m\",\"store\":false,\"input\":[{\"role\":\"user\",\"content\":\"q\"},"
        + "{\"id\":\"rs_68af1c3a1b2c8190\",\"type\":\"reasoning\",\"summary\":[]},"
        + "{\"role\":\"user\",\"content\":\"and?\"}]}";
    ChainTurn turn = repairer.repairTurn(bytes(body), null, ChainScope.NONE);

    RepairDecision decision = turn.decide(400, ITEM_NOT_FOUND);

    assertThat(decision.action()).isEqualTo(Action.REPLAY);
    assertThat(decision.itemsDropped()).isEqualTo(1);
    assertThat(new String(decision.replayBody(), StandardCharsets.UTF_8)).doesNotContain("rs_68af1c3a1b2c8190");
    FreshBackendRules.assertAccepted(decision.replayBody());
    assertThat(events.lines).containsExactly("started null ITEM_NOT_FOUND");
  }

  @Test
  void record_onlyFinishedStoredTurns() {
    repairer.repairTurn(bytes("{\"model\":\"m\",\"input\":\"a\"}"), null, ChainScope.NONE)
        .record(TurnOutput.of("resp_q", "queued", bytes("[]")));
    assertThat(journal.history(ChainKey.response("resp_q")).isComplete()).as("queued: its output comes on a poll")
        .isFalse();
    ChainTurn stored = repairer.repairTurn(bytes("{\"model\":\"m\",\"input\":\"a\"}"), null, ChainScope.NONE);
    stored.record(output("resp_1", "A"));
    stored.record(output("resp_1b", "again"));
    assertThat(journal.history(ChainKey.response("resp_1")).isComplete()).isTrue();
    assertThat(journal.history(ChainKey.response("resp_1b")).isComplete()).as("recorded once").isFalse();

    repairer.repairTurn(bytes("{\"model\":\"m\",\"input\":\"a\",\"store\":false}"), null, ChainScope.NONE).record(output("resp_2", "B"));
    assertThat(journal.history(ChainKey.response("resp_2")).isComplete()).as("store false").isFalse();
    repairer.repairTurn(bytes("{\"model\":\"m\",\"input\":\"a\"}"), null, ChainScope.NONE)
        .record(TurnOutput.of("resp_3", "incomplete", bytes("[]")));
    assertThat(journal.history(ChainKey.response("resp_3")).isComplete()).as("incomplete").isTrue();
  }

  @Test
  void unreadableBody_turnNeverRepairsOrRecords() {
    ChainTurn turn = repairer.repairTurn(bytes("<xml/>"), PIN_A, ChainScope.NONE);

    assertThat(turn.input()).isEmpty();
    assertThat(turn.decide(400, NOT_FOUND).action()).isEqualTo(Action.NONE);
    assertThat(turn.decideConnectionFailure().action()).isEqualTo(Action.NONE);
    turn.record(output("resp_1", "x"));
    assertThat(journal.estimatedSize()).isZero();
  }

  @Test
  void listenerThrowsCheckedException_asKotlinCodeMay_loggedAtWarnRepairGoesOn() {
    twoTurns();
    AffinityListener throwing = new AffinityListener() {
      @Override
      public void repairStarted(ChainKey chain, ChainBreak cause) {
        throw sneaky(new java.io.IOException("listener bug"));
      }

      @Override
      public void repaired(ChainRepair repair) {
        throw sneaky(new java.io.IOException("listener bug"));
      }
    };
    Engine withThrowing = repairer.toBuilder().listener(throwing).build();

    String log = LogCapture.during(() -> {
      ChainTurn turn = withThrowing.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);
      assertThat(turn.decide(503, BREAKER_OPEN).action()).isEqualTo(Action.REPLAY);
      turn.succeeded(PIN_B, RoutingInfo.EMPTY);
    }).text();

    assertThat(withThrowing.repairStats().repairsSucceeded()).isEqualTo(1);
    assertThat(log).contains("WARN").contains("threw in repairStarted").contains("threw in repaired");
  }

  /** Throws a checked exception past the compiler, as a listener written in Kotlin can. */
  @SuppressWarnings("unchecked")
  private static <E extends Throwable> RuntimeException sneaky(Throwable checked) throws E {
    throw (E) checked;
  }

  @Test
  void listenerThrows_loggedAtWarnRepairGoesOn() {
    twoTurns();
    AffinityListener throwing = new AffinityListener() {
      @Override
      public void repairStarted(ChainKey chain, ChainBreak cause) {
        throw new IllegalStateException("listener bug");
      }

      @Override
      public void repaired(ChainRepair repair) {
        throw new IllegalStateException("listener bug");
      }
    };
    Engine withThrowing = repairer.toBuilder().listener(throwing).build();

    String log = LogCapture.during(() -> {
      ChainTurn turn = withThrowing.repairTurn(bytes(request("resp_2", "\"Next\"")), PIN_A, ChainScope.NONE);
      assertThat(turn.decide(503, BREAKER_OPEN).action()).isEqualTo(Action.REPLAY);
      turn.succeeded(PIN_B, RoutingInfo.EMPTY);
    }).text();

    assertThat(withThrowing.repairStats().repairsSucceeded()).isEqualTo(1);
    assertThat(log).contains("WARN").contains("threw in repairStarted").contains("threw in repaired");
  }

  @ParameterizedTest(name = "checked={0}")
  @ValueSource(booleans = {false, true})
  void journalThrows_loggedAtWarnRepairFails(boolean checked) {
    // A journal written in Kotlin may throw a checked exception.
    Supplier<RuntimeException> failure = () -> checked ? sneaky(new java.io.IOException("store down"))
        : new IllegalStateException("store down");
    HistoryJournal broken = new HistoryJournal() {
      @Override
      public void record(JournalTurn turn) {
        throw failure.get();
      }

      @Override
      public void forget(ChainKey chain) {
        throw failure.get();
      }

      @Override
      public void recordConversation(ChainKey conversation, byte[] items) {
        throw failure.get();
      }

      @Override
      public ChainHistory history(ChainKey chain) {
        throw failure.get();
      }

      @Override
      public void clear() {}

      @Override
      public long estimatedSize() {
        return 0;
      }
    };
    Engine onBroken = repairer.toBuilder().journal(broken).build();

    String log = LogCapture.during(() -> {
      onBroken.repairTurn(bytes("{\"model\":\"m\",\"input\":\"a\"}"), null, ChainScope.NONE).record(output("resp_1", "A"));
      RepairDecision decision = onBroken.repairTurn(bytes(request("resp_1", "\"b\"")), PIN_A, ChainScope.NONE).decide(503, BREAKER_OPEN);
      assertThat(decision.action()).isEqualTo(Action.FAIL);
      assertFailedNote(decision, "resp_1", Kind.BACKEND_UNAVAILABLE);
    }).text();

    assertThat(log).contains("WARN").contains("threw on record of response:resp_1")
        .contains("threw on history of response:resp_1");
  }

  @Test
  void logsAndMessages_neverCarryConversationContent() {
    String secret = "TOP-SECRET-PLAN";
    String log = LogCapture.during(() -> {
      ChainTurn first = repairer.repairTurn(bytes("{\"model\":\"m\",\"instructions\":\"" + secret + "-i\",\"input\":\""
          + secret + "-1\"}"), null, ChainScope.NONE);
      first.succeeded(PIN_A, RoutingInfo.EMPTY);
      first.record(output("resp_1", secret + "-answer"));
      ChainTurn second = repairer.repairTurn(bytes(request("resp_1", "\"" + secret + "-2\"")), PIN_A, ChainScope.NONE);
      RepairDecision retry = second.decide(400, NOT_FOUND);
      RepairDecision replay = second.decide(400, NOT_FOUND);
      second.succeeded(PIN_B, RoutingInfo.EMPTY);
      second.record(output("resp_2x", secret + "-answer2"));
      assertThat(retry + " " + replay + " " + second + " " + journal.history(ChainKey.response("resp_2x")))
          .doesNotContain(secret);
      journal.clear();
      RepairDecision failed = repairer.repairTurn(bytes(request("resp_2x", "\"" + secret + "-3\"")), PIN_B, ChainScope.NONE)
          .decide(503, BREAKER_OPEN);
      assertThat(failed.message()).doesNotContain(secret);
    }).text();

    assertThat(log).contains("DEBUG").contains("replaying").doesNotContain(secret);
    assertThat(events.lines).noneMatch(line -> line.contains(secret));
  }

  @Test
  void builder_defaultsAndBadArguments() {
    Engine defaults = Engine.builder().build();

    assertThat(defaults.policy()).isEqualTo(RepairPolicy.RETRY_THEN_REPLAY);
    assertThat(defaults.retryPause()).isEqualTo(Duration.ofMillis(500));
    assertThat(defaults.journal()).isInstanceOf(CaffeineHistoryJournal.class);
    assertThat(defaults.repairStats()).isEqualTo(new RepairStats(0, 0, 0, 0, 0, 0, Map.of()));
    assertThat(defaults.repairStats().breaks(Kind.ITEM_NOT_FOUND)).isZero();
    assertThat(Engine.builder().retryPause(Duration.ZERO).build().retryPause()).isZero();
    assertThatThrownBy(() -> Engine.builder().retryPause(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Engine.builder().retryPause(Duration.ofMinutes(2)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Engine.builder().repairPolicy(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> defaults.repairTurn(null, null, ChainScope.NONE)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> new RepairStats(-1, 0, 0, 0, 0, 0, Map.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // --- helpers ---

  /** resp_1 (a question and answer), then resp_2 continuing it, both journaled and pinned to A. */
  private void twoTurns() {
    record("{\"model\":\"m\",\"input\":\"First?\"}", PIN_A, output("resp_1", "One."));
    record(request("resp_1", "\"Second?\""), PIN_A, output("resp_2", "Two."));
  }

  private void record(String body, AffinityToken pin, TurnOutput output) {
    ChainTurn turn = repairer.repairTurn(bytes(body), pin, ChainScope.NONE);
    turn.succeeded(pin, RoutingInfo.EMPTY);
    turn.record(output);
  }

  private static String request(String previous, String input) {
    return "{\"model\":\"gpt-4.1\",\"instructions\":\"Be brief.\",\"previous_response_id\":\"" + previous
        + "\",\"input\":" + input + ",\"stream\":false}";
  }

  private static TurnOutput output(String id, String text) {
    byte[] body = bytes("{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":["
        + "{\"id\":\"msg_" + id + "\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\","
        + "\"content\":[{\"type\":\"output_text\",\"text\":\"" + text + "\",\"annotations\":[]}]}]}");
    return TurnOutput.fromResponseBody(body, 0, body.length).orElseThrow();
  }

  private static AffinityToken pin(String value, String region) {
    return AffinityToken.builder().name("APIM-Backend-Affinity").value(value).domain("my-apim.azure-api.net")
        .seenAt(NOW).routing(new RoutingInfo(region, null, null, null, null, null)).build();
  }

  /** The decision's note: REPAIR_FAILED on response {@code responseId} after a {@code kind}. */
  private static void assertFailedNote(RepairDecision decision, String responseId, Kind kind) {
    ChainNote note = decision.note().orElseThrow();
    assertThat(note.chain()).isEqualTo(ChainKey.response(responseId));
    assertThat(note.reason()).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
    assertThat(note.brokenBy()).contains(kind);
    assertThat(decision.message()).isEqualTo(note.getMessage());
  }

  private static String errorMessage(RepairDecision decision) throws IOException {
    return MAPPER.readTree(decision.errorBody().orElseThrow()).at("/error/message").asText();
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }


  private static final class MutableClock extends Clock {
    private Instant now = NOW;

    void advance(Duration duration) {
      now = now.plus(duration);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  /** Records repair events as lines; pins by fingerprint and region. */
  private static final class RecordingListener extends AffinityListener {
    final List<String> lines = new CopyOnWriteArrayList<>();

    @Override
    public void repairStarted(ChainKey chain, ChainBreak cause) {
      lines.add("started " + chain + " " + cause.kind());
    }

    @Override
    public void repaired(ChainRepair repair) {
      lines.add("repaired " + repair.chain() + " " + repair.cause().kind() + " replayed=" + repair.replayed() + " "
          + describe(repair.previousPin()) + " -> " + describe(repair.newPin()) + " items=" + repair.itemsReplayed()
          + " bytes=" + repair.bytesReplayed() + " " + repair.elapsed());
    }

    @Override
    public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
      lines.add("failed " + chain + " " + cause.kind() + " " + reason);
    }

    private static String describe(AffinityToken token) {
      return token == null ? "none" : token.fingerprint() + " " + token.routing().region();
    }
  }
}
