package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
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
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.internal.RepairDecision.Action;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * A repair that fails because the {@link HistoryJournal} could not be read ({@link
 * ChainHistory.Status#UNAVAILABLE}: its store is down) fails as any repair without history does: a
 * FAIL naming the chain, REPAIR_FAILED after the break, reported to the listener, and never with
 * the conversation or the pin in what the caller or the listener gets.
 */
final class ChainTurnUnavailableJournalTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private static final byte[] NOT_FOUND = ErrorFixtures.load("previous_response_not_found.json").body();
  private static final byte[] BREAKER_OPEN = ErrorFixtures.load("breaker_open_503.json").body();
  private static final byte[] CONVERSATION_NOT_FOUND = ErrorFixtures.load("conversation_not_found.json").body();

  private static final String PIN_VALUE = "pin-value-7f3e9a-secret";
  private static final String CONTENT = "What is my secret plan, exactly?";
  private static final AffinityToken PIN = AffinityToken.builder().name("APIM-Backend-Affinity")
      .value(PIN_VALUE).domain("my-apim.azure-api.net").seenAt(Instant.parse("2025-06-01T12:00:00Z")).build();

  /** What a Redis-backed journal's toString says during an outage. */
  private static final String JOURNAL_STATE = "DownJournal[redis://cache:6379/0, UNAVAILABLE for 12 s]";

  /** The listener's repairFailed calls: chain, kind of break, and the reason it was given. */
  private final List<String> failures = new CopyOnWriteArrayList<>();
  private final List<String> reasons = new CopyOnWriteArrayList<>();
  private final Engine repairer = Engine.builder()
      .journal(new DownJournal())
      .listener(new AffinityListener() {
        @Override
        public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
          failures.add(chain + " " + cause.kind());
          reasons.add(reason);
        }
      })
      .build();

  @Test
  void unavailable_anyChain_incompleteWithNothingInIt() {
    ChainHistory history = ChainHistory.unavailable(ChainKey.response("resp_1"));

    assertThat(history.status()).isEqualTo(ChainHistory.Status.UNAVAILABLE);
    assertThat(history.isComplete()).isFalse();
    assertThat(history.chain()).isEqualTo(ChainKey.response("resp_1"));
    assertThat(history.segments()).isEmpty();
    assertThat(history.itemArrays()).isEmpty();
    assertThat(history.link()).isEmpty();
    assertThat(history.lastResponseId()).isEmpty();
    assertThat(history.turns()).isZero();
    assertThat(history.bytes()).isZero();
    assertThat(history).hasToString("ChainHistory[chain=response:resp_1, status=UNAVAILABLE, turns=0, bytes=0]");
    assertThat(ChainHistory.unavailable(ChainKey.conversation("conv_1")).status())
        .isEqualTo(ChainHistory.Status.UNAVAILABLE);
    assertThatThrownBy(() -> ChainHistory.unavailable(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void journalUnavailable_notFoundAfterRetry_failsNamingTheChain() throws IOException {
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2")), PIN, ChainScope.NONE);
    assertThat(turn.decide(400, NOT_FOUND).action()).isEqualTo(Action.RETRY);

    RepairDecision decision = turn.decide(400, NOT_FOUND);

    assertFailed(decision, ChainKey.response("resp_2"), Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertThat(MAPPER.readTree(decision.errorBody().orElseThrow()).at("/error/message").asText())
        .as("the caller's error carries the note's message").endsWith("(" + decision.message() + ")");
    assertThat(failures).as("the listener hears it").containsExactly("response:resp_2 PREVIOUS_RESPONSE_NOT_FOUND");
    assertThat(reasons).containsExactly(decision.message());
    assertThat(repairer.repairStats().repairsFailed()).isEqualTo(1);
  }

  @Test
  void journalUnavailable_pinnedBackendGone_failsNamingTheChain() {
    RepairDecision decision = repairer.repairTurn(bytes(request("resp_2")), PIN, ChainScope.NONE).decide(503, BREAKER_OPEN);

    assertFailed(decision, ChainKey.response("resp_2"), Kind.BACKEND_UNAVAILABLE);
    assertThat(failures).containsExactly("response:resp_2 BACKEND_UNAVAILABLE");
  }

  @Test
  void journalUnavailable_connectionFailedTwice_failsWithoutABody() {
    ChainTurn turn = repairer.repairTurn(bytes(request("resp_2")), PIN, ChainScope.NONE);
    assertThat(turn.decideConnectionFailure().action()).isEqualTo(Action.RETRY);

    RepairDecision decision = turn.decideConnectionFailure();

    assertFailed(decision, ChainKey.response("resp_2"), Kind.BACKEND_UNAVAILABLE);
    assertThat(decision.errorBody()).isEmpty();
  }

  @Test
  void journalUnavailable_conversation_failsNamingTheConversation() {
    ChainTurn turn = repairer.repairTurn(bytes("{\"model\":\"m\",\"conversation\":\"conv_1\",\"input\":\"" + CONTENT
        + "\"}"), PIN, ChainScope.NONE);
    assertThat(turn.decide(404, CONVERSATION_NOT_FOUND).action()).isEqualTo(Action.RETRY);

    RepairDecision decision = turn.decide(404, CONVERSATION_NOT_FOUND);

    assertFailed(decision, ChainKey.conversation("conv_1"), Kind.CONVERSATION_NOT_FOUND);
    assertThat(failures).containsExactly("conversation:conv_1 CONVERSATION_NOT_FOUND");
  }

  @Test
  void linkMissingFromAJournalThatAnswers_failsTheSameWay() {
    CaffeineHistoryJournal answering = CaffeineHistoryJournal.builder().executor(Runnable::run).build();
    Engine onAnswering = repairer.toBuilder().journal(answering).build();

    RepairDecision decision = onAnswering.repairTurn(bytes(request("resp_2")), PIN, ChainScope.NONE).decide(503, BREAKER_OPEN);

    assertThat(answering.history(ChainKey.response("resp_2")).status()).isEqualTo(ChainHistory.Status.MISSING_LINK);
    assertFailed(decision, ChainKey.response("resp_2"), Kind.BACKEND_UNAVAILABLE);
  }

  /** A FAIL: REPAIR_FAILED on {@code chain} after a {@code kind}; no content, pin or journal state. */
  private void assertFailed(RepairDecision decision, ChainKey chain, Kind kind) {
    assertThat(decision.action()).isEqualTo(Action.FAIL);
    assertThat(decision.cause()).map(ChainBreak::kind).contains(kind);
    ChainNote note = decision.note().orElseThrow();
    assertThat(note.chain()).isEqualTo(chain);
    assertThat(note.reason()).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
    assertThat(note.brokenBy()).contains(kind);
    assertThat(decision.message()).isEqualTo(note.getMessage());
    List<String> shown = new ArrayList<>(reasons);
    shown.add(decision.message());
    shown.add(String.valueOf(decision));
    decision.errorBody().ifPresent(body -> shown.add(new String(body, StandardCharsets.UTF_8)));
    for (String text : shown) {
      assertThat(text).as("no content, pin or store address")
          .doesNotContain(CONTENT).doesNotContain("secret").doesNotContain(PIN_VALUE).doesNotContain("redis://");
    }
  }

  private static String request(String previous) {
    return "{\"model\":\"gpt-4.1\",\"previous_response_id\":\"" + previous + "\",\"input\":\"" + CONTENT + "\"}";
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  /** A journal whose store is down: it records nothing and answers that it could not be read. */
  private static final class DownJournal implements HistoryJournal {
    @Override
    public void record(JournalTurn turn) {}

    @Override
    public void forget(ChainKey chain) {}

    @Override
    public void recordConversation(ChainKey conversation, byte[] items) {}

    @Override
    public ChainHistory history(ChainKey chain) {
      return ChainHistory.unavailable(chain);
    }

    @Override
    public void clear() {}

    @Override
    public long estimatedSize() {
      return 0;
    }

    @Override
    public String toString() {
      return JOURNAL_STATE;
    }
  }
}
