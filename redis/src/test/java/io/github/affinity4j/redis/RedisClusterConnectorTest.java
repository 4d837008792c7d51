package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.JournalTurn;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SslVerifyMode;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code RedisConnector.builder().cluster(...)}: the settings every node gets, a cluster that
 * requires a password, and what one record and one history read cost on a cluster, counted by the
 * masters themselves ({@code INFO commandstats}).
 */
@RequiresRedisServer
@Timeout(120)
final class RedisClusterConnectorTest {

  private static final String SECRET = "s3cr3t-cluster-password-4d2c";

  private final String prefix = "cluster-" + UUID.randomUUID() + ":";
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  @Test
  void record_rootKnownHere_oneScriptWithItsPointerBeside_elseOneRootReadFirst() throws Exception {
    RedisCluster cluster = RedisCluster.shared();
    RedisHistoryJournal a = journal(cluster.connector());
    RedisHistoryJournal b = journal(cluster.connector());
    RedisHistoryJournal c = journal(cluster.connector());
    for (int i = 0; i < 30; i++) { // every master runs the scripts once: no NOSCRIPT below
      a.record(turn("resp_warm_" + i, null));
      a.history(ChainKey.response("resp_warm_" + i));
    }
    a.record(turn("resp_1", null));

    a.connector().awaitWrites(Duration.ofSeconds(10));
    // A record returns before Redis replies: the counts are taken once it did.
    Map<String, Long> known = commandsRunBy(cluster, () -> {
      a.record(turn("resp_2", "resp_1"));
      a.connector().awaitWrites(Duration.ofSeconds(10));
    });
    Map<String, Long> unknown = commandsRunBy(cluster, () -> {
      b.record(turn("resp_3", "resp_2"));
      b.connector().awaitWrites(Duration.ofSeconds(10));
    });
    Map<String, Long> readKnown = commandsRunBy(cluster, () -> b.history(ChainKey.response("resp_3")));
    ChainHistory[] read = new ChainHistory[1];
    Map<String, Long> readUnknown = commandsRunBy(cluster, () -> read[0] = c.history(ChainKey.response("resp_3")));

    System.out.printf("On a cluster: record, root known %s; root read first %s; history, root known %s;"
        + " root read first %s%n", known, unknown, readKnown, readUnknown);
    // (The counts include the commands a script runs: SET, PEXPIRE, HGET..., never GETEX.)
    assertThat(known).as("the parent recorded here: one script, its pointer beside it, no root read")
        .containsEntry("evalsha", 1L).doesNotContainKeys("getex", "eval");
    assertThat(unknown).as("the parent recorded elsewhere: its root read first")
        .containsEntry("getex", 1L).containsEntry("evalsha", 1L).doesNotContainKey("eval");
    assertThat(readKnown).as("a chain this instance recorded a turn of: one script")
        .containsEntry("evalsha", 1L).doesNotContainKeys("getex", "eval");
    assertThat(readUnknown).as("a chain new to this instance: its root read first")
        .containsEntry("getex", 1L).containsEntry("evalsha", 1L).doesNotContainKey("eval");
    assertThat(read[0].status()).isEqualTo(ChainHistory.Status.COMPLETE);
    assertThat(read[0].turns()).isEqualTo(3);
  }

  @Test
  void pinLookup_readsTheChainsRootBeside_theTurnThatContinuesItRecordsInOneScript() throws Exception {
    RedisCluster cluster = RedisCluster.shared();
    RedisHistoryJournal a = journal(cluster.connector());
    RedisHistoryJournal b = journal(cluster.connector());
    RedisAffinityStore aPins = RedisAffinityStore.builder().connector(a.connector()).build();
    RedisAffinityStore bPins = RedisAffinityStore.builder().connector(b.connector()).build();
    for (int i = 0; i < 30; i++) { // every master runs the scripts once: no NOSCRIPT below
      b.record(turn("resp_warm_" + i, null));
    }
    ChainKey first = ChainKey.response("resp_1");
    a.record(turn("resp_1", null));
    aPins.put(first, RedisAffinityStoreTest.token("backend-1"));
    a.connector().awaitWrites(Duration.ofSeconds(10));
    b.connector().awaitWrites(Duration.ofSeconds(10));

    // Instance b continues a's chain: the lookup of its pin reads the chain's root too, in parallel.
    Map<String, Long> lookup = commandsRunBy(cluster, () -> {
      assertThat(bPins.get(first)).isPresent();
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (!requireNonNull(b.connector().roots()).knows(first) && System.nanoTime() < deadline) {
        Thread.onSpinWait(); // its reply is handled on Lettuce's thread
      }
    });
    Map<String, Long> record = commandsRunBy(cluster, () -> {
      b.record(turn("resp_2", "resp_1"));
      b.connector().awaitWrites(Duration.ofSeconds(10));
    });

    assertThat(lookup).as("the pin and the chain's root pointer, one GETEX each").containsEntry("getex", 2L);
    assertThat(record).as("no root read on the record's path: one script, its pointer beside it")
        .containsEntry("evalsha", 1L).doesNotContainKeys("getex", "eval");
    assertThat(b.history(ChainKey.response("resp_2")).turns()).isEqualTo(2);
    Map<String, Long> again = commandsRunBy(cluster, () -> bPins.get(first));
    assertThat(again).as("a root known here is not read again").containsEntry("getex", 1L);
  }

  @Test
  void masterFailedOverWhileThisInstanceUsedOthers_firstCommandForItsSlotsGoesToThePromotedReplica() throws Exception {
    RedisCluster cluster = RedisCluster.launch();
    closeables.add(cluster);
    RedisConnector writer = connector(cluster.connector());
    RedisConnector reader = connector(cluster.connector());
    assertThat(writer.awaitConnection(Duration.ofSeconds(20))).isTrue();
    assertThat(reader.awaitConnection(Duration.ofSeconds(20))).isTrue();
    RedisAffinityStore written = RedisAffinityStore.builder().connector(writer).build();
    RedisAffinityStore read = RedisAffinityStore.builder().connector(reader).build();
    ChainKey lost = ChainKey.response("resp_lost");
    RedisServer failing = cluster.masterOf(RedisKeys.pin(prefix, lost));
    ChainKey other = null;
    for (int i = 0; other == null; i++) {
      ChainKey candidate = ChainKey.response("resp_" + i);
      if (cluster.masterOf(RedisKeys.pin(prefix, candidate)).port() != failing.port()) {
        other = candidate;
      }
    }
    written.put(lost, RedisAffinityStoreTest.token("backend-1"));
    written.put(other, RedisAffinityStoreTest.token("backend-2"));
    assertThat(writer.awaitWrites(Duration.ofSeconds(10))).isTrue();
    awaitReplicated(failing);
    assertThat(read.get(other)).as("the reader has used another master only").isPresent();

    failing.kill();
    cluster.awaitHealthy(); // its replica promoted, while the reader sent nothing

    assertThat(read.get(lost)).as("read from the promoted replica").isPresent();
    assertThat(reader.fallbacks()).as("no fallback: the topology was read again, the lookup sent once more")
        .isZero();
    assertThat(reader.isAvailable()).isTrue();
  }

  /** Waits until every replica of {@code master} has its writes. */
  private static void awaitReplicated(RedisServer master) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      String info = String.valueOf(master.call("INFO", "replication"));
      Matcher offset = Pattern.compile("master_repl_offset:(\\d+)").matcher(info);
      Matcher replica = Pattern.compile("slave0:.*offset=(\\d+)").matcher(info);
      if (offset.find() && replica.find() && offset.group(1).equals(replica.group(1))) {
        return;
      }
      assertThat(System.nanoTime()).as("replicated within 10 s: %s", info).isLessThan(deadline);
      Thread.sleep(10); // polling a process we started
    }
  }

  @Test
  void cluster_withPassword_everyMasterReachedPasswordNeverPrinted() throws Exception {
    RedisCluster cluster = RedisCluster.launch(SECRET);
    closeables.add(cluster);

    String log = RedisConnectorTest.captureLog(() -> {
      RedisConnector right = connector(cluster.connector().password(SECRET.toCharArray()));
      RedisConnector other = connector(cluster.connector().password(SECRET.toCharArray()));
      RedisConnector wrong = connector(cluster.connector().password("wrong".toCharArray()));
      assertThat(right.awaitConnection(Duration.ofSeconds(20))).isTrue();
      RedisAffinityStore store = RedisAffinityStore.builder().connector(right).build();
      for (int i = 0; i < 100; i++) {
        store.put(ChainKey.response("resp_" + i), RedisAffinityStoreTest.token("backend-" + i));
      }
      assertThat(right.awaitWrites(Duration.ofSeconds(10))).isTrue(); // Redis ran every bind
      RedisAffinityStore elsewhere = RedisAffinityStore.builder().connector(other).build();
      for (int i = 0; i < 100; i++) {
        assertThat(elsewhere.get(ChainKey.response("resp_" + i))).as("pin %d", i).isPresent();
      }
      assertThat(cluster.masters()).hasSize(RedisCluster.MASTERS).allSatisfy(master ->
          assertThat(master.keys(prefix + "pin:*")).as("pins on master %d", master.port()).isNotEmpty());
      assertThat(wrong.awaitConnection(Duration.ofSeconds(2))).isFalse();
      assertThat(RedisAffinityStore.builder().connector(wrong).build().get(ChainKey.response("resp_1"))).isEmpty();
      assertThat(wrong.isAvailable()).isFalse();
      for (RedisConnector connector : List.of(right, other, wrong)) {
        assertThat(connector.isCluster()).isTrue();
        assertThat(connector.toString()).startsWith("RedisConnector[redis-cluster://127.0.0.1:").doesNotContain(SECRET);
      }
    });

    assertThat(log).doesNotContain(SECRET);
  }

  @Test
  void seeds_getEverySettingOneNodeGets() {
    LettuceSettings settings = new LettuceSettings("app", SECRET.toCharArray(), true, false, null, null,
        "instance-1", Duration.ofSeconds(3), Duration.ofMillis(250), Duration.ofSeconds(1));

    List<RedisURI> seeds = settings.seedUris(List.of("redis://10.0.0.5:7000", "redis://:inuri@10.0.0.6:7001/3"));

    assertThat(seeds).hasSize(2).allSatisfy(seed -> {
      assertThat(seed.isSsl()).isTrue();
      assertThat(seed.getVerifyMode()).isEqualTo(SslVerifyMode.NONE);
      assertThat(seed.getClientName()).isEqualTo("instance-1");
      assertThat(seed.getTimeout()).isEqualTo(Duration.ofMillis(250));
      assertThat(seed.getDatabase()).as("a cluster has only database 0").isZero();
      var credentials = seed.getCredentialsProvider().resolveCredentials().block();
      assertThat(credentials.getUsername()).isEqualTo("app");
      assertThat(new String(credentials.getPassword())).as("the builder's password wins").isEqualTo(SECRET);
    });
    assertThat(settings.clusterOptions().getTopologyRefreshOptions().isPeriodicRefreshEnabled()).isTrue();
    assertThat(settings.clusterOptions().getTopologyRefreshOptions().getAdaptiveRefreshTimeout())
        .isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void builder_clusterBadArguments_throwSayingWhatToDo() {
    assertThatThrownBy(() -> RedisConnector.builder().cluster()).hasMessageContaining("redis://");
    assertThatThrownBy(() -> RedisConnector.builder().cluster("redis-sentinel://h:26379#m"))
        .hasMessageContaining("Sentinel");
    assertThatThrownBy(() -> RedisConnector.builder().cluster("redis://:" + SECRET + "@[bad"))
        .isInstanceOf(IllegalArgumentException.class).message().doesNotContain(SECRET);
    assertThatThrownBy(() -> RedisConnector.builder().uri("redis://h:6379").cluster("redis://h:7000").build())
        .hasMessageContaining("uri and cluster");
    assertThatThrownBy(() -> RedisConnector.builder().cluster("redis://h:7000").database(2).build())
        .hasMessageContaining("only 0");
    assertThatThrownBy(() -> RedisConnector.builder().cluster("redis://h:7000").keyPrefix("app{1}:").build())
        .hasMessageContaining("{");
  }

  private RedisHistoryJournal journal(RedisConnector.Builder builder) {
    RedisConnector connector = connector(builder);
    assertThat(connector.awaitConnection(Duration.ofSeconds(20))).isTrue();
    return RedisHistoryJournal.builder().connector(connector).build();
  }

  private RedisConnector connector(RedisConnector.Builder builder) {
    RedisConnector connector = builder.keyPrefix(prefix).build();
    closeables.add(connector);
    return connector;
  }

  /** The commands every master ran during {@code action}, by name, from INFO commandstats. */
  private static Map<String, Long> commandsRunBy(RedisCluster cluster, RedisConnectorTest.Action action)
      throws Exception {
    for (RedisServer master : cluster.masters()) {
      master.call("CONFIG", "RESETSTAT");
    }
    action.run();
    Map<String, Long> calls = new HashMap<>();
    for (RedisServer master : cluster.masters()) {
      for (String line : String.valueOf(master.call("INFO", "commandstats")).split("\r?\n")) {
        if (line.startsWith("cmdstat_") && !line.startsWith("cmdstat_config") && !line.startsWith("cmdstat_info")) {
          String name = line.substring("cmdstat_".length(), line.indexOf(':'));
          long count = Long.parseLong(line.replaceAll("^[^:]+:calls=(\\d+),.*", "$1"));
          calls.merge(name, count, Long::sum);
        }
      }
    }
    calls.remove("cluster"); // Lettuce's topology reads
    calls.remove("ping");
    return calls;
  }

  private static JournalTurn turn(String id, String previous) {
    return JournalTurn.builder().responseId(id).previousResponseId(previous)
        .input("[1]".getBytes(StandardCharsets.UTF_8)).output("[2]".getBytes(StandardCharsets.UTF_8)).build();
  }
}
