package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.JournalTurn;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** What a connector does when Redis is down, slow, or comes back; auth and TLS. */
@RequiresRedisServer
@Timeout(120)
final class RedisConnectorTest {

  private static final String SECRET = "s3cr3t-redis-password-9f8e";

  private final TestClock clock = new TestClock();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final Events events = new Events();

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  @Test
  void redisDownAtStart_storeAndJournalKeepWritesLocally_fastAndNothingThrown() throws Exception {
    RedisConnector connector = connector("redis://127.0.0.1:" + closedPort(), RedisConnector.builder());
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector).build();

    long start = System.nanoTime();
    for (int i = 0; i < 200; i++) {
      assertThat(store.get(ChainKey.response("resp_" + i))).isEmpty();
      store.put(ChainKey.response("resp_" + i), RedisAffinityStoreTest.token("a"));
      journal.record(JournalTurn.builder().responseId("resp_" + i).input(new byte[] {'[', ']'})
          .output(new byte[] {'[', ']'}).build());
    }
    ChainHistory history = journal.history(ChainKey.response("resp_elsewhere"));
    long elapsed = System.nanoTime() - start;

    assertThat(history.status()).as("not kept here, and Redis could not be read: not missing")
        .isEqualTo(ChainHistory.Status.UNAVAILABLE);
    assertThat(journal.toString()).as("the repair error ends with the journal's toString")
        .contains("UNAVAILABLE").contains("127.0.0.1").contains("200 waiting for Redis");
    assertThat(store.estimatedSize()).as("the pins kept locally").isEqualTo(200);
    assertThat(connector.isAvailable()).isFalse();
    assertThat(events.unavailable).hasValue(1);
    assertThat(events.fellBack).hasValue(602);
    assertThat(events.fellBackWithoutTrying).as("within the retry interval, Redis is not tried").hasValue(601);
    assertThat(connector.fallbacks()).isEqualTo(602);
    assertThat(TimeUnit.NANOSECONDS.toMillis(elapsed)).as("601 operations skipped at once").isLessThan(3_000);
  }

  @Test
  void redisDown_manyOperations_oneWarnPerWarnInterval() throws Exception {
    RedisConnector connector = connector("redis://127.0.0.1:" + closedPort(), RedisConnector.builder());
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();

    String log = captureLog(() -> {
      for (int i = 0; i < 1_000; i++) {
        store.get(ChainKey.response("resp_" + i));
      }
      clock.advance(Duration.ofSeconds(59));
      for (int i = 0; i < 1_000; i++) {
        store.get(ChainKey.response("resp_" + i));
      }
      clock.advance(Duration.ofSeconds(1));
      store.get(ChainKey.response("resp_x"));
      store.get(ChainKey.response("resp_y"));
    });

    assertThat(count(log, "WARN .* is unavailable")).isEqualTo(1);
    assertThat(count(log, "WARN .* still unavailable after 60 s")).as("one more after a minute").isEqualTo(1);
    assertThat(log).contains("2001 operations went without it");
    assertThat(count(log, "WARN")).isEqualTo(2);
  }

  @Test
  void redisStoppedAndRestarted_fallsBackThenRecoversWithOneEventEach() throws Exception {
    RedisServer server = RedisServer.launch();
    closeables.add(server);
    RedisConnector connector = connector(server.uri(), RedisConnector.builder());
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("a"));
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();

    server.stop();
    assertThat(store.get(ChainKey.response("resp_1"))).as("kept locally while down").isPresent();
    assertThat(store.get(ChainKey.response("resp_3"))).isEmpty();
    assertThat(connector.isAvailable()).isFalse();
    String log = captureLog(() -> {
      server.start(); // empty: no snapshot
      store.put(ChainKey.response("resp_2"), RedisAffinityStoreTest.token("b"));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!events.available.await(20, TimeUnit.MILLISECONDS)) {
        assertThat(System.nanoTime()).as("reconnected within 30 s").isLessThan(deadline);
        clock.advance(Duration.ofSeconds(1)); // the retry interval passes
        store.put(ChainKey.response("resp_2"), RedisAffinityStoreTest.token("b"));
      }
    });

    assertThat(store.get(ChainKey.response("resp_2"))).as("new chains work again").isPresent();
    assertThat(connector.isAvailable()).isTrue();
    assertThat(events.unavailable).hasValue(1);
    assertThat(events.outages).hasSize(1);
    assertThat(log).contains("INFO").contains("available again");
    assertThat(connector.toString()).contains("available").doesNotContain("UNAVAILABLE");
  }

  @Test
  void redisPaused_commandsTimeOutThenSkippedUntilRetry() throws Exception {
    RedisServer server = RedisServer.launch();
    closeables.add(server);
    RedisConnector connector = connector(server.uri(), RedisConnector.builder().commandTimeout(Duration.ofMillis(200)));
    assertThat(connector.awaitConnection(Duration.ofSeconds(20))).isTrue();
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("a"));

    assertThat(server.command("CLIENT", "PAUSE", "3000", "ALL")).isEqualTo("+OK");
    long start = System.nanoTime();
    assertThat(store.get(ChainKey.response("resp_2"))).isEmpty();
    long first = System.nanoTime() - start;
    for (int i = 0; i < 100; i++) {
      assertThat(store.get(ChainKey.response("resp_2"))).isEmpty();
    }
    long all = System.nanoTime() - start;

    assertThat(TimeUnit.NANOSECONDS.toMillis(first)).isBetween(150L, 1_500L);
    assertThat(TimeUnit.NANOSECONDS.toMillis(all - first)).as("the rest skipped, not timed out").isLessThan(1_000);
    assertThat(events.causes).first().extracting(e -> e.getClass().getSimpleName())
        .isEqualTo("RedisCommandTimeoutException");
    server.command("CLIENT", "UNPAUSE");
  }

  @Test
  void historyPageTimesOut_thatReadFallsBackAloneRedisStaysAvailableForEveryChain() throws Exception {
    RedisServer server = RedisServer.launch();
    closeables.add(server);
    RedisConnector connector = connector(server.uri(), RedisConnector.builder().commandTimeout(Duration.ofMillis(200)));
    assertThat(connector.awaitConnection(Duration.ofSeconds(20))).isTrue();
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector)
        .localFallbackMaximumEntries(0).build();
    store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("a"));
    journal.record(JournalTurn.builder().responseId("resp_1").input(new byte[] {'[', ']'})
        .output(new byte[] {'[', ']'}).build());
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();

    // Redis holds every command for 700 ms: to this client, the history read is one slow command.
    assertThat(server.command("CLIENT", "PAUSE", "700", "ALL")).isEqualTo("+OK");
    ChainHistory slow = journal.history(ChainKey.response("resp_1"));
    assertThat(server.command("PING")).as("waits out the pause").isEqualTo("+PONG");

    assertThat(slow.status()).as("that read fell back").isEqualTo(ChainHistory.Status.UNAVAILABLE);
    assertThat(events.fellBackCauses).singleElement().extracting(e -> e.getClass().getSimpleName())
        .isEqualTo("RedisCommandTimeoutException");
    assertThat(connector.isAvailable()).as("one slow command is not an outage").isTrue();
    assertThat(events.unavailable).hasValue(0);
    assertThat(store.get(ChainKey.response("resp_1"))).as("every other chain goes on with Redis").isPresent();
    assertThat(journal.history(ChainKey.response("resp_1")).status()).isEqualTo(ChainHistory.Status.COMPLETE);
    assertThat(events.fellBack).hasValue(1);
  }

  @Test
  void password_fromBuilderOrUri_connectsAndNeverPrinted() throws Exception {
    RedisServer server = RedisServer.launch("--requirepass", SECRET);
    closeables.add(server);

    String log = captureLog(() -> {
      RedisConnector withBuilder = connector(server.uri(), RedisConnector.builder().password(SECRET.toCharArray()));
      RedisConnector withUri = connector("redis://:" + SECRET + "@127.0.0.1:" + server.port(), RedisConnector.builder());
      RedisConnector without = connector(server.uri(), RedisConnector.builder());
      RedisConnector wrong = connector(server.uri(), RedisConnector.builder().password("wrong".toCharArray()));
      for (RedisConnector connector : List.of(withBuilder, withUri)) {
        RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
        store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("a"));
        assertThat(store.get(ChainKey.response("resp_1"))).isPresent();
        assertThat(connector.toString()).doesNotContain(SECRET);
      }
      for (RedisConnector connector : List.of(without, wrong)) {
        RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
        assertThat(store.get(ChainKey.response("resp_1"))).isEmpty();
        assertThat(connector.isAvailable()).isFalse();
      }
    });

    assertThat(log).contains("WARN").doesNotContain(SECRET);
    assertThatThrownBy(() -> RedisConnector.builder().uri("redis://:" + SECRET + "@[bad"))
        .isInstanceOf(IllegalArgumentException.class).message().doesNotContain(SECRET);
  }

  @Test
  void tls_trustedCa_connectsAndUntrustedFallsBack() throws Exception {
    RedisServer server = RedisServer.launchTls();
    closeables.add(server);
    String uri = "rediss://127.0.0.1:" + server.port();

    RedisConnector trusted = connector(uri, RedisConnector.builder().trustedCertificates(server.caCertificate()));
    assertThat(trusted.awaitConnection(Duration.ofSeconds(20))).isTrue();
    RedisAffinityStore store = RedisAffinityStore.builder().connector(trusted).build();
    store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("a"));
    assertThat(store.get(ChainKey.response("resp_1"))).isPresent();
    assertThat(trusted.toString()).contains("rediss://127.0.0.1").contains("tls=true");

    RedisConnector untrusted = connector(uri, RedisConnector.builder());
    assertThat(untrusted.awaitConnection(Duration.ofSeconds(2))).as("every attempt refused, till the timeout").isFalse();
    assertThat(RedisAffinityStore.builder().connector(untrusted).build().get(ChainKey.response("resp_1"))).isEmpty();
    assertThat(untrusted.isAvailable()).as("the JVM does not trust the test CA").isFalse();

    RedisConnector plain = connector("redis://127.0.0.1:" + server.port(), RedisConnector.builder()
        .tls(true).verifyPeer(false));
    assertThat(plain.awaitConnection(Duration.ofSeconds(20))).isTrue();
    assertThat(RedisAffinityStore.builder().connector(plain).build().get(ChainKey.response("resp_1")))
        .as("tls(true) on a redis:// URI, peer not verified").isPresent();
  }

  @Test
  void awaitConnection_redisComesUpWhileWaiting_attemptsAgainAndConnects() throws Exception {
    RedisServer server = RedisServer.launch();
    closeables.add(server);
    server.stop();
    RedisConnector connector = connector(server.uri(), RedisConnector.builder());
    assertThat(connector.awaitConnection(Duration.ofMillis(300))).as("Redis not up yet").isFalse();
    CompletableFuture<Void> starting = CompletableFuture.runAsync(() -> {
      try {
        Thread.sleep(300); // the connector's attempts keep failing meanwhile
        server.start();
      } catch (IOException | InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });

    boolean connected = connector.awaitConnection(Duration.ofSeconds(30));

    starting.join();
    assertThat(connected).isTrue();
    RedisAffinityStore store = RedisAffinityStore.builder().connector(connector).build();
    store.put(ChainKey.response("resp_1"), RedisAffinityStoreTest.token("a"));
    assertThat(store.get(ChainKey.response("resp_1"))).isPresent();
  }

  @Test
  void awaitConnection_closed_returnsAtOnce() {
    RedisConnector connector = RedisConnector.builder().uri("redis://127.0.0.1:1").build();
    connector.close();

    long started = System.nanoTime();
    assertThat(connector.awaitConnection(Duration.ofSeconds(30))).isFalse();
    assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started)).isLessThan(10_000);
  }

  @Test
  void listenerThrows_loggedAndOperationFallsBack() throws Exception {
    RedisConnector connector = RedisConnector.builder().uri("redis://127.0.0.1:" + closedPort())
        .listener(new RedisListener() {
          @Override
          public void unavailable(String operation, RuntimeException cause) {
            throw new IllegalStateException("listener bug");
          }
        }).build();
    closeables.add(connector);

    String log = captureLog(() -> assertThat(RedisAffinityStore.builder().connector(connector).build()
        .get(ChainKey.response("resp_1"))).isEmpty());

    assertThat(log).contains("threw in unavailable");
  }

  @Test
  void builder_badArguments_throwSayingWhatToDo() {
    assertThatThrownBy(() -> RedisConnector.builder().build()).hasMessageContaining("redis://localhost:6379");
    assertThatThrownBy(() -> RedisConnector.builder().uri("http://x")).hasMessageContaining("redis://");
    assertThatThrownBy(() -> RedisConnector.builder().commandTimeout(Duration.ZERO))
        .hasMessageContaining("Duration.ofMillis(500)");
    assertThatThrownBy(() -> RedisConnector.builder().keyPrefix("a b")).hasMessageContaining("affinity4j:prod:");
    assertThatThrownBy(() -> RedisConnector.builder().database(-1)).hasMessageContaining("-1");
    assertThatThrownBy(() -> RedisConnector.builder().trustedCertificates(java.nio.file.Path.of("/nonexistent.pem")))
        .hasMessageContaining("PEM");
  }

  private RedisConnector connector(String uri, RedisConnector.Builder builder) {
    RedisConnector connector = builder.uri(uri).clock(clock).listener(events)
        .keyPrefix("test:").build();
    closeables.add(connector);
    return connector;
  }

  private static int closedPort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static int count(String log, String regex) {
    Matcher matcher = Pattern.compile(regex).matcher(log);
    int count = 0;
    while (matcher.find()) {
      count++;
    }
    return count;
  }

  @FunctionalInterface
  interface Action {
    void run() throws Exception;
  }

  static String captureLog(Action action) throws Exception {
    PrintStream original = System.err;
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
    try {
      action.run();
    } finally {
      System.setErr(original);
    }
    String log = buffer.toString(StandardCharsets.UTF_8);
    original.print(log);
    return log;
  }

  /**
   * A clock that moves only when a test advances it. This module's tests do not depend on
   * test-support, whose {@code MutableClock} is the same.
   */
  private static final class TestClock extends Clock {
    private final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));

    void advance(Duration duration) {
      now.updateAndGet(instant -> instant.plus(duration));
    }

    @Override
    public Instant instant() {
      return now.get();
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException("a test clock has one zone");
    }
  }

  private static final class Events extends RedisListener {
    final AtomicInteger unavailable = new AtomicInteger();
    final AtomicInteger fellBack = new AtomicInteger();
    final AtomicInteger fellBackWithoutTrying = new AtomicInteger();
    final List<RuntimeException> causes = new CopyOnWriteArrayList<>();
    final List<RuntimeException> fellBackCauses = new CopyOnWriteArrayList<>();
    final List<Duration> outages = new CopyOnWriteArrayList<>();
    final CountDownLatch available = new CountDownLatch(1);

    @Override
    public void unavailable(String operation, RuntimeException cause) {
      unavailable.incrementAndGet();
      causes.add(cause);
    }

    @Override
    public void fellBack(String operation, RuntimeException cause) {
      fellBack.incrementAndGet();
      if (cause == null) {
        fellBackWithoutTrying.incrementAndGet();
      } else {
        fellBackCauses.add(cause);
      }
    }

    @Override
    public void available(Duration outage) {
      outages.add(outage);
      available.countDown();
    }
  }
}
