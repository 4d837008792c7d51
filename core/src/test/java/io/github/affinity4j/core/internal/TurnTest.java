package io.github.affinity4j.core.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainBreak.Kind;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote.Reason;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.ErrorFixtures.Fixture;
import io.github.affinity4j.core.ErrorFixtures;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.RepairDecision.Action;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import io.github.affinity4j.testsupport.MutableClock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link Engine} and {@link Turn} with a scripted {@link Turn.Transport}: what the loop sends, what
 * it gives the caller, and what it binds and journals, with no HTTP client in between.
 */
final class TurnTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String HOST = "my-apim.azure-api.net";
  private static final String PATH = "/openai/v1/responses";
  private static final byte[] NOT_FOUND = ErrorFixtures.load("previous_response_not_found.json").body();
  private static final byte[] RATE_LIMITED = ErrorFixtures.load("rate_limited_429.json").body();

  private static final AffinityToken PIN_A = pin("backend-a");
  private static final AffinityToken PIN_B = pin("backend-b");
  private static final AffinityToken PIN_C = pin("backend-c");

  private final ChainScope scope = ChainScope.builder().origin("https", HOST, 443, "/openai/v1")
      .credentials(header -> "api-key".equals(header) ? "key-1" : null).build();
  private final ChainKey resp0 = ChainKey.response("resp_0").in(scope);
  private final Engine engine = engine();

  @ParameterizedTest(name = "replay sets a cookie: {0}")
  @ValueSource(booleans = {true, false})
  void pinnedNotFound_retriedOnThePinThenReplayedWithout_newResponseDoesNotInheritTheOldPin(boolean replaySetsCookie) {
    Turn turn = pinnedTurn(engine);
    assertThat(turn.chain()).isEqualTo(resp0);
    assertThat(turn.pin()).isNotNull();
    assertThat(turn.pin().value()).isEqualTo(PIN_A.value());
    Script script = new Script(
        Turn.Outcome.error(400, NOT_FOUND, null, null),
        Turn.Outcome.error(400, NOT_FOUND, null, null),
        Turn.Outcome.succeeded(replaySetsCookie ? PIN_B : null, () -> RoutingInfo.EMPTY));

    Attempt delivered = turn.run(script);

    assertThat(delivered.index).as("the replay's response").isEqualTo(2);
    assertThat(script.sent).hasSize(3);
    assertThat(script.sent.get(0)).as("the request, pinned").isNull();
    assertThat(script.sent.get(1)).as("the retry, on the same pin").isNull();
    assertThat(script.sent.get(2)).as("the replay, without the pin").isNotNull();
    JsonNode replay = json(script.sent.get(2));
    assertThat(replay.has("previous_response_id")).isFalse();
    assertThat(replay.get("input")).hasSize(3);
    assertThat(script.discarded).containsExactly(0, 1);
    assertThat(script.delivered).isEmpty();

    turn.responseBody(response("resp_1x"));

    ChainKey created = ChainKey.response("resp_1x").in(scope);
    if (replaySetsCookie) {
      assertThat(engine.store().get(created)).map(AffinityToken::value).contains(PIN_B.value());
    } else {
      assertThat(engine.store().get(created)).as("the stale pin is not inherited").isEmpty();
    }
    assertThat(engine.store().get(resp0)).map(AffinityToken::value).as("the old link keeps its own")
        .contains(PIN_A.value());
    assertThat(engine.journal().history(created).isComplete()).as("the new id takes over the history").isTrue();
    assertThat(engine.journal().history(created).turns()).isEqualTo(2);
    assertThat(engine.repairStats()).isEqualTo(new RepairStats(1, 1, 1, 1, 1, 0,
        java.util.Map.of(Kind.PREVIOUS_RESPONSE_NOT_FOUND, 1L)));
  }

  @Test
  void notFoundWithoutReplay_retrySucceeds_newResponseInheritsThePin() {
    Turn turn = pinnedTurn(engine);
    Script script = new Script(
        Turn.Outcome.error(400, NOT_FOUND, null, null),
        Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));

    turn.run(script);
    turn.responseBody(response("resp_1"));

    assertThat(script.sent).containsExactly(null, null);
    assertThat(engine.store().get(ChainKey.response("resp_1").in(scope))).map(AffinityToken::value)
        .as("the retry went where the pin points: the chain stays there").contains(PIN_A.value());
    assertThat(engine.repairStats().replays()).isZero();
    assertThat(engine.repairStats().repairsSucceeded()).isEqualTo(1);
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(value = Reason.class, names = {"ALREADY_REPAIRED", "REPAIR_FAILED", "BROKE_OFF"})
  void errorNotedBelow_deliveredUnchangedWithoutRetry(Reason below) {
    Turn turn = pinnedTurn(engine);
    RepairStats before = engine.repairStats();
    String header = ChainNote.of(resp0, below, below == Reason.REPAIR_FAILED ? Kind.PREVIOUS_RESPONSE_NOT_FOUND : null,
        "").headerValue();
    Script script = new Script(Turn.Outcome.error(400, NOT_FOUND, null, header));

    Attempt delivered = turn.run(script);

    assertThat(delivered.index).isZero();
    assertThat(script.sent).containsExactly((byte[]) null);
    assertThat(script.discarded).isEmpty();
    assertNamedBelow(script, below);
    assertThat(engine.repairStats()).isEqualTo(before);
  }

  @Test
  void errorNotedBelowAsNotABreak_thisLayerSentThePin_repairsIt() {
    Turn turn = pinnedTurn(engine);
    String header = ChainNote.of(resp0, Reason.NOT_A_BREAK, null, "").headerValue();
    Script script = new Script(
        Turn.Outcome.error(400, NOT_FOUND, null, header),
        Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));

    turn.run(script);

    assertThat(script.sent).as("retried on the pin").containsExactly(null, null);
    assertThat(engine.repairStats().retries()).isEqualTo(1);
  }

  @Test
  void errorNotedBelowAsNotABreak_noBreakHereEither_deliveredWithoutASecondNote() {
    Turn turn = pinnedTurn(engine);
    String header = ChainNote.of(resp0, Reason.NOT_A_BREAK, null, "").headerValue();
    Script script = new Script(Turn.Outcome.error(429, RATE_LIMITED, null, header));

    turn.run(script);

    assertThat(script.sent).hasSize(1);
    assertNamedBelow(script, Reason.NOT_A_BREAK);
  }

  @Test
  void errorNotNoted_notABreak_deliveredNamingTheChain() {
    Turn turn = pinnedTurn(engine);
    Script script = new Script(Turn.Outcome.error(429, RATE_LIMITED, null, null));

    turn.run(script);

    assertThat(script.sent).hasSize(1);
    RepairDecision decision = script.delivered.get(0);
    assertThat(decision.action()).isEqualTo(Action.NONE);
    assertThat(decision.note()).map(ChainNote::chain).contains(resp0);
    assertThat(decision.note()).map(ChainNote::reason).contains(Reason.NOT_A_BREAK);
    assertThat(engine.repairStats().breaks()).isZero();
  }

  @Test
  void connectionFailureNotedBelow_notRepairedAgain() {
    Turn turn = pinnedTurn(engine);
    RepairStats before = engine.repairStats();
    IOException failure = ChainNote.of(resp0, Reason.REPAIR_FAILED, Kind.BACKEND_UNAVAILABLE, "")
        .attachTo(new SocketTimeoutException("timeout"));
    Script script = new Script(Turn.Outcome.connectionFailed(new IOException("call failed", failure)));

    Attempt delivered = turn.run(script);

    assertThat(delivered.index).isZero();
    assertThat(script.sent).hasSize(1);
    assertNamedBelow(script, Reason.REPAIR_FAILED);
    assertThat(engine.repairStats()).isEqualTo(before);
  }

  @Test
  void connectionFailureNotedBelowAsNotABreak_thisLayerSentThePin_sentOnceMore() {
    Turn turn = pinnedTurn(engine);
    IOException failure = ChainNote.of(resp0, Reason.NOT_A_BREAK, null, "")
        .attachTo(new SocketTimeoutException("timeout"));
    Script script = new Script(
        Turn.Outcome.connectionFailed(failure),
        Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));

    Attempt delivered = turn.run(script);

    assertThat(delivered.index).isEqualTo(1);
    assertThat(script.sent).containsExactly(null, null);
  }

  @Test
  void connectionFailureNotNoted_pinned_sentOnceMoreOnThePin() {
    Turn turn = pinnedTurn(engine);
    Script script = new Script(
        Turn.Outcome.connectionFailed(new SocketTimeoutException("timeout")),
        Turn.Outcome.succeeded(PIN_A, () -> RoutingInfo.EMPTY));

    Attempt delivered = turn.run(script);

    assertThat(delivered.index).isEqualTo(1);
    assertThat(script.sent).containsExactly(null, null);
    assertThat(engine.repairStats().breaks()).as("a closed pooled connection is no break").isZero();
  }

  @Test
  void newChain_failurePassesOnUntouched() {
    byte[] body = "{\"model\":\"m\",\"input\":\"Hi\"}".getBytes(UTF_8);
    Turn turn = engine.turn(scope, "POST", "https", HOST, PATH, body, false);
    assertThat(turn).isNotNull();
    assertThat(turn.chain()).isNull();
    assertThat(turn.pin()).isNull();
    Script script = new Script(Turn.Outcome.error(400, NOT_FOUND, null, null));

    turn.run(script);

    assertThat(script.delivered).containsExactly(RepairDecision.NONE);
    assertThat(Engine.affects("GET", "/openai/v1/models")).isFalse();
    assertThat(engine.turn(scope, "GET", "https", HOST, "/openai/v1/models", null, false)).isNull();
  }

  @Test
  void runAsync_sameScript_sameSends() throws Exception {
    Script sync = new Script(notFoundThenReplay());
    Attempt syncResult = pinnedTurn(engine).run(sync);

    Engine other = engine();
    Script async = new Script(notFoundThenReplay());
    Attempt asyncResult = pinnedTurn(other).runAsync(async.async()).get(10, TimeUnit.SECONDS);

    assertThat(asyncResult.index).isEqualTo(syncResult.index);
    assertThat(async.sent).hasSameSizeAs(sync.sent);
    for (int i = 0; i < sync.sent.size(); i++) {
      assertThat(async.sent.get(i)).as("send %d", i).isEqualTo(sync.sent.get(i));
    }
    assertThat(async.discarded).isEqualTo(sync.discarded);
    assertThat(async.delivered).isEqualTo(sync.delivered);
    assertThat(other.repairStats()).isEqualTo(engine.repairStats());
  }

  @Test
  void runAsync_failedReplay_deliversTheFailAsRunDoes() throws Exception {
    Turn.Outcome[] outcomes = {
        Turn.Outcome.error(400, NOT_FOUND, null, null),
        Turn.Outcome.error(400, NOT_FOUND, null, null),
        Turn.Outcome.error(400, NOT_FOUND, null, null)};
    Script sync = new Script(outcomes);
    pinnedTurn(engine).run(sync);
    Engine other = engine();
    Script async = new Script(outcomes);
    pinnedTurn(other).runAsync(async.async()).get(10, TimeUnit.SECONDS);

    assertThat(sync.sent).hasSize(3);
    assertThat(async.sent).hasSize(3);
    assertThat(async.sent.get(2)).isEqualTo(sync.sent.get(2));
    for (Script script : List.of(sync, async)) {
      RepairDecision decision = script.delivered.get(0);
      assertThat(decision.action()).isEqualTo(Action.FAIL);
      assertThat(decision.note()).map(ChainNote::reason).contains(Reason.REPAIR_FAILED);
      assertThat(decision.note()).flatMap(ChainNote::brokenBy).contains(Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    }
  }

  // --- set-up ---

  private static Engine engine() {
    return engine(Clock.systemUTC());
  }

  private static Engine engine(Clock clock) {
    return Engine.builder()
        .journal(CaffeineHistoryJournal.builder().executor(Runnable::run).build())
        .retryPause(Duration.ZERO)
        .clock(clock)
        .build();
  }

  /** resp_0, pinned to backend A and journaled; a turn continuing it. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"/openai/v1/responses/compact", "/openai/v1/responses/input_tokens"})
  void compactAndInputTokens_previousResponseId_pinnedLikeATurnNotJournaled(String path) {
    engine.registry().bind(resp0, null, PIN_A);
    byte[] body = "{\"model\":\"m\",\"previous_response_id\":\"resp_0\"}".getBytes(UTF_8);

    Turn turn = engine.turn(scope, "POST", "https", HOST, path, body, false);

    assertThat(Engine.readsBody("POST", path)).isTrue();
    assertThat(turn).isNotNull();
    assertThat(turn.chain()).isEqualTo(resp0);
    assertThat(turn.pin()).isEqualTo(PIN_A);
    assertThat(turn.journals()).as("not a turn of the chain").isFalse();
  }

  @Test
  void gatewayShaped500_pinnedTurn_repairedAsBackendUnavailable() {
    Turn turn = pinnedTurn(engine);
    Fixture apim = ErrorFixtures.load("apim_backend_connection_failure_500.json");
    Script script = new Script(
        Turn.Outcome.error(500, apim.body(), null, null),
        Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));

    turn.run(script);

    assertThat(script.sent).as("replayed at once: waiting does not bring a backend back").hasSize(2);
    assertThat(script.sent.get(1)).isNotNull();
    assertThat(engine.repairStats().breaks(Kind.BACKEND_UNAVAILABLE)).isEqualTo(1);
  }

  @Test
  void gatewayShaped500_leftOutOfGatewayFailures_passedOnAsNotABreak() {
    Engine strict = Engine.builder().retryPause(Duration.ZERO).gatewayFailures(502, 504).build();
    Turn turn = pinnedTurn(strict);
    Fixture apim = ErrorFixtures.load("apim_backend_connection_failure_500.json");
    Script script = new Script(Turn.Outcome.error(500, apim.body(), null, null));

    turn.run(script);

    assertThat(script.sent).hasSize(1);
    assertThat(script.delivered).singleElement()
        .satisfies(d -> assertThat(d.note()).map(ChainNote::reason).contains(Reason.NOT_A_BREAK));
  }

  @Test
  void invalidEncryptedContent_statelessTurn_sentOnceMoreWithoutTheReasoning() throws Exception {
    List<ChainRepair> repairs = new ArrayList<>();
    Engine listened = Engine.builder().retryPause(Duration.ZERO).listener(new AffinityListener() {
      @Override
      public void repaired(ChainRepair repair) {
        repairs.add(repair);
      }
    }).build();
    byte[] body = ("{\"model\":\"m\",\"store\":false,\"input\":["
        + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"Think.\"},"
        + "{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAAAAsealed\"},"
        + "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
        + "\"content\":[{\"type\":\"output_text\",\"text\":\"One.\"}]},"
        + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"Again.\"}]}").getBytes(UTF_8);
    Turn turn = requireNonNull(listened.turn(scope, "POST", "https", HOST, PATH, body, false));
    Fixture refused = ErrorFixtures.load("invalid_encrypted_content.json");
    Script script = new Script(
        Turn.Outcome.error(refused.status(), refused.body(), null, null),
        Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));

    turn.run(script);

    assertThat(script.sent).hasSize(2);
    String resent = new String(requireNonNull(script.sent.get(1)), UTF_8);
    assertThat(resent).doesNotContain("encrypted_content", "gAAAAAsealed", "reasoning\"")
        .contains("Think.", "One.", "Again.");
    assertThat(listened.repairStats().breaks(Kind.INVALID_ENCRYPTED_CONTENT)).isEqualTo(1);
    assertThat(listened.repairStats().reasoningLeftOut()).isEqualTo(1);
    assertThat(repairs).singleElement().satisfies(repair -> {
      assertThat(repair.reasoningLeftOut()).isEqualTo(1);
      assertThat(repair.cause().kind()).isEqualTo(Kind.INVALID_ENCRYPTED_CONTENT);
    });
  }

  @Test
  void backgroundTurn_outputOnAPoll_journaledThenAndRepairable() {
    byte[] post = "{\"model\":\"m\",\"background\":true,\"input\":\"Think long.\"}".getBytes(UTF_8);
    Turn created = requireNonNull(engine.turn(scope, "POST", "https", HOST, PATH, post, false));
    created.run(new Script(Turn.Outcome.succeeded(PIN_A, () -> RoutingInfo.EMPTY)));
    created.responseBody(("{\"id\":\"resp_bg\",\"object\":\"response\",\"status\":\"queued\",\"output\":[]}")
        .getBytes(UTF_8));
    ChainKey bg = ChainKey.response("resp_bg").in(scope);
    assertThat(engine.journal().history(bg).status()).as("queued: nothing to journal yet")
        .isNotEqualTo(ChainHistory.Status.COMPLETE);

    Turn stillQueued = requireNonNull(engine.turn(scope, "GET", "https", HOST, PATH + "/resp_bg", null, false));
    assertThat(stillQueued.pin()).as("the poll goes where the job runs").isEqualTo(PIN_A);
    stillQueued.run(new Script(Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY)));
    stillQueued.responseBody(("{\"id\":\"resp_bg\",\"object\":\"response\",\"status\":\"in_progress\","
        + "\"output\":[]}").getBytes(UTF_8));
    Turn done = requireNonNull(engine.turn(scope, "GET", "https", HOST, PATH + "/resp_bg", null, false));
    done.run(new Script(Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY)));
    done.responseBody(("{\"id\":\"resp_bg\",\"object\":\"response\",\"status\":\"completed\",\"output\":"
        + "[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
        + "\"text\":\"Done.\"}]}]}").getBytes(UTF_8));

    ChainHistory history = engine.journal().history(bg);
    assertThat(history.status()).isEqualTo(ChainHistory.Status.COMPLETE);
    String items = history.segments().stream().map(b -> new String(b, UTF_8)).reduce("", String::concat);
    assertThat(items).contains("Think long.", "Done.");
  }

  @Test
  void statelessChain_itemsSentBack_pinnedToTheirBackendAndRepairedWithoutTheReasoning() {
    byte[] first = "{\"model\":\"m\",\"store\":false,\"input\":\"Think.\"}".getBytes(UTF_8);
    Turn opening = requireNonNull(engine.turn(scope, "POST", "https", HOST, PATH, first, false));
    assertThat(opening.pin()).as("a new stateless chain spreads").isNull();
    opening.run(new Script(Turn.Outcome.succeeded(PIN_A, () -> RoutingInfo.EMPTY)));
    opening.responseBody(("{\"id\":\"resp_s1\",\"object\":\"response\",\"status\":\"completed\",\"output\":["
        + "{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAAAAsealed\"},"
        + "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
        + "\"content\":[{\"type\":\"output_text\",\"text\":\"One.\"}]}]}").getBytes(UTF_8));

    byte[] second = ("{\"model\":\"m\",\"store\":false,\"input\":["
        + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"Think.\"},"
        + "{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAAAAsealed\"},"
        + "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
        + "\"content\":[{\"type\":\"output_text\",\"text\":\"One.\"}]},"
        + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"Again.\"}]}").getBytes(UTF_8);
    Turn continuing = requireNonNull(engine.turn(scope, "POST", "https", HOST, PATH, second, false));
    assertThat(continuing.pin()).as("pinned to the backend of its latest item").isEqualTo(PIN_A);
    assertThat(continuing.chain()).isEqualTo(ChainKey.item("msg_1").in(scope));

    Script script = new Script(
        Turn.Outcome.error(503, "{\"statusCode\":503,\"message\":\"down\"}".getBytes(UTF_8), null, null),
        Turn.Outcome.succeeded(PIN_B, () -> RoutingInfo.EMPTY));
    continuing.run(script);
    continuing.responseBody(("{\"id\":\"resp_s2\",\"object\":\"response\",\"status\":\"completed\",\"output\":["
        + "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\","
        + "\"content\":[{\"type\":\"output_text\",\"text\":\"Two.\"}]}]}").getBytes(UTF_8));

    assertThat(script.sent).hasSize(2);
    String resent = new String(requireNonNull(script.sent.get(1)), UTF_8);
    assertThat(resent).as("its own history, without the lost backend's reasoning or ids")
        .contains("Think.", "One.", "Again.").doesNotContain("encrypted_content\"", "rs_1", "msg_1");
    assertThat(engine.store().get(ChainKey.item("msg_2").in(scope))).as("the chain goes on where the resend went")
        .contains(PIN_B);
    assertThat(engine.repairStats().repairsSucceeded()).isEqualTo(1);
  }

  @Test
  void statelessResponseWithManyItems_onlyItsLatestBound_andARequestLooksUpOnlyItsLatest() {
    int many = StatelessChains.MAX_ITEMS * 4;
    byte[] first = "{\"model\":\"m\",\"store\":false,\"input\":\"Call them all.\"}".getBytes(UTF_8);
    Turn opening = requireNonNull(engine.turn(scope, "POST", "https", HOST, PATH, first, false));
    opening.run(new Script(Turn.Outcome.succeeded(PIN_A, () -> RoutingInfo.EMPTY)));
    StringBuilder output = new StringBuilder();
    for (int i = 0; i < many; i++) {
      output.append(i == 0 ? "" : ",").append("{\"id\":\"fc_").append(i)
          .append("\",\"type\":\"function_call\",\"call_id\":\"c").append(i)
          .append("\",\"name\":\"f\",\"arguments\":\"{}\"}");
    }
    opening.responseBody(("{\"id\":\"resp_m\",\"object\":\"response\",\"status\":\"completed\",\"output\":["
        + output + "]}").getBytes(UTF_8));

    long bound = java.util.stream.IntStream.range(0, many)
        .filter(i -> engine.store().get(ChainKey.item("fc_" + i).in(scope)).isPresent()).count();
    assertThat(bound).as("bounded per response").isEqualTo(StatelessChains.MAX_ITEMS);
    assertThat(engine.store().get(ChainKey.item("fc_" + (many - 1)).in(scope))).as("its latest").contains(PIN_A);

    // A request sending back only the oldest (unbound) items first, then the latest: found by the latest.
    byte[] next = ("{\"model\":\"m\",\"store\":false,\"input\":[" + output + "]}").getBytes(UTF_8);
    Turn continuing = requireNonNull(engine.turn(scope, "POST", "https", HOST, PATH, next, false));
    assertThat(continuing.pin()).isEqualTo(PIN_A);
    assertThat(continuing.chain()).isEqualTo(ChainKey.item("fc_" + (many - 1)).in(scope));
  }

  @Test
  void statelessRequestPinned_itsReasoningItemsLookedUpInOneStoreCall_foreignReasoningLeftOut() {
    List<Collection<ChainKey>> batches = new ArrayList<>();
    List<ChainKey> singles = new ArrayList<>();
    CaffeineAffinityStore kept = CaffeineAffinityStore.builder().executor(Runnable::run).build();
    AffinityStore counting = new AffinityStore() {
      @Override
      public Optional<AffinityToken> get(ChainKey key) {
        singles.add(key);
        return kept.get(key);
      }

      @Override
      public Map<ChainKey, AffinityToken> getAll(Collection<ChainKey> keys) {
        batches.add(List.copyOf(keys));
        return kept.getAll(keys);
      }

      @Override
      public void put(ChainKey key, AffinityToken token) {
        kept.put(key, token);
      }

      @Override
      public void remove(ChainKey key) {
        kept.remove(key);
      }

      @Override
      public long estimatedSize() {
        return kept.estimatedSize();
      }
    };
    Engine counted = Engine.builder().store(counting).retryPause(Duration.ZERO).build();
    StringBuilder input = new StringBuilder();
    for (int i = 0; i < 10; i++) {
      counted.registry().bind(ChainKey.item("rs_" + i).in(scope), null, i % 2 == 0 ? PIN_A : PIN_B);
      input.append(i == 0 ? "" : ",")
          .append("{\"type\":\"message\",\"role\":\"user\",\"content\":\"Q").append(i).append(".\"},")
          .append("{\"id\":\"rs_").append(i).append("\",\"type\":\"reasoning\",\"summary\":[],")
          .append("\"encrypted_content\":\"gAAAA").append(i).append("\"},")
          .append("{\"id\":\"msg_").append(i).append("\",\"type\":\"message\",\"role\":\"assistant\",")
          .append("\"content\":[{\"type\":\"output_text\",\"text\":\"A").append(i).append(".\"}]}");
    }
    counted.registry().bind(ChainKey.item("msg_9").in(scope), null, PIN_A);
    byte[] body = ("{\"model\":\"m\",\"store\":false,\"input\":[" + input + "]}").getBytes(UTF_8);
    singles.clear();

    Turn turn = requireNonNull(counted.turn(scope, "POST", "https", HOST, PATH, body, false));

    assertThat(turn.pin()).isEqualTo(PIN_A);
    assertThat(batches).as("one store call for the reasoning items, none for the messages").hasSize(1);
    assertThat(batches.get(0)).extracting(ChainKey::id)
        .containsExactlyInAnyOrder("rs_0", "rs_1", "rs_2", "rs_3", "rs_4", "rs_5", "rs_6", "rs_7", "rs_8", "rs_9");
    assertThat(singles).as("single lookups: the latest items, for the pin only").extracting(ChainKey::id)
        .containsExactly("msg_9");
    String sent = new String(requireNonNull(turn.pinnedBody()), UTF_8);
    assertThat(sent).as("backend B's reasoning left out, A's kept")
        .contains("rs_0", "rs_8", "msg_1", "Q9.").doesNotContain("rs_1\"", "rs_9\"");
  }

  @Test
  void statelessRequestWhoseOnlyBoundItemIsOlderThanItsLatestLookups_spreads() {
    engine.registry().bind(ChainKey.item("msg_old").in(scope), null, PIN_A);
    StringBuilder input = new StringBuilder("{\"id\":\"msg_old\",\"type\":\"message\",\"role\":\"assistant\","
        + "\"content\":[{\"type\":\"output_text\",\"text\":\"Old.\"}]}");
    for (int i = 0; i < StatelessChains.MAX_ITEMS; i++) {
      input.append(",{\"id\":\"msg_new").append(i).append("\",\"type\":\"message\",\"role\":\"user\",")
          .append("\"content\":\"New.\"}");
    }
    byte[] body = ("{\"model\":\"m\",\"store\":false,\"input\":[" + input + "]}").getBytes(UTF_8);
    Turn turn = requireNonNull(engine.turn(scope, "POST", "https", HOST, PATH, body, false));
    assertThat(turn.pin()).as("lookups are bounded: the latest items only").isNull();
  }

  /** Issue 18, point 4: how the loss of a pin's backend is learned. */
  static Stream<Arguments> pinLost() {
    byte[] apim503 = "{\"statusCode\":503,\"message\":\"down\"}".getBytes(UTF_8);
    return Stream.of(
        Arguments.of("re-routed: not found with another cookie", Turn.Outcome.error(400, NOT_FOUND, PIN_B, null)),
        Arguments.of("unavailable: 503", Turn.Outcome.error(503, apim503, null, null)),
        Arguments.of("re-pinned: a success with another cookie", Turn.Outcome.succeeded(PIN_B, () -> RoutingInfo.EMPTY)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("pinLost")
  void pinSeenLost_otherChainsOnItReplayAtOnce_noRequestSentOnIt(String how, Turn.Outcome first) {
    MutableClock clock = new MutableClock(); // stands still: no probe falls due
    Engine engine = engine(clock);
    Turn losing = pinnedTurn(engine, "resp_0");
    losing.run(new Script(first, Turn.Outcome.succeeded(PIN_B, () -> RoutingInfo.EMPTY)));
    losing.responseBody(response("resp_1"));

    for (String other : List.of("resp_a", "resp_b", "resp_c")) {
      Turn next = pinnedTurn(engine, other);
      Script script = new Script(Turn.Outcome.succeeded(PIN_C, () -> RoutingInfo.EMPTY));
      next.run(script);
      next.responseBody(response(other + "x"));

      assertThat(script.sent).as("%s: one request, the replay, unpinned", other).hasSize(1);
      assertThat(script.sent.get(0)).isNotNull();
      assertThat(json(script.sent.get(0)).get("input")).hasSize(3);
      assertThat(engine.store().get(ChainKey.response(other + "x").in(scope))).map(AffinityToken::value)
          .as("the chain lives where the replay went").contains(PIN_C.value());
      assertThat(engine.journal().history(ChainKey.response(other + "x").in(scope)).turns()).isEqualTo(2);
    }
    assertThat(engine.repairStats().breaks(Kind.BACKEND_UNAVAILABLE)).as("each replay at once counted")
        .isGreaterThanOrEqualTo(3);
    assertThat(engine.repairStats().repairsFailed()).isZero();
  }

  @Test
  void pinSeenLost_oneRequestPerProbeIntervalStillGoesOnThePin_itsAnswerClearsTheLoss() {
    MutableClock clock = new MutableClock();
    Engine engine = engine(clock);
    pinnedTurn(engine, "resp_0").run(new Script(Turn.Outcome.error(400, NOT_FOUND, PIN_B, null),
        Turn.Outcome.succeeded(PIN_B, () -> RoutingInfo.EMPTY)));
    clock.advance(LostPins.PROBE);

    Script probe = new Script(Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));
    pinnedTurn(engine, "resp_a").run(probe);
    Script after = new Script(Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));
    pinnedTurn(engine, "resp_b").run(after);

    assertThat(probe.sent).as("the probe, on the pin").containsExactly((byte[]) null);
    assertThat(after.sent).as("the backend answered: pinned again").containsExactly((byte[]) null);
    assertThat(engine.repairStats().breaks(Kind.BACKEND_UNAVAILABLE)).isZero();
  }

  @Test
  void notFoundOnAPinThatStillAnswers_doesNotMarkIt_otherChainsStillSentPinned() {
    pinnedTurn(engine, "resp_0").run(new Script(Turn.Outcome.error(400, NOT_FOUND, null, null),
        Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY)));

    Script script = new Script(Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));
    pinnedTurn(engine, "resp_a").run(script);

    assertThat(script.sent).containsExactly((byte[]) null);
  }

  @Test
  void pinSeenLost_expiresAfterAWhile_orClearsWhenItAnswers() {
    MutableClock clock = new MutableClock();
    Engine timed = engine(clock);
    pinnedTurn(timed, "resp_0").run(new Script(Turn.Outcome.error(400, NOT_FOUND, PIN_B, null),
        Turn.Outcome.succeeded(PIN_B, () -> RoutingInfo.EMPTY)));
    assertThat(timed.lostPins().isLost(scope, PIN_A)).isTrue();

    clock.advance(LostPins.FOR.plusSeconds(1));
    assertThat(timed.lostPins().isLost(scope, PIN_A)).as("for a while only").isFalse();

    timed.lostPins().lost(scope, PIN_A);
    Script pinned = new Script(Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));
    Turn turn = pinnedTurn(timed, "resp_a");
    timed.lostPins().answered(scope, PIN_A); // as a pinned request answered by that backend does
    turn.run(pinned);
    assertThat(timed.lostPins().isLost(scope, PIN_A)).isFalse();
  }

  @Test
  void pinSeenLostInAnotherScope_sameCookieAndRegion_thisScopesChainsStillSentPinned() {
    MutableClock clock = new MutableClock();
    Engine shared = engine(clock);
    RoutingInfo eastUs = RoutingInfo.from(header -> "x-ms-region".equals(header) ? "East US" : null);
    AffinityToken pinInEastUs = PIN_A.toBuilder().routing(eastUs).build();
    ChainScope hostile = ChainScope.builder().origin("https", "evil.example", 443, "/openai/v1").build();
    ChainScope otherTenant = ChainScope.builder().origin("https", HOST, 443, "/openai/v1")
        .credentials(header -> "api-key".equals(header) ? "key-2" : null).build();

    shared.lostPins().lost(hostile, pinInEastUs);
    shared.lostPins().lost(otherTenant, pinInEastUs);

    assertThat(shared.lostPins().isLost(scope, pinInEastUs)).as("neither its pin nor its region").isFalse();
    assertThat(shared.lostPins().isLost(scope, PIN_B.toBuilder().routing(eastUs).build())).isFalse();
    assertThat(shared.lostPins().isLost(hostile, PIN_B.toBuilder().routing(eastUs).build()))
        .as("in the scope that saw it, the region is lost").isTrue();
    Script script = new Script(Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));
    pinnedTurn(shared, "resp_a").run(script);
    assertThat(script.sent).as("sent on its pin, not replayed").containsExactly((byte[]) null);
    assertThat(shared.repairStats().breaks(Kind.BACKEND_UNAVAILABLE)).isZero();
  }

  @Test
  void pinSeenLost_noHistoryToReplay_sentOnThePinAsUsual() {
    engine.lostPins().lost(scope, PIN_A);
    engine.registry().bind(ChainKey.response("resp_unjournaled").in(scope), null, PIN_A);
    byte[] body = "{\"model\":\"m\",\"previous_response_id\":\"resp_unjournaled\",\"input\":\"x\"}".getBytes(UTF_8);
    Turn turn = requireNonNull(engine.turn(scope, "POST", "https", HOST, PATH, body, false));
    Script script = new Script(Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY));

    turn.run(script);

    assertThat(script.sent).as("the backend may be back").containsExactly((byte[]) null);
    assertThat(engine.lostPins().isLost(scope, PIN_A)).as("and it answered").isFalse();
  }

  private Turn pinnedTurn(Engine on) {
    return pinnedTurn(on, "resp_0");
  }

  /** A turn continuing {@code id}, a one-turn chain journaled and pinned to {@link #PIN_A}. */
  private Turn pinnedTurn(Engine on, String id) {
    on.registry().bind(ChainKey.response(id).in(scope), null, PIN_A);
    on.journal().record(JournalTurn.of(scope, id, null, null,
        "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"First?\"}]".getBytes(UTF_8),
        "[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"One.\"}]}]"
            .getBytes(UTF_8)));
    byte[] body = ("{\"model\":\"m\",\"previous_response_id\":\"" + id + "\",\"input\":\"Second?\"}").getBytes(UTF_8);
    Turn turn = on.turn(scope, "POST", "https", HOST, PATH, body, false);
    assertThat(turn).isNotNull();
    return turn;
  }


  private static Turn.Outcome[] notFoundThenReplay() {
    return new Turn.Outcome[] {
        Turn.Outcome.error(400, NOT_FOUND, null, null),
        Turn.Outcome.error(400, NOT_FOUND, null, null),
        Turn.Outcome.succeeded(PIN_B, () -> RoutingInfo.EMPTY)};
  }

  private static byte[] response(String id) {
    return ("{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"type\":\"message\","
        + "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Two.\"}]}]}").getBytes(UTF_8);
  }

  private static AffinityToken pin(String value) {
    return AffinityToken.builder().name("APIM-Backend-Affinity").value(value).domain(HOST)
        .seenAt(Instant.parse("2025-06-01T12:00:00Z")).build();
  }

  private static JsonNode json(byte[] body) {
    try {
      return MAPPER.readTree(body);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** One attempt: its place in the script. */
  private record Attempt(int index) {}

  /**
   * A transport that answers each send with the next outcome of its script, and records what it
   * was asked to send, discard and deliver.
   */
  private static final class Script implements Turn.Transport<Attempt> {
    private final List<Turn.Outcome> outcomes;
    final List<byte @Nullable []> sent = new ArrayList<>();
    final List<Integer> discarded = new ArrayList<>();
    final List<RepairDecision> delivered = new ArrayList<>();

    Script(Turn.Outcome... outcomes) {
      this.outcomes = List.of(outcomes);
    }

    @Override
    public synchronized Attempt send(byte @Nullable [] replayBody) {
      assertThat(sent.size()).as("sends beyond the script").isLessThan(outcomes.size());
      sent.add(replayBody == null ? null : replayBody.clone());
      return new Attempt(sent.size() - 1);
    }

    @Override
    public synchronized Turn.Outcome judge(Attempt attempt) {
      return outcomes.get(attempt.index);
    }

    @Override
    public synchronized void discard(Attempt attempt) {
      discarded.add(attempt.index);
    }

    @Override
    public synchronized Attempt deliver(Attempt attempt, RepairDecision decision) {
      delivered.add(decision);
      return attempt;
    }

    /** The same script, sent without blocking. */
    Turn.AsyncTransport<Attempt> async() {
      Script script = this;
      return new Turn.AsyncTransport<>() {
        @Override
        public CompletableFuture<Attempt> send(byte @Nullable [] replayBody) {
          return CompletableFuture.supplyAsync(() -> script.send(replayBody));
        }

        @Override
        public Turn.Outcome judge(Attempt attempt) {
          return script.judge(attempt);
        }

        @Override
        public void discard(Attempt attempt) {
          script.discard(attempt);
        }

        @Override
        public Attempt deliver(Attempt attempt, RepairDecision decision) {
          return script.deliver(attempt, decision);
        }
      };
    }
  }

  /**
   * The failure went on with the note of the layer below as a value (so an exception above
   * carries it too), and its body was not amended a second time.
   */
  private void assertNamedBelow(Script script, Reason below) {
    assertThat(script.delivered).singleElement().satisfies(decision -> {
      assertThat(decision.action()).isEqualTo(Action.NONE);
      assertThat(decision.errorBody()).isEmpty();
      assertThat(decision.note()).map(ChainNote::reason).contains(below);
      assertThat(decision.note()).map(ChainNote::chain).contains(resp0);
    });
  }
}
