package io.github.affinity4j.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainHistory.Status;
import io.github.affinity4j.testsupport.MutableClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

final class CaffeineHistoryJournalTest {

  private final MutableClock clock = new MutableClock();

  @Test
  void history_chainOfThree_completeOldestFirst() {
    CaffeineHistoryJournal journal = journal().build();
    journal.record(turn("resp_1", null, "[\"in1\"]", "[\"out1\"]"));
    journal.record(turn("resp_2", "resp_1", "[\"in2\"]", "[\"out2\"]"));
    journal.record(turn("resp_3", "resp_2", "[\"in3\"]", "[\"out3\"]"));

    ChainHistory history = journal.history(ChainKey.response("resp_3"));

    assertThat(history.status()).isEqualTo(Status.COMPLETE);
    assertThat(texts(history)).containsExactly("[\"in1\"]", "[\"out1\"]", "[\"in2\"]", "[\"out2\"]",
        "[\"in3\"]", "[\"out3\"]");
    assertThat(history.turns()).isEqualTo(3);
    assertThat(history.bytes()).isEqualTo(3 * "[\"in1\"]".length() + 3 * "[\"out1\"]".length());
    assertThat(history.lastResponseId()).contains("resp_3");
    assertThat(texts(journal.history(ChainKey.response("resp_2")))).hasSize(4);
    assertThat(history.toString()).doesNotContain("in1").contains("COMPLETE");
  }

  @Test
  void history_branches_eachWalksItsOwnPath() {
    CaffeineHistoryJournal journal = journal().build();
    journal.record(turn("resp_1", null, "[1]", "[2]"));
    journal.record(turn("resp_a", "resp_1", "[3]", "[4]"));
    journal.record(turn("resp_b", "resp_1", "[5]", "[6]"));

    assertThat(texts(journal.history(ChainKey.response("resp_a")))).containsExactly("[1]", "[2]", "[3]", "[4]");
    assertThat(texts(journal.history(ChainKey.response("resp_b")))).containsExactly("[1]", "[2]", "[5]", "[6]");
  }

  @Test
  void history_linkNeverRecorded_missingLinkNamed() {
    CaffeineHistoryJournal journal = journal().build();
    journal.record(turn("resp_2", "resp_1", "[]", "[]"));
    journal.record(turn("resp_3", "resp_2", "[]", "[]"));

    ChainHistory history = journal.history(ChainKey.response("resp_3"));

    assertThat(history.status()).isEqualTo(Status.MISSING_LINK);
    assertThat(history.link()).contains(ChainKey.response("resp_1"));
    assertThat(history.turns()).isEqualTo(2);
    assertThat(history.itemArrays()).isEmpty();
    assertThat(journal.history(ChainKey.response("resp_9")).link()).contains(ChainKey.response("resp_9"));
  }

  @Test
  void history_chainUsedWithinExpiry_keepsItsOldestLinks() {
    CaffeineHistoryJournal journal = journal().expireAfterAccess(Duration.ofHours(1)).build();
    journal.record(turn("resp_1", null, "[1]", "[1]"));
    for (int i = 2; i <= 6; i++) {
      advance(Duration.ofMinutes(50)); // each turn comes before the last one expires, not the first
      journal.record(turn("resp_" + i, "resp_" + (i - 1), "[" + i + "]", "[" + i + "]"));
    }

    assertThat(journal.history(ChainKey.response("resp_6")).status())
        .as("recording a turn reads its ancestors, so the chain lives as a unit").isEqualTo(Status.COMPLETE);
    advance(Duration.ofMinutes(61));
    ChainHistory expired = journal.history(ChainKey.response("resp_6"));
    assertThat(expired.status()).isEqualTo(Status.MISSING_LINK);
    assertThat(expired.link()).contains(ChainKey.response("resp_6"));
    journal.cleanUp();
    assertThat(journal.estimatedSize()).isZero();
  }

  @Test
  void record_overMaximumEntries_evictsAndReportsMissing() {
    CaffeineHistoryJournal journal = journal().maximumEntries(3).build();
    for (int i = 1; i <= 10; i++) {
      journal.record(turn("resp_" + i, i == 1 ? null : "resp_" + (i - 1), "[]", "[]"));
    }
    journal.cleanUp();

    assertThat(journal.estimatedSize()).isLessThanOrEqualTo(3);
    assertThat(journal.history(ChainKey.response("resp_10")).isComplete()).isFalse();
  }

  @Test
  void record_overMaximumBytes_evictsByWeight() {
    CaffeineHistoryJournal journal = journal().maximumBytes(10_000).maximumBytesPerChain(5_000).build();
    String item = "[\"" + "x".repeat(1_000) + "\"]";
    for (int i = 1; i <= 20; i++) {
      journal.record(turn("resp_" + i, null, item, "[]"));
    }
    journal.cleanUp();

    long perEntry = CaffeineHistoryJournal.ENTRY_OVERHEAD + item.length() + 2;
    assertThat(journal.estimatedSize()).isLessThanOrEqualTo(10_000 / perEntry).isPositive();
  }

  @Test
  void record_chainPastBytesPerChain_notRepairableFromThereOnOlderTurnsKept() {
    // Entries small enough that the weight floor (maximumBytes / maximumEntries) stays under the overhead.
    CaffeineHistoryJournal journal = journal().maximumBytesPerChain(100).maximumEntries(1_000_000).build();
    String forty = "[\"" + "a".repeat(36) + "\"]";
    journal.record(turn("resp_1", null, forty, "[]"));     // 42 bytes
    journal.record(turn("resp_2", "resp_1", forty, "[]")); // 84
    long before = journal.weightedSize();
    journal.record(turn("resp_3", "resp_2", forty, "[]")); // 126: past the bound
    assertThat(journal.weightedSize() - before).as("a marker keeps no items")
        .isEqualTo(CaffeineHistoryJournal.ENTRY_OVERHEAD);
    journal.record(turn("resp_4", "resp_3", "[]", "[]"));  // small, but after the bound

    assertThat(journal.history(ChainKey.response("resp_2")).status()).isEqualTo(Status.COMPLETE);
    ChainHistory past = journal.history(ChainKey.response("resp_3"));
    assertThat(past.status()).isEqualTo(Status.TOO_LARGE);
    assertThat(past.link()).contains(ChainKey.response("resp_3"));
    assertThat(journal.history(ChainKey.response("resp_4")).link()).as("the first link past the bound")
        .contains(ChainKey.response("resp_3"));
    journal.record(turn("resp_2b", "resp_1", "[]", "[]"));
    assertThat(journal.history(ChainKey.response("resp_2b")).isComplete()).as("a branch under the bound").isTrue();
  }

  @Test
  void conversation_recordedCreationAndTurns_completeWithInitialItems() {
    CaffeineHistoryJournal journal = journal().build();
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[\"seed\"]"));
    assertThat(texts(journal.history(ChainKey.conversation("conv_1")))).containsExactly("[\"seed\"]");

    journal.record(conversationTurn("resp_1", "conv_1", "[\"in1\"]", "[\"out1\"]"));
    journal.record(conversationTurn("resp_2", "conv_1", "[\"in2\"]", "[\"out2\"]"));

    ChainHistory history = journal.history(ChainKey.conversation("conv_1"));
    assertThat(texts(history)).containsExactly("[\"seed\"]", "[\"in1\"]", "[\"out1\"]", "[\"in2\"]", "[\"out2\"]");
    assertThat(history.lastResponseId()).contains("resp_2");
    assertThat(texts(journal.history(ChainKey.response("resp_2")))).hasSize(5);
  }

  @Test
  void conversation_creationNotRecorded_neverComplete() {
    CaffeineHistoryJournal journal = journal().build();
    journal.record(conversationTurn("resp_1", "conv_1", "[]", "[]"));

    ChainHistory history = journal.history(ChainKey.conversation("conv_1"));
    assertThat(history.status()).isEqualTo(Status.MISSING_LINK);
    assertThat(history.link()).contains(ChainKey.conversation("conv_1"));
    assertThat(journal.history(ChainKey.conversation("conv_2")).link()).contains(ChainKey.conversation("conv_2"));
  }

  @Test
  void conversation_repairedTurnLinksToOldHead_historyStaysWhole() {
    CaffeineHistoryJournal journal = journal().build();
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[]"));
    journal.record(conversationTurn("resp_1", "conv_1", "[1]", "[2]"));
    // A replay: the new response continues the old head logically and becomes the head.
    journal.record(JournalTurn.builder().responseId("resp_new").previousResponseId("resp_1")
        .conversationId("conv_1").input(bytes("[3]")).output(bytes("[4]")).build());

    assertThat(texts(journal.history(ChainKey.conversation("conv_1"))))
        .containsExactly("[]", "[1]", "[2]", "[3]", "[4]");
  }

  @Test
  void history_conversationAndResponseWithTheSameId_neverMixed() {
    CaffeineHistoryJournal journal = journal().build();
    journal.recordConversation(ChainKey.conversation("same_id"), bytes("[\"conv\"]"));
    journal.record(turn("same_id", null, "[\"in\"]", "[\"out\"]"));

    assertThat(texts(journal.history(ChainKey.conversation("same_id")))).containsExactly("[\"conv\"]");
    assertThat(texts(journal.history(ChainKey.response("same_id")))).containsExactly("[\"in\"]", "[\"out\"]");
  }

  @Test
  void history_threadOrCycle_missingNeverLoops() {
    CaffeineHistoryJournal journal = journal().build();
    journal.record(turn("resp_a", "resp_b", "[]", "[]"));
    journal.record(turn("resp_b", "resp_a", "[]", "[]"));

    assertThat(journal.history(ChainKey.response("resp_a")).status()).isEqualTo(Status.MISSING_LINK);
    assertThat(journal.history(ChainKey.thread("thread_1")).status()).isEqualTo(Status.MISSING_LINK);
  }

  @Test
  void clear_forgetsEverything() {
    CaffeineHistoryJournal journal = journal().build();
    journal.record(turn("resp_1", null, "[]", "[]"));
    journal.clear();

    assertThat(journal.history(ChainKey.response("resp_1")).isComplete()).isFalse();
    assertThat(journal.estimatedSize()).isZero();
  }

  @Test
  void record_concurrentChains_allComplete() throws Exception {
    CaffeineHistoryJournal journal = CaffeineHistoryJournal.builder().build();
    int threads = 8;
    int turns = 50;
    CountDownLatch start = new CountDownLatch(1);
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    for (int t = 0; t < threads; t++) {
      int thread = t;
      pool.execute(() -> {
        try {
          start.await();
          for (int i = 0; i < turns; i++) {
            journal.record(turn("resp_" + thread + "_" + i, i == 0 ? null : "resp_" + thread + "_" + (i - 1),
                "[" + i + "]", "[]"));
            journal.record(conversationTurn("resp_c" + thread + "_" + i, "conv_shared", "[]", "[]"));
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      });
    }
    start.countDown();
    pool.shutdown();
    if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
      Thread.getAllStackTraces().forEach((thread, stack) -> System.err.println(thread + " " + List.of(stack)));
      throw new AssertionError("timed out");
    }
    assertThat(failures).isEmpty();
    for (int t = 0; t < threads; t++) {
      ChainHistory history = journal.history(ChainKey.response("resp_" + t + "_" + (turns - 1)));
      assertThat(history.isComplete()).isTrue();
      assertThat(history.turns()).isEqualTo(turns);
    }
    // Concurrent turns of one conversation form one line: every turn is reached from the head.
    journal.recordConversation(ChainKey.conversation("conv_shared"), bytes("[]"));
    assertThat(journal.history(ChainKey.conversation("conv_shared")).turns()).isEqualTo(threads * turns);
  }

  @Test
  void builder_defaults_documentedValues() {
    CaffeineHistoryJournal journal = CaffeineHistoryJournal.builder().build();

    assertThat(journal.maximumEntries()).isEqualTo(100_000);
    assertThat(journal.maximumBytes()).isEqualTo(64L << 20);
    assertThat(journal.maximumBytesPerChain()).isEqualTo(4L << 20);
    assertThat(journal.expireAfterAccess()).isEqualTo(Duration.ofHours(2));
    assertThat(journal.toString()).contains("maximumEntries=100000");
  }

  @Test
  void builder_badArguments_throw() {
    CaffeineHistoryJournal.Builder builder = CaffeineHistoryJournal.builder();

    assertThatThrownBy(() -> builder.maximumEntries(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.maximumBytes(-1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.maximumBytesPerChain(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.maximumBytesPerChain(Integer.MAX_VALUE))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.expireAfterAccess(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CaffeineHistoryJournal.builder().maximumBytes(1000).maximumBytesPerChain(2000).build())
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.clock(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> journal().build().record(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> JournalTurn.builder().responseId("bad id")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> JournalTurn.builder().responseId("resp_1").input(bytes("[]")).build())
        .isInstanceOf(NullPointerException.class);
  }

  private CaffeineHistoryJournal.Builder journal() {
    return CaffeineHistoryJournal.builder().clock(clock).executor(Runnable::run);
  }

  private void advance(Duration duration) {
    clock.advance(duration);
  }

  private static JournalTurn turn(String id, String previous, String input, String output) {
    return JournalTurn.builder().responseId(id).previousResponseId(previous)
        .input(bytes(input)).output(bytes(output)).build();
  }

  private static JournalTurn conversationTurn(String id, String conversation, String input, String output) {
    return JournalTurn.builder().responseId(id).conversationId(conversation)
        .input(bytes(input)).output(bytes(output)).build();
  }

  private static List<String> texts(ChainHistory history) {
    List<String> texts = new ArrayList<>();
    for (byte[] array : history.itemArrays()) {
      texts.add(new String(array, StandardCharsets.UTF_8));
    }
    return texts;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
