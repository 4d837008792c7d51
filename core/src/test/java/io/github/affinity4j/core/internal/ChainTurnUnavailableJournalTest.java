package io.github.affinity4j.core.internal;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ErrorFixtures;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.internal.RepairDecision.Action;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * A repair that fails because the {@link HistoryJournal} could not be read ({@link
 * ChainHistory.Status#UNAVAILABLE}: its store is down) says so first, then names the journal's
 * state, and gives none of the advice meant for histories that were lost.
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

  private final List<String> failures = new CopyOnWriteArrayList<>();
  private final ChainRepairer repairer = ChainRepairer.builder()
      .journal(new DownJournal())
      .listener(new AffinityListener() {
        @Override
        public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
          failures.add(reason);
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
    assertThatThrownBy(() -> ChainHistory.unavailable(null)).isInstanceOf(NullPointerException.class)
        .hasMessageContaining("chain");
  }

  @Test
  void journalUnavailable_notFoundAfterRetry_failSaysFirstTheJournalCouldNotBeRead() throws IOException {
    ChainTurn turn = repairer.turn(bytes(request("resp_2")), PIN, ChainScope.NONE);
    assertThat(turn.decide(400, NOT_FOUND).action()).isEqualTo(Action.RETRY);

    RepairDecision decision = turn.decide(400, NOT_FOUND);

    assertThat(decision.action()).isEqualTo(Action.FAIL);
    String message = decision.message();
    assertThat(message).startsWith(ChainTurn.REPAIR_FAILED_PREFIX + " chain response:resp_2 after ");
    assertUnavailableReason(message);
    assertThat(MAPPER.readTree(decision.errorBody().orElseThrow()).at("/error/message").asText())
        .as("the caller's error carries it").endsWith("(" + message + ")");
    assertThat(failures).as("the listener hears the same").containsExactly(message);
  }

  @Test
  void journalUnavailable_pinnedBackendGone_failSaysFirstTheJournalCouldNotBeRead() {
    RepairDecision decision = repairer.turn(bytes(request("resp_2")), PIN, ChainScope.NONE).decide(503, BREAKER_OPEN);

    assertThat(decision.action()).isEqualTo(Action.FAIL);
    assertUnavailableReason(decision.message());
  }

  @Test
  void journalUnavailable_connectionFailedTwice_failSaysFirstTheJournalCouldNotBeRead() {
    ChainTurn turn = repairer.turn(bytes(request("resp_2")), PIN, ChainScope.NONE);
    assertThat(turn.decideConnectionFailure().action()).isEqualTo(Action.RETRY);

    RepairDecision decision = turn.decideConnectionFailure();

    assertThat(decision.action()).isEqualTo(Action.FAIL);
    assertThat(decision.errorBody()).isEmpty();
    assertUnavailableReason(decision.message());
  }

  @Test
  void journalUnavailable_conversation_failSaysTheJournalCouldNotBeReadNotThatItsStartIsUnknown() {
    ChainTurn turn = repairer.turn(bytes("{\"model\":\"m\",\"conversation\":\"conv_1\",\"input\":\"" + CONTENT
        + "\"}"), PIN, ChainScope.NONE);
    turn.decide(404, CONVERSATION_NOT_FOUND);

    RepairDecision decision = turn.decide(404, CONVERSATION_NOT_FOUND);

    assertThat(decision.action()).isEqualTo(Action.FAIL);
    assertThat(decision.message()).startsWith(ChainTurn.REPAIR_FAILED_PREFIX + " chain conversation:conv_1 after ")
        .doesNotContain("does not know how").doesNotContain("recordConversation");
    assertUnavailableReason(decision.message());
  }

  @Test
  void linkMissingFromAJournalThatAnswers_stillSaysNotInTheJournalWithItsAdvice() {
    ChainRepairer answering = repairer.toBuilder()
        .journal(CaffeineHistoryJournal.builder().executor(Runnable::run).build()).build();

    RepairDecision decision = answering.turn(bytes(request("resp_2")), PIN, ChainScope.NONE).decide(503, BREAKER_OPEN);

    assertThat(decision.message()).contains("response:resp_2 is not in the journal")
        .contains("maximumEntries").contains("share one HistoryJournal").doesNotContain("could not be read");
  }

  /** The reason, after the prefix and the break: first that the journal could not be read, then its state. */
  private static void assertUnavailableReason(String message) {
    String reason = message.substring(message.indexOf("): ") + 3);
    assertThat(reason).startsWith("the HistoryJournal could not be read: its store is unavailable")
        .endsWith("Journal: " + JOURNAL_STATE);
    assertThat(message)
        .as("no advice for lost histories").doesNotContain("not in the journal").doesNotContain("incomplete")
        .doesNotContain("maximumEntries").doesNotContain("share one HistoryJournal")
        .as("no content nor pin").doesNotContain(CONTENT).doesNotContain("secret").doesNotContain(PIN_VALUE);
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
