package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainHistory.Status;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.JournalTurn;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 14, rows 1 and 6, in Redis: two tenants share one Redis (one store, one journal) and use
 * the same response and conversation ids. Neither sees, replaces nor links into the other's pins
 * and turns, and Redis holds nothing of a scope but its key. Also while Redis is down, from the
 * local fallback.
 */
@RequiresRedisServer
@Timeout(60)
final class RedisScopeTest {

  private static final String KEY_A = "sk-tenant-a-0123456789abcdef";
  private static final String KEY_B = "sk-tenant-b-fedcba9876543210";

  private final ChainScope tenantA = scope("gateway-a.example", KEY_A);
  private final ChainScope tenantB = scope("gateway-a.example", KEY_B);
  private final ChainScope otherHost = scope("gateway-b.example", KEY_A);
  private final String prefix = "scope-" + UUID.randomUUID() + ":";
  private RedisServer server;
  private RedisConnector connector;
  private RedisAffinityStore store;
  private RedisHistoryJournal journal;

  @BeforeEach
  void start() {
    server = RedisServer.launch();
    connector = RedisConnector.builder().uri(server.uri()).keyPrefix(prefix).build();
    assertThat(connector.awaitConnection(Duration.ofSeconds(20))).isTrue(); // not the local fallback
    store = RedisAffinityStore.builder().connector(connector).build();
    journal = RedisHistoryJournal.builder().connector(connector).build();
  }

  @AfterEach
  void stop() throws Exception {
    connector.close();
    server.close();
  }

  @Test
  void store_twoScopesSameIds_neitherSeesNorReplacesTheOther() {
    store.put(response("resp_1", tenantA), RedisAffinityStoreTest.token("backend-a"));
    store.put(response("resp_1", tenantB), RedisAffinityStoreTest.token("backend-b"));
    store.put(ChainKey.conversation("conv_1").in(tenantA), RedisAffinityStoreTest.token("backend-a"));

    assertPins();
    assertThat(store.get(ChainKey.conversation("conv_1").in(tenantB))).isEmpty();
    store.remove(response("resp_1", tenantB));
    assertThat(store.get(response("resp_1", tenantA)).map(AffinityToken::value)).as("a removal in B")
        .contains("backend-a");
  }

  @Test
  void journal_twoScopesSameIds_neitherSeesReplacesNorLinksIntoTheOther() {
    recordChains();

    assertHistories();
    // B continues "resp_2": its own, never A's.
    journal.record(turn(tenantB, "resp_3", "resp_2", "B3"));
    assertThat(texts(journal.history(response("resp_3", tenantB)))).containsExactly("[\"B-seed\"]", "[\"B1\"]",
        "[\"B1\"]", "[\"B2\"]", "[\"B2\"]", "[\"B3\"]", "[\"B3\"]");
    assertThat(journal.history(response("resp_3", tenantA)).status()).isEqualTo(Status.MISSING_LINK);
    // Forgetting B's turn and conversation leaves A's whole.
    journal.forget(response("resp_1", tenantB));
    journal.forget(ChainKey.conversation("conv_1").in(tenantB));
    assertThat(journal.history(response("resp_2", tenantB)).status()).isEqualTo(Status.MISSING_LINK);
    assertThat(texts(journal.history(response("resp_2", tenantA)))).hasSize(5);
    assertThat(texts(journal.history(ChainKey.conversation("conv_1").in(tenantA)))).hasSize(3);
  }

  @Test
  void redis_twoScopes_holdsOnlyTheScopesKeysNeverWhatTheyWereMadeFrom() throws Exception {
    store.put(response("resp_1", tenantA), RedisAffinityStoreTest.token("backend-a"));
    store.put(response("resp_1", tenantB), RedisAffinityStoreTest.token("backend-b"));
    recordChains();
    assertThat(connector.awaitWrites(java.time.Duration.ofSeconds(10))).isTrue(); // Redis ran every write

    List<String> keys = server.keys(prefix + "*");
    List<String> stored = new ArrayList<>(keys);
    for (String key : keys) {
      Object type = server.call("TYPE", key);
      if ("hash".equals(type)) {
        for (Object field : (List<?>) server.call("HGETALL", key)) {
          stored.add(String.valueOf(field));
        }
      } else {
        stored.add(String.valueOf(server.call("GET", key)));
      }
    }

    // A pin or a root pointer holds the scope between colons; a chain's keys at the head of its hash tag.
    assertThat(keys).allSatisfy(key -> assertThat(key).containsAnyOf(":" + tenantA.key() + ":",
        ":" + tenantB.key() + ":", "{" + tenantA.key() + ":", "{" + tenantB.key() + ":"));
    assertThat(String.join("\n", stored)).doesNotContain("gateway-a", "https", "sk-tenant", KEY_A, KEY_B);
  }

  @Test
  void localFallback_twoScopesSameIdsWhileRedisIsDown_keptApartToo() throws Exception {
    store.put(response("resp_1", tenantA), RedisAffinityStoreTest.token("backend-a"));
    store.put(response("resp_1", tenantB), RedisAffinityStoreTest.token("backend-b"));
    journal.recordConversation(ChainKey.conversation("conv_1").in(tenantA), bytes("[\"A-seed\"]"));
    journal.recordConversation(ChainKey.conversation("conv_1").in(tenantB), bytes("[\"B-seed\"]"));

    server.stop();
    // Turns recorded while Redis is down, in both scopes, with the same ids.
    for (ChainScope scope : List.of(tenantA, tenantB)) {
      String tag = scope == tenantA ? "A" : "B";
      journal.record(conversationTurn(scope, "resp_1", "conv_1", tag + "1"));
      journal.record(turn(scope, "resp_2", "resp_1", tag + "2"));
    }
    // The first writes after Redis stopped may have been sent before it was known: their failure comes later.
    assertThat(connector.awaitWrites(java.time.Duration.ofSeconds(10))).isTrue();

    assertThat(connector.isAvailable()).isFalse();
    assertPins();
    assertThat(journal.history(response("resp_1", tenantA)).status())
        .as("linked to a conversation's latest turn, which only Redis knows").isEqualTo(Status.UNAVAILABLE);
    store.put(response("resp_9", tenantB), RedisAffinityStoreTest.token("backend-b"));
    journal.record(turn(tenantB, "resp_8", null, "B8"));
    journal.record(turn(tenantB, "resp_9", "resp_8", "B9"));
    assertThat(texts(journal.history(response("resp_9", tenantB)))).containsExactly("[\"B8\"]", "[\"B8\"]",
        "[\"B9\"]", "[\"B9\"]");
    assertThat(journal.history(response("resp_9", tenantA)).status()).isEqualTo(Status.UNAVAILABLE);
    assertThat(store.get(response("resp_9", tenantA))).isEmpty();
  }

  private void recordChains() {
    for (ChainScope scope : List.of(tenantA, tenantB)) {
      String tag = scope == tenantA ? "A" : "B";
      journal.recordConversation(ChainKey.conversation("conv_1").in(scope), bytes("[\"" + tag + "-seed\"]"));
      journal.record(conversationTurn(scope, "resp_1", "conv_1", tag + "1"));
      journal.record(turn(scope, "resp_2", "resp_1", tag + "2"));
    }
  }

  private void assertPins() {
    assertThat(store.get(response("resp_1", tenantA)).map(AffinityToken::value)).contains("backend-a");
    assertThat(store.get(response("resp_1", tenantB)).map(AffinityToken::value)).contains("backend-b");
    assertThat(store.get(response("resp_1", otherHost))).as("same key, another host").isEmpty();
    assertThat(store.get(ChainKey.response("resp_1"))).as("no scope").isEmpty();
  }

  private void assertHistories() {
    for (ChainScope scope : List.of(tenantA, tenantB)) {
      String tag = scope == tenantA ? "A" : "B";
      List<String> whole = List.of("[\"" + tag + "-seed\"]", "[\"" + tag + "1\"]", "[\"" + tag + "1\"]",
          "[\"" + tag + "2\"]", "[\"" + tag + "2\"]");
      assertThat(texts(journal.history(response("resp_2", scope)))).as(tag).isEqualTo(whole);
      assertThat(texts(journal.history(ChainKey.conversation("conv_1").in(scope)))).as(tag)
          .isEqualTo(whole.subList(0, 3)); // its latest turn is resp_1: resp_2 names no conversation
    }
    for (ChainScope scope : List.of(otherHost, ChainScope.NONE)) {
      ChainHistory history = journal.history(response("resp_2", scope));
      assertThat(history.status()).isEqualTo(Status.MISSING_LINK);
      assertThat(history.link()).contains(response("resp_2", scope));
      assertThat(journal.history(ChainKey.conversation("conv_1").in(scope)).status()).isEqualTo(Status.MISSING_LINK);
    }
  }

  private static ChainScope scope(String host, String apiKey) {
    Map<String, String> headers = Map.of("api-key", apiKey);
    return ChainScope.builder().origin("https", host, 443, "/openai/v1").credentials(headers::get).build();
  }

  private static ChainKey response(String id, ChainScope scope) {
    return ChainKey.response(id).in(scope);
  }

  private static JournalTurn turn(ChainScope scope, String id, String previous, String text) {
    String items = "[\"" + text + "\"]";
    return JournalTurn.builder().scope(scope).responseId(id).previousResponseId(previous)
        .input(bytes(items)).output(bytes(items)).build();
  }

  private static JournalTurn conversationTurn(ChainScope scope, String id, String conversation, String text) {
    String items = "[\"" + text + "\"]";
    return JournalTurn.builder().scope(scope).responseId(id).conversationId(conversation)
        .input(bytes(items)).output(bytes(items)).build();
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
