package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainHistory.Status;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.JournalTurn;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 14, row 10: with Redis down, one instance keeps its own chains pinned and repairable from
 * its bounded local fallback, and Redis gets what it kept once it answers again.
 */
@RequiresRedisServer
@Timeout(60)
final class RedisLocalFallbackTest {

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final CountDownLatch available = new CountDownLatch(1);

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  @Test
  void redisStoppedMidRun_ownChainsKeepPinsAndReplayLocally_sentToRedisOnceItAnswers() throws Exception {
    RedisServer server = RedisServer.launch();
    closeables.add(server);
    RedisConnector connector = connector(server.uri());
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector).build();
    store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("backend-1"));
    store.put(ChainKey.response("resp_2"), RedisAffinityStoreTest.token("backend-1"));
    journal.record(turn("resp_1", null, "1"));
    journal.record(turn("resp_2", "resp_1", "2"));
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();

    server.stop();
    assertThat(store.get(ChainKey.response("resp_2")).map(AffinityToken::value)).as("its pin, kept")
        .contains("backend-1");
    assertThat(texts(journal.history(ChainKey.response("resp_2")))).as("repairable from the local fallback")
        .containsExactly("[\"in 1\"]", "[\"out 1\"]", "[\"in 2\"]", "[\"out 2\"]");
    // The chain goes on while Redis is down, and a new one starts.
    store.put(ChainKey.response("resp_3"), RedisAffinityStoreTest.token("backend-1"));
    journal.record(turn("resp_3", "resp_2", "3"));
    journal.record(turn("new_1", null, "n1"));
    journal.record(turn("new_2", "new_1", "n2"));
    store.put(ChainKey.response("new_2"), RedisAffinityStoreTest.token("backend-2"));
    journal.recordConversation(ChainKey.conversation("conv_1"), bytes("[\"seed\"]"));
    journal.record(JournalTurn.builder().responseId("conv_turn").conversationId("conv_1")
        .input(bytes("[\"c\"]")).output(bytes("[\"c\"]")).build());
    journal.record(turn("deleted_1", null, "d"));
    journal.forget(ChainKey.response("deleted_1"));

    assertThat(connector.isAvailable()).isFalse();
    assertThat(store.get(ChainKey.response("resp_3"))).isPresent();
    assertThat(journal.history(ChainKey.response("resp_3")).turns()).isEqualTo(3);
    assertThat(journal.history(ChainKey.response("new_2")).turns()).isEqualTo(2);
    assertThat(journal.history(ChainKey.conversation("conv_1")).status())
        .as("which turn is a conversation's latest, only Redis knows").isEqualTo(Status.UNAVAILABLE);
    assertThat(journal.history(ChainKey.response("deleted_1")).status()).isEqualTo(Status.UNAVAILABLE);
    assertThat(journal.toString()).contains("7 waiting for Redis");
    assertThat(store.toString()).contains("2 waiting for Redis");

    server.start(); // empty: the test server keeps no snapshot
    awaitAvailable(store);

    // Redis is the source again, and has what this instance kept meanwhile.
    assertThat(journal.toString()).contains("0 waiting for Redis");
    assertThat(store.toString()).contains("0 waiting for Redis");
    try (RedisConnector elsewhere = RedisConnector.builder().uri(server.uri()).keyPrefix("fallback:").build()) {
      RedisAffinityStore otherStore = RedisAffinityStore.builder().connector(elsewhere).localFallbackMaximumSize(0).build();
      RedisHistoryJournal otherJournal = RedisHistoryJournal.builder().connector(elsewhere)
          .localFallbackMaximumEntries(0).build();
      assertThat(otherStore.get(ChainKey.response("resp_3")).map(AffinityToken::value)).contains("backend-1");
      assertThat(otherStore.get(ChainKey.response("new_2")).map(AffinityToken::value)).contains("backend-2");
      assertThat(otherStore.get(ChainKey.response("resp_1"))).as("bound before the outage: lost with Redis").isEmpty();
      assertThat(texts(otherJournal.history(ChainKey.response("new_2")))).hasSize(4);
      ChainHistory resp3 = otherJournal.history(ChainKey.response("resp_3"));
      assertThat(resp3.status()).as("its older turns were lost with Redis").isEqualTo(Status.MISSING_LINK);
      assertThat(resp3.link()).contains(ChainKey.response("resp_2"));
      assertThat(resp3.turns()).as("the turn recorded during the outage was sent").isEqualTo(1);
      assertThat(texts(otherJournal.history(ChainKey.conversation("conv_1")))).as("linked once sent")
          .containsExactly("[\"seed\"]", "[\"c\"]", "[\"c\"]");
      assertThat(otherJournal.history(ChainKey.response("deleted_1")).status()).as("sent in order: still forgotten")
          .isEqualTo(Status.MISSING_LINK);
    }
    assertThat(store.get(ChainKey.response("resp_1"))).as("Redis is the source again").isEmpty();
  }

  @Test
  void redisKilledWithWritesInFlight_nothingLost_writtenLaterInOrder() throws Exception {
    RedisServer server = RedisServer.launch();
    closeables.add(server);
    RedisConnector connector = connector(RedisConnector.builder().uri(server.uri())
        .commandTimeout(Duration.ofSeconds(1)));
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector).build();
    journal.record(turn("resp_1", null, "1"));
    store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("backend-1"));
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();

    // Redis stops running writes; the turns' writes are sent, and wait for their replies.
    assertThat(server.command("CLIENT", "PAUSE", "60000", "WRITE")).isEqualTo("+OK");
    store.put(ChainKey.response("resp_2"), RedisAffinityStoreTest.token("backend-2"));
    journal.record(turn("resp_2", "resp_1", "2"));
    store.put(ChainKey.response("resp_2"), RedisAffinityStoreTest.token("backend-3"));
    journal.record(turn("resp_3", "resp_2", "3"));
    assertThat(connector.writesInFlight()).isEqualTo(4);
    server.kill();

    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).as("every write failed").isTrue();
    assertThat(connector.isAvailable()).isFalse();
    assertThat(store.toString()).as("the latest bind of the key, once").contains("1 waiting for Redis");
    assertThat(journal.toString()).contains("2 waiting for Redis");
    journal.record(turn("resp_4", "resp_3", "4")); // during the outage: queued behind them
    assertThat(journal.toString()).contains("3 waiting for Redis");
    assertThat(store.get(ChainKey.response("resp_2")).map(AffinityToken::value)).contains("backend-3");

    server.start(); // empty: the test server keeps no snapshot
    awaitAvailable(store);

    assertThat(journal.toString()).contains("0 waiting for Redis");
    assertThat(store.toString()).contains("0 waiting for Redis");
    try (RedisConnector elsewhere = RedisConnector.builder().uri(server.uri()).keyPrefix("fallback:").build()) {
      RedisAffinityStore otherStore = RedisAffinityStore.builder().connector(elsewhere).localFallbackMaximumSize(0).build();
      RedisHistoryJournal otherJournal = RedisHistoryJournal.builder().connector(elsewhere)
          .localFallbackMaximumEntries(0).build();
      assertThat(otherStore.get(ChainKey.response("resp_2")).map(AffinityToken::value)).contains("backend-3");
      ChainHistory resp4 = otherJournal.history(ChainKey.response("resp_4"));
      assertThat(resp4.status()).as("its first turn was lost with Redis, not sent again")
          .isEqualTo(Status.MISSING_LINK);
      assertThat(resp4.link()).contains(ChainKey.response("resp_1"));
      assertThat(resp4.turns()).as("resp_2, resp_3, resp_4: sent, in order").isEqualTo(3);
    }
  }

  @Test
  void redisDown_localFallbackBoundedInEntriesAndBytes() throws Exception {
    RedisConnector connector = connector("redis://127.0.0.1:" + closedPort());
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).localFallbackMaximumSize(10).build();
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector)
        .localFallbackMaximumEntries(1_000).localFallbackMaximumBytes(64 << 10).build();
    String fourKiB = "[\"" + "x".repeat(4_092) + "\"]";

    for (int i = 0; i < 50; i++) {
      store.put(ChainKey.response("resp_" + i), RedisAffinityStoreTest.token("a"));
      journal.record(JournalTurn.builder().responseId("resp_" + i).input(bytes(fourKiB)).output(bytes("[]")).build());
    }

    assertThat(connector.isAvailable()).isFalse();
    assertThat(store.estimatedSize()).as("pins kept, at most").isBetween(9L, 10L);
    assertThat(store.toString()).contains("10 waiting for Redis");
    long kept = journal.estimatedSize();
    assertThat(kept).as("turns kept within 64 KiB").isBetween(1L, (long) (64 << 10) / 4_096);
    assertThat(journal.toString()).as("bytes waiting for Redis, at most 64 KiB")
        .contains((64 << 10) / (4_096 + 2) + " waiting for Redis");
  }

  private RedisConnector connector(String uri) {
    return connector(RedisConnector.builder().uri(uri));
  }

  private RedisConnector connector(RedisConnector.Builder builder) {
    RedisConnector connector = builder.keyPrefix("fallback:")
        .retryInterval(Duration.ofMillis(20))
        .listener(new RedisListener() {
          @Override
          public void available(Duration outage) {
            available.countDown();
          }
        }).build();
    closeables.add(connector);
    return connector;
  }

  /** Lettuce reconnects in the background; operations go on until one finds Redis back. */
  private void awaitAvailable(RedisAffinityStore store) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!available.await(20, TimeUnit.MILLISECONDS)) {
      assertThat(System.nanoTime()).as("Redis answers again within 30 s").isLessThan(deadline);
      store.get(ChainKey.response("resp_probe"));
    }
  }

  private static int closedPort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static JournalTurn turn(String id, String previous, String text) {
    return JournalTurn.builder().responseId(id).previousResponseId(previous)
        .input(bytes("[\"in " + text + "\"]")).output(bytes("[\"out " + text + "\"]")).build();
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static List<String> texts(ChainHistory history) {
    assertThat(history.status()).as("%s", history).isEqualTo(Status.COMPLETE);
    List<String> texts = new ArrayList<>();
    for (byte[] array : history.itemArrays()) {
      texts.add(new String(array, StandardCharsets.UTF_8));
    }
    return texts;
  }
}
