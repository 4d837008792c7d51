package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainHistory.Status;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.JournalTurn;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The cases of CaffeineHistoryJournalTest, against a real Redis, and what only Redis adds: each on
 * one node and on a Redis Cluster of three masters.
 */
@RequiresRedisServer
@Timeout(60)
@ParameterizedClass(name = "{0}")
@ValueSource(strings = {TestRedis.STANDALONE, TestRedis.CLUSTER})
final class RedisHistoryJournalTest {

  private static RedisServer server;

  private final TestRedis redis;
  private final boolean cluster;
  private final String prefix = "test-" + UUID.randomUUID() + ":";
  private final List<RedisConnector> connectors = new ArrayList<>();
  private RedisHistoryJournal journal;

  RedisHistoryJournalTest(String deployment) {
    this.redis = TestRedis.of(deployment, server);
    this.cluster = deployment.equals(TestRedis.CLUSTER);
  }

  @BeforeAll
  static void startServer() {
    if (server == null) {
      server = RedisServer.launch();
    }
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
      server = null;
    }
  }

  @BeforeEach
  void connect() {
    journal = journal(RedisHistoryJournal.builder());
  }

  @AfterEach
  void close() {
    connectors.forEach(RedisConnector::close);
  }

  /** Waits for the replies of every write sent: what another instance, or the test, reads next sees them. */
  private void settle() {
    for (RedisConnector connector : connectors) {
      assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();
    }
  }

  @Test
  void history_chainOfThree_completeOldestFirst() {
    journal.record(turn("resp_1", null, "[\"in1\"]", "[\"out1\"]"));
    journal.record(turn("resp_2", "resp_1", "[\"in2\"]", "[\"out2\"]"));
    journal.record(turn("resp_3", "resp_2", "[\"in3\"]", "[\"out3\"]"));

    ChainHistory history = journal.history(ChainKey.response("resp_3"));

    assertThat(history.status()).isEqualTo(Status.COMPLETE);
    assertThat(texts(history)).containsExactly("[\"in1\"]", "[\"out1\"]", "[\"in2\"]", "[\"out2\"]",
        "[\"in3\"]", "[\"out3\"]");
    assertThat(history.turns()).isEqualTo(3);
    assertThat(history.lastResponseId()).contains("resp_3");
    assertThat(texts(journal.history(ChainKey.response("resp_2")))).hasSize(4);
  }

  @Test
  void history_recordedByAnotherInstance_complete() {
    journal.record(turn("resp_1", null, "[1]", "[2]"));
    settle(); // the caller's next request reaches the other instance after Redis ran the record
    RedisHistoryJournal elsewhere = journal(RedisHistoryJournal.builder());
    elsewhere.record(turn("resp_2", "resp_1", "[3]", "[4]"));
    settle(); // and back

    assertThat(texts(journal.history(ChainKey.response("resp_2")))).containsExactly("[1]", "[2]", "[3]", "[4]");
  }

  @Test
  void history_turnRecordedBeforeItsParentByAnotherInstance_wholeOnceTheParentArrives() {
    // Instance a's Redis (or the chain's master) was unavailable for turn 2: it waits in a's queue
    // while b, already served, records turn 3; a sends turn 2 once Redis answers it.
    RedisHistoryJournal a = journal(RedisHistoryJournal.builder());
    RedisHistoryJournal b = journal(RedisHistoryJournal.builder());
    a.record(turn("resp_1", null, "[1]", "[1]"));
    b.record(turn("resp_3", "resp_2", "[3]", "[3]"));
    b.record(turn("resp_4", "resp_3", "[4]", "[4]"));
    assertThat(journal(RedisHistoryJournal.builder()).history(ChainKey.response("resp_4")).link())
        .as("while turn 2 waits").contains(ChainKey.response("resp_2"));

    a.record(turn("resp_2", "resp_1", "[2]", "[2]"));

    ChainHistory history = journal(RedisHistoryJournal.builder()).history(ChainKey.response("resp_4"));
    assertThat(history.status()).isEqualTo(Status.COMPLETE);
    assertThat(history.turns()).isEqualTo(4);
    assertThat(history.lastResponseId()).contains("resp_4");
    assertThat(texts(history)).containsExactly("[1]", "[1]", "[2]", "[2]", "[3]", "[3]", "[4]", "[4]");
    assertThat(journal.history(ChainKey.response("resp_3")).turns()).isEqualTo(3);
  }

  @Test
  void history_itemsOfAnyBytes_keptAsTheyAre() {
    String items = "[\"gr\u00fc\u00dfe \u4e16\u754c \ud83d\udc4b\\n\\u0000 \r\n\"]";
    journal.record(turn("resp_1", null, items, "[]"));
    journal.record(turn("resp_2", "resp_1", "[]", items));

    assertThat(texts(journal.history(ChainKey.response("resp_2")))).containsExactly(items, "[]", "[]", items);
  }

  @Test
  void history_branches_eachWalksItsOwnPath() {
    journal.record(turn("resp_1", null, "[1]", "[2]"));
    journal.record(turn("resp_a", "resp_1", "[3]", "[4]"));
    journal.record(turn("resp_b", "resp_1", "[5]", "[6]"));

    assertThat(texts(journal.history(ChainKey.response("resp_a")))).containsExactly("[1]", "[2]", "[3]", "[4]");
    assertThat(texts(journal.history(ChainKey.response("resp_b")))).containsExactly("[1]", "[2]", "[5]", "[6]");
  }

  @Test
  void history_linkNeverRecorded_missingLinkNamed() {
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
  void history_linkForgottenInTheMiddle_missingNotPartial() {
    journal.record(turn("resp_1", null, "[1]", "[1]"));
    journal.record(turn("resp_2", "resp_1", "[2]", "[2]"));
    journal.record(turn("resp_3", "resp_2", "[3]", "[3]"));
    journal.forget(ChainKey.response("resp_2")); // deleted through the API

    ChainHistory history = journal.history(ChainKey.response("resp_3"));
    assertThat(history.status()).isEqualTo(Status.MISSING_LINK);
    assertThat(history.link()).contains(ChainKey.response("resp_2"));
    assertThat(history.turns()).isEqualTo(1);
    assertThat(journal.history(ChainKey.response("resp_1")).isComplete()).as("the turns before it stay").isTrue();
  }

  @Test
  void history_itemsEvicted_missingNotPartial() throws Exception {
    journal.record(turn("resp_1", null, "[1]", "[1]"));
    journal.record(turn("resp_2", "resp_1", "[2]", "[2]"));
    settle();
    for (String key : keys("seg:")) {
      redis.command("DEL", key); // expired, or evicted under maxmemory
    }

    ChainHistory history = journal.history(ChainKey.response("resp_2"));
    assertThat(history.status()).isEqualTo(Status.MISSING_LINK);
    assertThat(history.link()).contains(ChainKey.response("resp_2"));
    assertThat(history.itemArrays()).isEmpty();
  }

  @Test
  void record_turn_keyLayoutAndTwoHourExpiry() throws Exception {
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[]"));
    journal.record(conversationTurn("resp_1", "conv_1", "[1]", "[2]"));
    journal.record(turn("resp_2", "resp_1", "[3]", "[4]"));
    settle();

    // No scope: an empty field. The chain's root in the hash tag: its conversation.
    assertThat(redis.command("TYPE", prefix + "turn:{:c:conv_1}:resp_1")).isEqualTo("+string");
    assertThat(redis.command("TYPE", prefix + "turn:{:c:conv_1}:resp_2")).isEqualTo("+string");
    assertThat(redis.command("TYPE", prefix + "conv:{:c:conv_1}")).isEqualTo("+hash");
    assertThat(redis.command("GET", prefix + "root::resp_2")).as("the root pointer").isEqualTo("$8");
    assertThat(keys("seg:")).singleElement().satisfies(segment -> {
      assertThat(segment).isEqualTo(prefix + "seg:{:c:conv_1}:1");
      assertThat(redis.command("TYPE", segment)).isEqualTo("+hash");
      assertThat(redis.command("HEXISTS", segment, "resp_1")).isEqualTo(":1");
      assertThat(pttl(segment)).isBetween(7_190_000L, 7_200_000L);
    });
    for (String key : List.of("turn:{:c:conv_1}:resp_1", "conv:{:c:conv_1}", "root::resp_1", "root::resp_2")) {
      assertThat(pttl(prefix + key)).as(key).isBetween(7_190_000L, 7_200_000L);
    }
  }

  @Test
  void record_waitForReplicas_eachTurnOnAReplicaBeforeItReturns() throws Exception {
    if (cluster) {
      RedisCluster shared = RedisCluster.shared();
      RedisHistoryJournal waiting = journal(RedisHistoryJournal.builder().waitForReplicas(1));
      waiting.record(turn("resp_0", null, "[0]", "[0]")); // the connections to the masters opened
      Map<String, Long> waits = waitsRunBy(shared.masters(), () -> {
        waiting.record(turn("resp_1", null, "[1]", "[1]"));
        waiting.record(turn("resp_2", "resp_1", "[2]", "[2]"));
      });
      assertThat(waits).as("per turn, a WAIT on the chain's master and one on its pointer's")
          .containsEntry("wait", 4L);
      return;
    }
    try (RedisServer master = RedisServer.launch();
        RedisServer replica = RedisServer.launch("--replicaof", "127.0.0.1", Integer.toString(master.port()))) {
      RedisConnector connector = RedisConnector.builder().uri(master.uri()).keyPrefix(prefix).build();
      connectors.add(connector);
      assertThat(connector.awaitConnection(Duration.ofSeconds(20))).isTrue();
      RedisHistoryJournal waiting = RedisHistoryJournal.builder().connector(connector).waitForReplicas(1).build();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!String.valueOf(replica.call("INFO", "replication")).contains("master_link_status:up")) {
        assertThat(System.nanoTime()).as("replica in sync within 20 s").isLessThan(deadline);
        TimeUnit.MILLISECONDS.sleep(20); // polling a process we started
      }

      Map<String, Long> waits = waitsRunBy(List.of(master), () -> {
        for (int i = 1; i <= 5; i++) {
          waiting.record(turn("resp_" + i, i == 1 ? null : "resp_" + (i - 1), "[" + i + "]", "[]"));
          assertThat(replica.command("EXISTS", prefix + "turn:{:r:resp_1}:resp_" + i))
              .as("turn %d on the replica when record returns", i).isEqualTo(":1");
        }
      });
      assertThat(waits).as("one WAIT per turn").containsEntry("wait", 5L);
      assertThat(waiting.history(ChainKey.response("resp_5")).turns()).isEqualTo(5);
    }
  }

  /** How often each of {@code masters} ran WAIT during {@code action}, from INFO commandstats. */
  private static Map<String, Long> waitsRunBy(List<RedisServer> masters, RedisConnectorTest.Action action)
      throws Exception {
    for (RedisServer master : masters) {
      master.call("CONFIG", "RESETSTAT");
    }
    action.run();
    Map<String, Long> calls = new HashMap<>();
    for (RedisServer master : masters) {
      for (String line : String.valueOf(master.call("INFO", "commandstats")).split("\r?\n")) {
        if (line.startsWith("cmdstat_wait:")) {
          calls.merge("wait", Long.parseLong(line.replaceAll("^[^:]+:calls=(\\d+),.*", "$1")), Long::sum);
        }
      }
    }
    return calls;
  }

  @Test
  void record_chain_everyKeyButItsRootPointersInOneSlot() throws Exception {
    journal.record(turn("resp_1", null, "[1]", "[1]"));
    journal.record(turn("resp_2", "resp_1", "[2]", "[2]"));
    journal.record(turn("resp_2b", "resp_1", "[b]", "[b]"));
    settle();

    List<String> chain = keys("").stream().filter(key -> !key.startsWith(prefix + "root:")).toList();
    assertThat(chain).containsExactlyInAnyOrder(prefix + "turn:{:r:resp_1}:resp_1", prefix + "turn:{:r:resp_1}:resp_2",
        prefix + "turn:{:r:resp_1}:resp_2b", prefix + "seg:{:r:resp_1}:1");
    RedisCluster slots = RedisCluster.shared();
    long slot = slots.slot(prefix + "seg:{:r:resp_1}:#"); // the segment counter, too
    for (String key : chain) {
      assertThat(slots.slot(key)).as(key).isEqualTo(slot);
    }
    assertThat(keys("root:")).containsExactlyInAnyOrder(prefix + "root::resp_1", prefix + "root::resp_2",
        prefix + "root::resp_2b");
  }

  @Test
  void record_chainInUse_keepsEveryLinkItNeedsAsLongAsItsNewestTurn() throws Exception {
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[0]"));
    journal.record(conversationTurn("resp_1", "conv_1", "[1]", "[1]"));
    for (int i = 2; i <= 5; i++) {
      journal.record(turn("resp_" + i, "resp_" + (i - 1), "[" + i + "]", "[" + i + "]"));
    }
    journal.record(turn("resp_2b", "resp_1", "[b]", "[b]")); // a branch
    // As if 110 minutes had passed since anything was last used.
    for (String key : keys("")) {
      redis.command("PEXPIRE", key, "600000");
    }

    journal.record(turn("resp_6", "resp_5", "[6]", "[6]"));
    // What would expire before the new turn does: gone.
    for (String key : keys("")) {
      if (pttl(key) < 7_100_000L) {
        redis.command("DEL", key);
      }
    }

    ChainHistory history = journal.history(ChainKey.response("resp_6"));
    assertThat(history.status()).as("the chain in use kept its start").isEqualTo(Status.COMPLETE);
    assertThat(texts(history)).hasSize(13).startsWith("[0]", "[1]", "[1]").endsWith("[6]", "[6]");
  }

  @Test
  void record_chainAcrossManySegmentsInUse_keepsEveryLinkItNeedsAsLongAsItsNewestTurn() throws Exception {
    journal = journal(RedisHistoryJournal.builder().segmentTurns(2));
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[0]"));
    journal.record(conversationTurn("resp_1", "conv_1", "[1]", "[1]"));
    for (int i = 2; i <= 9; i++) {
      journal.record(turn("resp_" + i, "resp_" + (i - 1), "[" + i + "]", "[" + i + "]"));
    }
    journal.record(turn("resp_3b", "resp_3", "[b]", "[b]")); // a branch
    assertThat(keys("seg:")).as("two turns a segment").hasSize(6);
    for (String key : keys("")) {
      redis.command("PEXPIRE", key, "600000");
    }

    journal.record(turn("resp_10", "resp_9", "[10]", "[10]"));
    for (String key : keys("")) {
      if (pttl(key) < 7_100_000L) {
        redis.command("DEL", key);
      }
    }

    ChainHistory history = journal.history(ChainKey.response("resp_10"));
    assertThat(history.status()).as("every segment of the chain lives as long as its newest turn")
        .isEqualTo(Status.COMPLETE);
    assertThat(history.turns()).isEqualTo(10);
    assertThat(texts(history)).startsWith("[0]", "[1]", "[1]", "[2]");
    assertThat(journal.history(ChainKey.response("resp_3b")).status()).as("a branch nobody used: expired")
        .isEqualTo(Status.MISSING_LINK);
  }

  @Test
  void record_chainThroughMoreThan64Segments_tooLargeFromThereOlderTurnsKept() {
    journal = journal(RedisHistoryJournal.builder().segmentTurns(1));
    for (int i = 0; i < 70; i++) {
      journal.record(turn("resp_" + i, i == 0 ? null : "resp_" + (i - 1), "[" + i + "]", "[]"));
    }

    assertThat(journal.history(ChainKey.response("resp_63")).turns()).as("64 segments").isEqualTo(64);
    ChainHistory past = journal.history(ChainKey.response("resp_69"));
    assertThat(past.status()).isEqualTo(Status.TOO_LARGE);
    assertThat(past.link()).contains(ChainKey.response("resp_64"));
  }

  @Test
  void record_sameResponseTwice_laterRecordKeptAndForgetFindsEveryCopy() {
    journal.record(turn("resp_1", null, "[\"queued\"]", "[]"));
    journal.record(turn("resp_2", "resp_1", "[2]", "[2]"));
    journal.record(turn("resp_1", null, "[\"completed\"]", "[\"done\"]")); // a background response

    assertThat(texts(journal.history(ChainKey.response("resp_2"))))
        .containsExactly("[\"completed\"]", "[\"done\"]", "[2]", "[2]");
    journal.forget(ChainKey.response("resp_1"));
    assertThat(journal.history(ChainKey.response("resp_2")).status()).as("no earlier copy replayed")
        .isEqualTo(Status.MISSING_LINK);
  }

  @Test
  void history_read_keepsEveryLinkItReadAsLongAsItsNewestTurn() throws Exception {
    journal.record(turn("resp_1", null, "[1]", "[1]"));
    journal.record(turn("resp_2", "resp_1", "[2]", "[2]"));
    for (String key : keys("")) {
      redis.command("PEXPIRE", key, "1000");
    }

    assertThat(journal.history(ChainKey.response("resp_2")).isComplete()).isTrue();
    for (String key : keys("")) {
      if (pttl(key) < 7_100_000L) {
        redis.command("DEL", key);
      }
    }
    assertThat(journal.history(ChainKey.response("resp_2")).isComplete()).isTrue();
  }

  @Test
  void record_chainPastBytesPerChain_notRepairableFromThereOnOlderTurnsKept() throws Exception {
    journal = journal(RedisHistoryJournal.builder().maximumBytesPerChain(100));
    String forty = "[\"" + "a".repeat(36) + "\"]";
    journal.record(turn("resp_1", null, forty, "[]"));     // 42 bytes
    journal.record(turn("resp_2", "resp_1", forty, "[]")); // 84
    journal.record(turn("resp_3", "resp_2", forty, "[]")); // 126: past the bound
    journal.record(turn("resp_4", "resp_3", "[]", "[]"));  // small, but after the bound

    assertThat(journal.history(ChainKey.response("resp_2")).status()).isEqualTo(Status.COMPLETE);
    ChainHistory past = journal.history(ChainKey.response("resp_3"));
    assertThat(past.status()).isEqualTo(Status.TOO_LARGE);
    assertThat(past.link()).contains(ChainKey.response("resp_3"));
    assertThat(journal.history(ChainKey.response("resp_4")).link()).as("the first link past the bound")
        .contains(ChainKey.response("resp_3"));
    for (String segment : keys("seg:")) {
      assertThat(redis.command("HEXISTS", segment, "resp_3")).as("a marker keeps no items").isEqualTo(":0");
    }
    journal.record(turn("resp_2b", "resp_1", "[]", "[]"));
    assertThat(journal.history(ChainKey.response("resp_2b")).isComplete()).as("a branch under the bound").isTrue();
  }

  @Test
  void history_defaultBound_fourMiBChainsReplayedOneMoreByteNot() {
    String big = "[\"" + "x".repeat((2 << 20) - 4) + "\"]"; // 2 MiB
    journal.record(turn("resp_1", null, big, "[]"));
    journal.record(turn("resp_2", "resp_1", big, "[]"));     // 4 MiB + 4 bytes of "[]" twice: past
    journal.record(turn("resp_2b", "resp_1", big.substring(0, big.length() - 4) + "\"]", ""));

    assertThat(journal.history(ChainKey.response("resp_2")).status()).isEqualTo(Status.TOO_LARGE);
    ChainHistory exact = journal.history(ChainKey.response("resp_2b"));
    assertThat(exact.status()).isEqualTo(Status.COMPLETE);
    assertThat(exact.bytes()).isEqualTo(4L << 20);
  }

  @Test
  void conversation_recordedCreationAndTurns_completeWithInitialItems() {
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
    journal.record(conversationTurn("resp_1", "conv_1", "[]", "[]"));

    ChainHistory history = journal.history(ChainKey.conversation("conv_1"));
    assertThat(history.status()).isEqualTo(Status.MISSING_LINK);
    assertThat(history.link()).contains(ChainKey.conversation("conv_1"));
    assertThat(journal.history(ChainKey.conversation("conv_2")).link()).contains(ChainKey.conversation("conv_2"));
  }

  @Test
  void conversation_creationRecordedAfterTurns_keepsItsLatestTurn() {
    journal.record(conversationTurn("resp_1", "conv_1", "[1]", "[2]"));
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[0]"));

    assertThat(texts(journal.history(ChainKey.conversation("conv_1")))).containsExactly("[0]", "[1]", "[2]");
  }

  @Test
  void conversation_repairedTurnLinksToOldHead_historyStaysWhole() {
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[]"));
    journal.record(conversationTurn("resp_1", "conv_1", "[1]", "[2]"));
    journal.record(JournalTurn.builder().responseId("resp_new").previousResponseId("resp_1")
        .conversationId("conv_1").input(bytes("[3]")).output(bytes("[4]")).build());

    assertThat(texts(journal.history(ChainKey.conversation("conv_1"))))
        .containsExactly("[]", "[1]", "[2]", "[3]", "[4]");
  }

  @Test
  void history_threadOrCycle_missingNeverLoops() {
    journal.record(turn("resp_a", "resp_b", "[]", "[]"));
    journal.record(turn("resp_b", "resp_a", "[]", "[]"));

    assertThat(journal.history(ChainKey.response("resp_a")).status()).isEqualTo(Status.MISSING_LINK);
    assertThat(journal.history(ChainKey.thread("thread_1")).status()).isEqualTo(Status.MISSING_LINK);
  }

  @Test
  void history_unreadableRecord_missingNotThrown() throws Exception {
    redis.command("SET", prefix + "turn:{:r:resp_1}:resp_1", "not a turn");
    redis.command("SET", prefix + "root::resp_1", "r:resp_1");

    assertThat(journal.history(ChainKey.response("resp_1")).status()).isEqualTo(Status.MISSING_LINK);
  }

  @Test
  void history_redisStoppedThenBackEmptyWithoutLocalFallback_unavailableWhileDownMissingOnceItAnswers()
      throws Exception {
    Assumptions.assumeFalse(cluster, "one node stopped: a cluster's master lost is RedisClusterFailoverTest");
    try (RedisServer own = RedisServer.launch()) {
      CountDownLatch available = new CountDownLatch(1);
      RedisConnector connector = RedisConnector.builder().uri(own.uri()).keyPrefix(prefix)
          .retryInterval(Duration.ofMillis(20))
          .listener(new RedisListener() {
            @Override
            public void available(Duration outage) {
              available.countDown();
            }
          })
          .build();
      connectors.add(connector);
      RedisHistoryJournal down = RedisHistoryJournal.builder().connector(connector)
          .localFallbackMaximumEntries(0).build();
      down.record(turn("resp_1", null, "[1]", "[1]"));
      down.record(turn("resp_2", "resp_1", "[2]", "[2]"));
      assertThat(down.history(ChainKey.response("resp_2")).isComplete()).isTrue();
      settle();

      own.stop();
      ChainHistory whileDown = down.history(ChainKey.response("resp_2"));
      ChainHistory skipped = down.history(ChainKey.conversation("conv_1")); // within the retry interval

      assertThat(whileDown.status()).as("Redis said nothing about the chain").isEqualTo(Status.UNAVAILABLE);
      assertThat(whileDown.link()).isEmpty();
      assertThat(skipped.status()).isEqualTo(Status.UNAVAILABLE);
      assertThat(down.toString()).contains("UNAVAILABLE");

      own.start(); // empty: no snapshot, so the chain is gone for real
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!available.await(20, TimeUnit.MILLISECONDS)) { // Lettuce reconnects in the background
        assertThat(System.nanoTime()).as("Redis answers again within 30 s").isLessThan(deadline);
        down.history(ChainKey.response("resp_2"));
      }
      ChainHistory back = down.history(ChainKey.response("resp_2"));
      assertThat(back.status()).as("absent from a Redis that answers: missing").isEqualTo(Status.MISSING_LINK);
      assertThat(back.link()).contains(ChainKey.response("resp_2"));
    }
  }

  @Test
  void history_connectorClosed_unavailableUnlessKeptLocally() {
    RedisConnector connector = redis.connector().keyPrefix(prefix).build();
    RedisHistoryJournal closed = RedisHistoryJournal.builder().connector(connector).build();
    closed.record(turn("resp_1", null, "[]", "[]"));
    journal.record(turn("resp_9", null, "[]", "[]")); // by another instance
    connector.close();

    assertThat(closed.history(ChainKey.response("resp_9")).status()).isEqualTo(Status.UNAVAILABLE);
    assertThat(closed.history(ChainKey.response("resp_1")).status()).as("its own turn, kept locally")
        .isEqualTo(Status.COMPLETE);
  }

  @Test
  void clearAndEstimatedSize_onlyThisPrefix() throws Exception {
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[]"));
    journal.record(turn("resp_1", null, "[]", "[]"));
    journal.record(turn("resp_2", "resp_1", "[]", "[]"));
    redis.command("SET", prefix + "pin:r::resp_1", "x");
    settle();
    assertThat(journal.estimatedSize()).isEqualTo(3);

    journal.clear();

    assertThat(journal.history(ChainKey.response("resp_1")).isComplete()).isFalse();
    assertThat(journal.estimatedSize()).isZero();
    assertThat(keys("seg:")).isEmpty();
    assertThat(redis.command("EXISTS", prefix + "pin:r::resp_1")).as("pins are the store's").isEqualTo(":1");
  }

  @Test
  void record_oneConversationFromManyInstancesConcurrently_serialisedNoTurnLost() throws Exception {
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[]"));
    int instances = 4;
    int turnsEach = 50;
    List<RedisHistoryJournal> journals = new ArrayList<>();
    for (int i = 0; i < instances; i++) {
      journals.add(journal(RedisHistoryJournal.builder()));
    }
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(instances);
    for (int i = 0; i < instances; i++) {
      RedisHistoryJournal mine = journals.get(i);
      int instance = i;
      pool.execute(() -> {
        try {
          start.await();
          for (int t = 0; t < turnsEach; t++) {
            mine.record(conversationTurn("resp_" + instance + "_" + t, "conv_1", "[" + instance + "]", "[" + t + "]"));
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      });
    }
    start.countDown();
    pool.shutdown();
    assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    settle();

    assertThat(failures).isEmpty();
    ChainHistory history = journal.history(ChainKey.conversation("conv_1"));
    assertThat(history.status()).isEqualTo(Status.COMPLETE);
    assertThat(history.turns()).as("every turn linked after the one before it").isEqualTo(instances * turnsEach);
    for (int i = 0; i < instances; i++) {
      List<String> outputs = new ArrayList<>();
      List<String> texts = texts(history);
      for (int s = 1; s < texts.size(); s += 2) {
        if (texts.get(s).equals("[" + i + "]")) {
          outputs.add(texts.get(s + 1));
        }
      }
      assertThat(outputs).as("instance %d's turns, in its order", i).hasSize(turnsEach)
          .isEqualTo(java.util.stream.IntStream.range(0, turnsEach).mapToObj(t -> "[" + t + "]").toList());
    }
  }

  @Test
  void record_concurrentChains_allComplete() throws Exception {
    int threads = 8;
    int turns = 30;
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    for (int i = 0; i < threads; i++) {
      int chain = i;
      pool.execute(() -> {
        try {
          start.await();
          for (int t = 1; t <= turns; t++) {
            journal.record(turn("resp_" + chain + "_" + t, t == 1 ? null : "resp_" + chain + "_" + (t - 1),
                "[" + t + "]", "[]"));
          }
        } catch (Throwable e) {
          failures.add(e);
        }
      });
    }
    start.countDown();
    pool.shutdown();
    assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();

    assertThat(failures).isEmpty();
    for (int i = 0; i < threads; i++) {
      assertThat(journal.history(ChainKey.response("resp_" + i + "_" + turns)).turns()).isEqualTo(turns);
    }
  }

  @Test
  void builder_defaultsAndBadArguments() {
    assertThat(journal.maximumBytesPerChain()).isEqualTo(4L << 20);
    assertThat(journal.expireAfterAccess()).isEqualTo(Duration.ofHours(2));
    assertThat(journal.toString()).contains(redis.address()).contains("available");
    assertThatThrownBy(() -> RedisHistoryJournal.builder().build()).hasMessageContaining("RedisConnector.builder()");
    assertThatThrownBy(() -> RedisHistoryJournal.builder().maximumBytesPerChain(0)).hasMessageContaining("4L << 20");
    assertThatThrownBy(() -> RedisHistoryJournal.builder().expireAfterAccess(Duration.ofNanos(1)))
        .hasMessageContaining("Duration.ofHours(2)");
    assertThat(journal.localFallbackMaximumEntries()).isEqualTo(10_000);
    assertThat(journal.localFallbackMaximumBytes()).isEqualTo(16L << 20);
    assertThatThrownBy(() -> RedisHistoryJournal.builder().localFallbackMaximumEntries(-1)).hasMessageContaining("0 turns");
    assertThatThrownBy(() -> RedisHistoryJournal.builder().localFallbackMaximumBytes(0)).hasMessageContaining("16L << 20");
  }

  private RedisHistoryJournal journal(RedisHistoryJournal.Builder builder) {
    RedisConnector connector = redis.connector().keyPrefix(prefix).build();
    connectors.add(connector);
    // Connected before the test: a first command slower than the timeout on a loaded machine would
    // be answered from the local fallback, not from Redis.
    assertThat(connector.awaitConnection(Duration.ofSeconds(20))).isTrue();
    return builder.connector(connector).build();
  }

  private long pttl(String key) throws Exception {
    settle(); // a record returns before Redis ran it
    return Long.parseLong(redis.command("PTTL", key).substring(1));
  }

  /** This test's keys in a section ("" for all), but the chains' segment counters. */
  private List<String> keys(String section) throws Exception {
    settle(); // a record returns before Redis ran it
    return redis.keys(prefix + section + "*").stream().filter(key -> !key.endsWith(":#")).toList();
  }

  private static JournalTurn turn(String id, String previous, String input, String output) {
    return JournalTurn.builder().responseId(id).previousResponseId(previous)
        .input(bytes(input)).output(bytes(output)).build();
  }

  private static JournalTurn conversationTurn(String id, String conversation, String input, String output) {
    return JournalTurn.builder().responseId(id).conversationId(conversation)
        .input(bytes(input)).output(bytes(output)).build();
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static List<String> texts(ChainHistory history) {
    List<String> texts = new ArrayList<>();
    for (byte[] array : history.itemArrays()) {
      texts.add(new String(array, StandardCharsets.UTF_8));
    }
    return texts;
  }
}
