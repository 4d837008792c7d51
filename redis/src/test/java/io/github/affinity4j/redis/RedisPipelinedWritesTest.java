package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.JournalTurn;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 18, point 3: a bind and a journaled turn are sent without waiting for Redis' replies, in
 * order, bounded; on one node and on a Redis Cluster of three masters. Redis is made slow with
 * {@code CLIENT PAUSE … WRITE} on every master (reads still answer), so a write that was waited
 * for would still be waiting.
 */
@RequiresRedisServer
@Timeout(60)
@ParameterizedClass(name = "{0}")
@ValueSource(strings = {TestRedis.STANDALONE, TestRedis.CLUSTER})
final class RedisPipelinedWritesTest {

  private static RedisServer server;

  private final TestRedis redis;
  private final String prefix = "pipelined-" + UUID.randomUUID() + ":";
  private final List<AutoCloseable> closeables = new ArrayList<>();

  RedisPipelinedWritesTest(String deployment) {
    this.redis = TestRedis.of(deployment, server);
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

  @AfterEach
  void close() throws Exception {
    unpause();
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  @Test
  void pinnedTurn_redisSlowToWrite_putAndRecordReturnBeforeItReplies_onlyTheLookupWaited() throws Exception {
    RedisConnector connector = connector(b -> b.commandTimeout(Duration.ofSeconds(20)));
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector).build();
    store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("backend-a"));
    journal.record(turn("resp_1", null, "1"));

    // The turn: the pin lookup is waited for; then the bind and the journal entry.
    assertThat(store.get(ChainKey.response("resp_1")).map(AffinityToken::value)).contains("backend-a");
    pause();
    store.put(ChainKey.response("resp_2"), RedisAffinityStoreTest.token("backend-a"));
    journal.record(turn("resp_2", "resp_1", "2"));

    assertThat(connector.writesInFlight()).as("both sent, neither answered").isEqualTo(2);
    assertThat(redis.command("EXISTS", RedisKeys.pin(prefix, ChainKey.response("resp_2"))))
        .as("Redis has not run the bind yet").isEqualTo(":0");
    unpause();
    assertThat(connector.awaitWrites(Duration.ofSeconds(20))).isTrue();
    RedisConnector other = connector(b -> b);
    assertThat(RedisAffinityStore.builder().connector(other).build().get(ChainKey.response("resp_2")))
        .as("another instance sees the bind once Redis ran it").isPresent();
    assertThat(texts(RedisHistoryJournal.builder().connector(other).build().history(ChainKey.response("resp_2"))))
        .containsExactly("[\"in 1\"]", "[\"out 1\"]", "[\"in 2\"]", "[\"out 2\"]");
    assertThat(connector.droppedWrites()).isZero();
    assertThat(connector.fallbacks()).isZero();
  }

  @Test
  void writesThenReads_sameInstance_readsSeeEveryEarlierWrite() {
    RedisConnector connector = connector(b -> b);
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector).build();

    for (int i = 0; i < 200; i++) {
      store.put(ChainKey.response("resp_" + (i % 7)), RedisAffinityStoreTest.token("backend-" + i));
      journal.record(turn("t" + i, i == 0 ? null : "t" + (i - 1), Integer.toString(i)));
    }
    store.remove(ChainKey.response("resp_6"));

    // No wait for the replies: every read goes behind the writes on the same connection (per master).
    for (int k = 0; k < 6; k++) {
      int last = 199 - (199 - k) % 7;
      assertThat(store.get(ChainKey.response("resp_" + k)).map(AffinityToken::value))
          .as("resp_%s", k).contains("backend-" + last);
    }
    assertThat(store.get(ChainKey.response("resp_6"))).as("removed last").isEmpty();
    ChainHistory history = journal.history(ChainKey.response("t199"));
    assertThat(history.status()).as("%s", history).isEqualTo(ChainHistory.Status.COMPLETE);
    assertThat(history.turns()).isEqualTo(200);
  }

  @Test
  void redisSlow_pastMaxWritesInFlight_writesDroppedAndCounted_neverWaited() throws Exception {
    RedisConnector connector = connector(b -> b.maxWritesInFlight(3)
        .commandTimeout(Duration.ofSeconds(20)));
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector).build();
    assertThat(store.get(ChainKey.response("warm"))).isEmpty(); // connected, scripts aside
    pause();

    String log = RedisConnectorTest.captureLog(() -> {
      for (int i = 0; i < 4; i++) {
        store.put(ChainKey.response("resp_" + i), RedisAffinityStoreTest.token("backend-a"));
      }
      journal.record(turn("turn_1", null, "1"));
      journal.record(turn("turn_2", null, "2"));
    });

    assertThat(connector.writesInFlight()).isEqualTo(3);
    assertThat(store.droppedWrites()).as("the 4th bind").isEqualTo(1);
    assertThat(journal.droppedWrites()).as("both turns").isEqualTo(2);
    assertThat(connector.droppedWrites()).isEqualTo(3);
    assertThat(log.lines().filter(line -> line.contains("WARN") && line.contains("maxWritesInFlight")))
        .as("one WARN per warn interval, however many drops").hasSize(1);
    assertThat(log).doesNotContain("backend-a").doesNotContain("resp_3");
    unpause();
    assertThat(connector.awaitWrites(Duration.ofSeconds(20))).isTrue();
    RedisConnector other = connector(b -> b);
    RedisAffinityStore elsewhere = RedisAffinityStore.builder().connector(other).localFallbackMaximumSize(0).build();
    for (int i = 0; i < 3; i++) {
      assertThat(elsewhere.get(ChainKey.response("resp_" + i))).as("sent: resp_%s", i).isPresent();
    }
    assertThat(elsewhere.get(ChainKey.response("resp_3"))).as("dropped").isEmpty();
    assertThat(RedisHistoryJournal.builder().connector(other).localFallbackMaximumEntries(0).build()
        .history(ChainKey.response("turn_2")).status()).as("dropped").isEqualTo(ChainHistory.Status.MISSING_LINK);
    assertThat(connector.fallbacks()).as("a drop is not an outage").isZero();
  }

  @Test
  void waitForReplicas_recordStillWaitsForItsReply() throws Exception {
    RedisConnector connector = connector(b -> b.commandTimeout(Duration.ofMillis(300)));
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector).waitForReplicas(1).build();
    journal.record(turn("turn_0", null, "0")); // connected, scripts loaded
    pause();

    journal.record(turn("turn_1", null, "1"));

    assertThat(connector.writesInFlight()).as("nothing sent unawaited").isZero();
    assertThat(connector.isAvailable()).as("the record waited, and timed out on the paused Redis").isFalse();
  }

  private RedisConnector connector(UnaryOperator<RedisConnector.Builder> settings) {
    RedisConnector connector = settings.apply(redis.connector().keyPrefix(prefix)).build();
    closeables.add(connector);
    assertThat(connector.awaitConnection(Duration.ofSeconds(20))).isTrue();
    return connector;
  }

  private void pause() throws IOException {
    for (RedisServer master : masters()) {
      assertThat(master.command("CLIENT", "PAUSE", "30000", "WRITE")).isEqualTo("+OK");
    }
  }

  private void unpause() throws IOException {
    for (RedisServer master : masters()) {
      master.command("CLIENT", "UNPAUSE");
    }
  }

  private List<RedisServer> masters() throws IOException {
    return redis instanceof RedisCluster cluster ? cluster.masters() : List.of(server);
  }

  static JournalTurn turn(String id, String previous, String text) {
    return JournalTurn.builder().responseId(id).previousResponseId(previous)
        .input(bytes("[\"in " + text + "\"]")).output(bytes("[\"out " + text + "\"]")).build();
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static List<String> texts(ChainHistory history) {
    assertThat(history.status()).as("%s", history).isEqualTo(ChainHistory.Status.COMPLETE);
    List<String> texts = new ArrayList<>();
    for (byte[] array : history.itemArrays()) {
      texts.add(new String(array, StandardCharsets.UTF_8));
    }
    return texts;
  }
}
