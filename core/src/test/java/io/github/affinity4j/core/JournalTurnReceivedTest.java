package io.github.affinity4j.core;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.internal.Engine;
import io.github.affinity4j.core.internal.RepairDecision;
import io.github.affinity4j.core.internal.Turn;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * A turn journaled lazily: the engine keeps the request and response bodies as received, and the
 * items are read out of them only when a history is read (or a journal that stores items apart
 * asks). Shown by changing the bodies after the turn is recorded: a journal that had copied or read
 * the items then would not see the change.
 */
final class JournalTurnReceivedTest {

  private static final String HOST = "my-apim.azure-api.net";
  private static final String PATH = "/openai/v1/responses";
  private static final String INPUT = "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"Hello\"}]";
  private static final String OUTPUT = "[{\"type\":\"message\",\"role\":\"assistant\",\"content\":"
      + "[{\"type\":\"output_text\",\"text\":\"World\"}]}]";

  private final ChainScope scope = ChainScope.builder().origin("https", HOST, 443, "/openai/v1").build();
  private final CaffeineHistoryJournal journal = CaffeineHistoryJournal.builder().build();

  @Test
  void jsonTurn_journaled_itemsReadFromTheBodiesOnlyWhenTheHistoryIs() {
    byte[] request = request("\"input\":" + INPUT);
    byte[] response = response("resp_1", OUTPUT);
    runTurn(Engine.builder().journal(journal).build(), request, response);

    replace(request, "Hello", "Jello");
    replace(response, "World", "Wordl");

    ChainHistory history = journal.history(ChainKey.response("resp_1").in(scope));
    assertThat(history.isComplete()).isTrue();
    assertThat(texts(history)).as("read out of the bodies as they are now, at the history's reading")
        .containsExactly(INPUT.replace("Hello", "Jello"), OUTPUT.replace("World", "Wordl"));
  }

  @Test
  void stringInput_journaled_readAsOneUserMessageWhenTheHistoryIs() {
    byte[] request = request("\"input\":\"Hello\"");
    runTurn(Engine.builder().journal(journal).build(), request, response("resp_1", OUTPUT));

    replace(request, "Hello", "Jello");

    assertThat(texts(journal.history(ChainKey.response("resp_1").in(scope))))
        .containsExactly(INPUT.replace("Hello", "Jello"), OUTPUT);
  }

  @Test
  void receivedTurn_journalThatStoresItemsApart_readsThemWhenAskedWithTheSizesOfItsItems() {
    List<JournalTurn> recorded = new ArrayList<>();
    HistoryJournal storesApart = new ForwardingJournal(journal) {
      @Override
      public void record(JournalTurn turn) {
        recorded.add(turn);
      }
    };
    byte[] request = request("\"input\":" + INPUT);
    runTurn(Engine.builder().journal(storesApart).build(), request, response("resp_1", OUTPUT));

    assertThat(recorded).hasSize(1);
    JournalTurn turn = recorded.get(0);
    assertThat(turn.bytes()).as("the items' size, as a turn built from arrays has")
        .isEqualTo(INPUT.length() + OUTPUT.length());
    replace(request, "Hello", "Jello");
    assertThat(new String(turn.input(), UTF_8)).isEqualTo(INPUT.replace("Hello", "Jello"));
    assertThat(new String(turn.output(), UTF_8)).isEqualTo(OUTPUT);
  }

  @Test
  void receivedTurn_weighedAsTheBodiesItHoldsAndMarkedPastTheChainBound() {
    byte[] request = request("\"input\":" + INPUT);
    byte[] response = response("resp_1", OUTPUT);
    runTurn(Engine.builder().journal(journal).build(), request, response);
    journal.cleanUp();

    long floor = (journal.maximumBytes() + journal.maximumEntries() - 1) / journal.maximumEntries();
    assertThat(journal.weightedSize()).as("every byte kept is weighed: both bodies, whole")
        .isEqualTo(Math.max(floor, CaffeineHistoryJournal.ENTRY_OVERHEAD + request.length + response.length));

    CaffeineHistoryJournal small = CaffeineHistoryJournal.builder()
        .maximumBytesPerChain(INPUT.length() + OUTPUT.length() - 1).build();
    runTurn(Engine.builder().journal(small).build(), request("\"input\":" + INPUT), response("resp_1", OUTPUT));
    small.cleanUp();

    assertThat(small.history(ChainKey.response("resp_1").in(scope)).status())
        .isEqualTo(ChainHistory.Status.TOO_LARGE);
    assertThat(small.weightedSize()).as("a marker keeps no bytes: weighed at the floor")
        .isEqualTo(floor);
  }

  private void runTurn(Engine engine, byte[] request, byte[] response) {
    Turn turn = engine.turn(scope, "POST", "https", HOST, PATH, request, false);
    assertThat(turn).isNotNull();
    turn.run(new Succeeding());
    turn.responseBody(response);
  }

  private static byte[] request(String input) {
    return ("{\"model\":\"gpt-4.1\",\"instructions\":\"" + "Be brief. ".repeat(40) + "\"," + input
        + ",\"store\":true}").getBytes(UTF_8);
  }

  private static byte[] response(String id, String output) {
    return ("{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":" + output
        + ",\"usage\":{\"total_tokens\":9}}").getBytes(UTF_8);
  }

  private static List<String> texts(ChainHistory history) {
    return history.segments().stream().map(segment -> new String(segment, UTF_8)).toList();
  }

  /** Overwrites the first {@code from} in {@code bytes} with {@code to}, of the same length. */
  private static void replace(byte[] bytes, String from, String to) {
    String text = new String(bytes, UTF_8);
    int at = text.indexOf(from);
    assertThat(at).isNotNegative();
    System.arraycopy(to.getBytes(UTF_8), 0, bytes, at, to.length());
  }

  /** One attempt, answered 2xx. */
  private static final class Succeeding implements Turn.Transport<Boolean> {
    @Override
    public Boolean send(byte @Nullable [] replayBody) {
      return true;
    }

    @Override
    public Turn.Outcome judge(Boolean attempt) {
      return Turn.Outcome.succeeded(null, () -> RoutingInfo.EMPTY);
    }

    @Override
    public void discard(Boolean attempt) {}

    @Override
    public Boolean deliver(Boolean attempt, RepairDecision decision) {
      return attempt;
    }
  }

  /** A journal that passes every call on; override what a test watches. */
  private static class ForwardingJournal implements HistoryJournal {
    private final HistoryJournal delegate;

    ForwardingJournal(HistoryJournal delegate) {
      this.delegate = delegate;
    }

    @Override
    public void record(JournalTurn turn) {
      delegate.record(turn);
    }

    @Override
    public void recordConversation(ChainKey conversation, byte[] items) {
      delegate.recordConversation(conversation, items);
    }

    @Override
    public ChainHistory history(ChainKey chain) {
      return delegate.history(chain);
    }

    @Override
    public void forget(ChainKey chain) {
      delegate.forget(chain);
    }

    @Override
    public void clear() {
      delegate.clear();
    }

    @Override
    public long estimatedSize() {
      return delegate.estimatedSize();
    }
  }
}
