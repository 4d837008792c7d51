package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * One instance of an application for the shared-state tests: its own connector (to one Redis or a
 * cluster), store, journal, interceptor and OkHttp client, counting repairs, failed repairs and
 * outages; and {@link #send} for one turn through it.
 */
final class AppInstance implements AutoCloseable {

  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  final RedisConnector connector;
  final RedisAffinityStore store;
  final RedisHistoryJournal journal;
  final AffinityInterceptor interceptor;
  final OkHttpClient client;
  final AtomicInteger repairs = new AtomicInteger();
  final List<String> failures = new CopyOnWriteArrayList<>();
  final AtomicInteger unavailable = new AtomicInteger();
  final CountDownLatch available = new CountDownLatch(1);
  final HttpUrl responsesUrl;

  /**
   * @param redis a connector builder aimed at Redis ({@code uri} or {@code cluster} set)
   */
  AppInstance(String name, RedisConnector.Builder redis, String prefix, boolean localFallback,
      HttpUrl responsesUrl) {
    this(name, redis, prefix, localFallback, 0, responsesUrl);
  }

  /**
   * @param redis a connector builder aimed at Redis ({@code uri} or {@code cluster} set)
   * @param waitForReplicas the journal's {@code waitForReplicas}
   */
  AppInstance(String name, RedisConnector.Builder redis, String prefix, boolean localFallback, int waitForReplicas,
      HttpUrl responsesUrl) {
    this.responsesUrl = responsesUrl;
    connector = redis.keyPrefix(prefix).clientName("instance-" + name)
        .retryInterval(Duration.ofMillis(50))
        .listener(new RedisListener() {
          @Override
          public void unavailable(String operation, RuntimeException cause) {
            unavailable.incrementAndGet();
          }

          @Override
          public void available(Duration outage) {
            available.countDown();
          }
        })
        .build();
    connector.awaitConnection(Duration.ofSeconds(10));
    store = RedisAffinityStore.builder().connector(connector)
        .localFallbackMaximumSize(localFallback ? RedisAffinityStore.DEFAULT_LOCAL_FALLBACK_MAXIMUM_SIZE : 0)
        .build();
    journal = RedisHistoryJournal.builder().connector(connector)
        .localFallbackMaximumEntries(localFallback ? RedisHistoryJournal.DEFAULT_LOCAL_FALLBACK_MAXIMUM_ENTRIES : 0)
        .waitForReplicas(waitForReplicas)
        .build();
    interceptor = AffinityInterceptor.builder()
        .store(store)
        .journal(journal)
        .retryPause(Duration.ZERO)
        .listener(new AffinityListener() {
          @Override
          public void repaired(ChainRepair repair) {
            repairs.incrementAndGet();
          }

          @Override
          public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
            failures.add(reason);
          }
        })
        .build();
    client = new OkHttpClient.Builder().addInterceptor(interceptor).build();
  }

  /** Sends one turn through {@code instance}'s client: a new chain if {@code previous} is null. */
  static Reply send(AppInstance instance, String input, String previous) throws IOException {
    Map<String, Object> body = new HashMap<>();
    body.put("model", "gpt-4.1");
    body.put("input", input);
    if (previous != null) {
      body.put("previous_response_id", previous);
    }
    Request request = new Request.Builder().url(instance.responsesUrl)
        .post(RequestBody.create(MAPPER.writeValueAsString(body), JSON)).build();
    try (Response response = instance.client.newCall(request).execute()) {
      String text = response.body().string();
      JsonNode json = MAPPER.readTree(text);
      return new Reply(response.code(), text, json.path("id").asText(null),
          json.at("/output/0/content/0/text").asText(""), response.header(ChainNote.HEADER));
    }
  }

  /** One turn's reply: status, body, the response id, the model's text, the chain note header. */
  record Reply(int status, String body, String id, String text, String note) {
    SimulatedAnswer answer() {
      return SimulatedAnswer.parse(text);
    }
  }

  /** Redis answers again: operations go on until one succeeds and ends the outage. */
  void awaitAvailable() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    RedisAffinityStore probe = RedisAffinityStore.builder().connector(connector).build();
    while (!available.await(20, TimeUnit.MILLISECONDS)) {
      assertThat(System.nanoTime()).as("Redis available again within 30 s").isLessThan(deadline);
      probe.get(ChainKey.response("resp_probe"));
    }
  }

  /**
   * Sends what this instance kept while Redis was unavailable, as its next operations would: pins
   * and turns, until none waits (Redis answers again).
   */
  void flush() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (store.waitingForRedis() > 0 || journal.waitingForRedis() > 0) {
      assertThat(System.nanoTime()).as("sent within 30 s: %s, %s", store, journal).isLessThan(deadline);
      store.get(ChainKey.response("resp_flush"));
      journal.history(ChainKey.response("resp_flush"));
      TimeUnit.MILLISECONDS.sleep(20); // the connector retries every 50 ms
    }
  }

  /** The status of the chain's history in this instance's journal, in the scope of the simulator's API. */
  ChainHistory.Status history(String responseId) {
    ChainScope scope = interceptor.scopeOf(new Request.Builder().url(responsesUrl).build());
    return interceptor.journal().history(ChainKey.response(responseId).in(scope)).status();
  }

  long repairsFailed() {
    return interceptor.repairStats().repairsFailed();
  }

  @Override
  public void close() {
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
    connector.close();
  }
}
