package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.RoutingInfo;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/** The store against a real Redis: each case on one node and on a Redis Cluster of three masters. */
@RequiresRedisServer
@Timeout(60)
@ParameterizedClass(name = "{0}")
@ValueSource(strings = {TestRedis.STANDALONE, TestRedis.CLUSTER})
final class RedisAffinityStoreTest {

  private static RedisServer server;

  private final TestRedis redis;

  private final String prefix = "test-" + UUID.randomUUID() + ":";
  private RedisConnector connector;
  private RedisAffinityStore store;

  RedisAffinityStoreTest(String deployment) {
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

  @BeforeEach
  void connect() {
    connector = redis.connector().keyPrefix(prefix).build();
    assertThat(connector.awaitConnection(Duration.ofSeconds(20))).isTrue(); // not the local fallback
    store = RedisAffinityStore.builder().connector(connector).build();
  }

  @AfterEach
  void close() {
    connector.close();
  }

  @Test
  void putThenGet_fromAnotherConnector_sameToken() {
    AffinityToken token = token("backend-a");
    store.put(ChainKey.response("resp_1"), token);
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue(); // the next request reaches the other later

    try (RedisConnector other = redis.connector().keyPrefix(prefix).build()) {
      RedisAffinityStore elsewhere = RedisAffinityStore.builder().connector(other).build();
      assertThat(elsewhere.get(ChainKey.response("resp_1"))).contains(token);
      assertThat(elsewhere.get(ChainKey.response("resp_2"))).isEmpty();
      assertThat(elsewhere.get(ChainKey.conversation("resp_1"))).as("kinds are apart").isEmpty();
    }
  }

  @Test
  void getAll_manyKeysHalfBound_eachBoundOneAsGetFindsIt_expiryRestarted() throws Exception {
    List<ChainKey> keys = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      ChainKey key = ChainKey.item("rs_" + i);
      keys.add(key);
      if (i % 2 == 0) {
        store.put(key, token("backend-" + i % 3));
      }
    }
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();
    redis.command("PEXPIRE", prefix + "pin:i::rs_0", "1000"); // as if 59 minutes had passed

    Map<ChainKey, AffinityToken> found = store.getAll(keys);

    assertThat(found).hasSize(20);
    for (ChainKey key : keys) {
      assertThat(Optional.ofNullable(found.get(key))).as("%s", key).isEqualTo(store.get(key));
    }
    assertThat(Long.parseLong(redis.command("PTTL", prefix + "pin:i::rs_0").substring(1)))
        .as("a lookup restarts the expiry").isGreaterThan(Duration.ofMinutes(59).toMillis());
    assertThat(store.getAll(List.of())).isEmpty();
    assertThat(connector.fallbacks()).isZero();
  }

  @Test
  void put_keyLayoutAndExpiry_documentedNamesOneHour() throws Exception {
    store.put(ChainKey.response("resp_1"), token("a"));
    store.put(ChainKey.conversation("conv_1"), token("b"));
    store.put(ChainKey.thread("thread_1"), token("c"));
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();

    assertThat(redis.command("TYPE", prefix + "pin:r::resp_1")).isEqualTo("+string");
    assertThat(redis.command("TYPE", prefix + "pin:c::conv_1")).isEqualTo("+string");
    assertThat(redis.command("TYPE", prefix + "pin:t::thread_1")).isEqualTo("+string");
    assertThat(pttl(prefix + "pin:r::resp_1")).isBetween(3_590_000L, 3_600_000L);
  }

  @Test
  void get_afterTimePassed_restartsExpiry() throws Exception {
    store.put(ChainKey.response("resp_1"), token("a"));
    redis.command("PEXPIRE", prefix + "pin:r::resp_1", "1000"); // as if 59 minutes had passed

    assertThat(store.get(ChainKey.response("resp_1"))).isPresent();
    assertThat(pttl(prefix + "pin:r::resp_1")).as("a lookup is an access").isGreaterThan(3_590_000L);
  }

  @Test
  void expireAfterAccess_configured_appliedToEveryWrite() throws Exception {
    RedisAffinityStore shortLived = RedisAffinityStore.builder().connector(connector)
        .expireAfterAccess(Duration.ofMinutes(5)).build();
    shortLived.put(ChainKey.response("resp_1"), token("a"));
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();

    assertThat(pttl(prefix + "pin:r::resp_1")).isBetween(290_000L, 300_000L);
  }

  @Test
  void remove_thenGet_empty() {
    store.put(ChainKey.response("resp_1"), token("a"));
    store.remove(ChainKey.response("resp_1"));

    assertThat(store.get(ChainKey.response("resp_1"))).isEmpty();
  }

  @Test
  void put_again_lastWriterWins() {
    store.put(ChainKey.conversation("conv_1"), token("a"));
    store.put(ChainKey.conversation("conv_1"), token("b"));

    assertThat(store.get(ChainKey.conversation("conv_1")).map(AffinityToken::value)).contains("b");
  }

  @Test
  void estimatedSize_countsOnlyThisPrefixsPins() throws Exception {
    for (int i = 0; i < 2_500; i++) {
      store.put(ChainKey.response("resp_" + i), token("a"));
    }
    redis.command("SET", "other:pin:r:resp_1", "x");
    redis.command("SET", prefix + "turn:resp_1", "x");

    assertThat(store.estimatedSize()).isEqualTo(2_500);
  }

  @Test
  void put_manyPins_eachOneKeyInTheSlotOfItsOwnName() throws Exception {
    for (int i = 0; i < 300; i++) {
      store.put(ChainKey.response("resp_" + i), token("a"));
    }
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue();

    List<String> keys = redis.keys(prefix + "pin:*");
    assertThat(keys).hasSize(300).allSatisfy(key -> assertThat(key).doesNotContain("{"));
    if (redis instanceof RedisCluster cluster) {
      // Spread by name over the cluster: every master holds some.
      assertThat(cluster.masters()).hasSize(RedisCluster.MASTERS).allSatisfy(master ->
          assertThat(master.keys(prefix + "pin:*")).as("pins on master %d", master.port()).isNotEmpty());
    }
  }

  @Test
  void get_unreadableRecord_emptyNotThrown() throws Exception {
    redis.command("SET", prefix + "pin:r::resp_1", "\u0009garbage");

    assertThat(store.get(ChainKey.response("resp_1"))).isEmpty();
  }

  @Test
  void toString_showsAddressAndExpiry() {
    assertThat(store.toString()).contains(redis.address()).contains("PT1H")
        .contains(prefix);
  }

  @Test
  void builder_badArguments_throwSayingWhatToDo() {
    assertThatThrownBy(() -> RedisAffinityStore.builder().build()).hasMessageContaining("RedisConnector.builder()");
    assertThatThrownBy(() -> RedisAffinityStore.builder().expireAfterAccess(Duration.ZERO))
        .hasMessageContaining("Duration.ofHours(1)");
    assertThat(store.localFallbackMaximumSize()).isEqualTo(10_000);
    assertThat(store.localFallbackMaximumBytes()).isEqualTo(4L << 20);
    assertThatThrownBy(() -> RedisAffinityStore.builder().localFallbackMaximumSize(-1)).hasMessageContaining("0 turns");
    assertThatThrownBy(() -> RedisAffinityStore.builder().localFallbackMaximumBytes(0)).hasMessageContaining("4L << 20");
  }

  private long pttl(String key) throws Exception {
    assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue(); // a bind returns before Redis ran it
    return Long.parseLong(redis.command("PTTL", key).substring(1));
  }

  static AffinityToken token(String value) {
    return AffinityToken.builder().name("APIM-Backend-Affinity").value(value).domain("127.0.0.1")
        .seenAt(Instant.parse("2026-11-22T09:00:00Z")).routing(new RoutingInfo("West US", null, null, null,
            null, null)).build();
  }
}
