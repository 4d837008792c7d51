package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testsupport.DocSnippets;
import java.util.ArrayList;
import java.util.List;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The snippets of {@code docs/redis.md}, compiled and run, and shown on the page as they are here. */
@RequiresRedisServer
@Timeout(60)
final class SnippetsTest {

  private final List<String> alerts = new ArrayList<>();

  @Test
  void readmeSnippet_sharedState_compilesAndRuns() throws Exception {
    try (RedisServer server = RedisServer.launch("--requirepass", "test-key");
        ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      String redisUri = server.uri();
      char[] redisKey = "test-key".toCharArray();

      // snippet: redis-one-node
      RedisConnector redis = RedisConnector.builder()
          .uri(redisUri)          // e.g. "rediss://my-cache.redis.cache.windows.net:6380" (rediss: TLS)
          .password(redisKey)     // e.g. System.getenv("REDIS_KEY").toCharArray()
          .listener(new RedisListener() {
            @Override public void unavailable(String operation, RuntimeException cause) {
              alerts.add("affinity4j lost Redis: " + cause);          // requests go on without it
            }
          })
          .build();
      AffinityInterceptor affinity = AffinityInterceptor.builder()
          .store(RedisAffinityStore.builder().connector(redis).build())
          .journal(RedisHistoryJournal.builder().connector(redis).build())
          .build();
      OkHttpClient http = new OkHttpClient.Builder().addInterceptor(affinity).build();
      // at shutdown: redis.close()
      // snippet: end

      try (redis) {
        Request request = new Request.Builder().url(apim.openAiBaseUrl() + "/responses")
            .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}",
                MediaType.get("application/json"))).build();
        try (Response response = http.newCall(request).execute()) {
          assertThat(response.code()).isEqualTo(200);
        }
        assertThat(redis.awaitWrites(java.time.Duration.ofSeconds(10))).isTrue(); // SCAN on every master
        assertThat(affinity.stats().chainsTracked()).isEqualTo(1);
        assertThat(affinity.journal().estimatedSize()).isEqualTo(1);
        assertThat(alerts).isEmpty();
      } finally {
        http.dispatcher().executorService().shutdown();
        http.connectionPool().evictAll();
      }
    }
  }

  @Test
  void docsRedisSnippet_cluster_compilesAndRuns() throws Exception {
    RedisCluster servers = RedisCluster.shared();
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      String seed = servers.seeds()[0];

      // snippet: redis-cluster
      RedisConnector cluster = RedisConnector.builder()
          .cluster(seed)          // e.g. "rediss://my-cache.westeurope.redis.azure.net:10000"; one or several
          .build();
      AffinityInterceptor shared = AffinityInterceptor.builder()
          .store(RedisAffinityStore.builder().connector(cluster).build())
          .journal(RedisHistoryJournal.builder().connector(cluster).build())
          .build();
      // snippet: end
      RedisConnector redis = cluster;
      AffinityInterceptor affinity = shared;

      OkHttpClient http = new OkHttpClient.Builder().addInterceptor(affinity).build();
      try (redis) {
        // Connected first (the topology read, then a master): else the turn waits in the local fallback.
        assertThat(redis.awaitConnection(java.time.Duration.ofSeconds(20))).isTrue();
        Request request = new Request.Builder().url(apim.openAiBaseUrl() + "/responses")
            .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}",
                MediaType.get("application/json"))).build();
        try (Response response = http.newCall(request).execute()) {
          assertThat(response.code()).isEqualTo(200);
        }
        assertThat(redis.isCluster()).isTrue();
        assertThat(redis.awaitWrites(java.time.Duration.ofSeconds(10))).isTrue(); // SCAN on every master
        assertThat(affinity.journal().estimatedSize()).as("found by SCAN on every master").isEqualTo(1);

        // snippet: redis-wait-for-replicas
        RedisHistoryJournal journal = RedisHistoryJournal.builder()
            .connector(redis)
            .waitForReplicas(1)   // Redis WAIT after each turn: one more round trip
            .build();
        // snippet: end
        journal.record(io.github.affinity4j.core.JournalTurn.builder().responseId("resp_docs").input(new byte[] {'[', ']'})
            .output(new byte[] {'[', ']'}).build());
        assertThat(journal.history(io.github.affinity4j.core.ChainKey.response("resp_docs")).isComplete()).isTrue();
      } finally {
        http.dispatcher().executorService().shutdown();
        http.connectionPool().evictAll();
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"redis-one-node", "redis-cluster", "redis-wait-for-replicas"})
  void page_showsTheCodeTheseTestsRun(String snippet) {
    assertThat(DocSnippets.inPage(DocSnippets.page("docs/redis.md"), snippet))
        .isEqualTo(DocSnippets.inSource(DocSnippets.testSource(SnippetsTest.class), snippet));
  }
}
