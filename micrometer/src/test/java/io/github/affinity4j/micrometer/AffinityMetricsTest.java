package io.github.affinity4j.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.Conversation;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedBackend;
import io.github.affinity4j.testsupport.MutableClock;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link AffinityMetrics} on a {@link SimpleMeterRegistry}, its counters moved by real turns
 * through a real OkHttp client and a real SDK client against {@link ApimSimulator} on loopback.
 */
@Timeout(60)
final class AffinityMetricsTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final Pattern ID = Pattern.compile("\"id\":\"(resp_[^\"]+)\"");

  private final MeterRegistry registry = new SimpleMeterRegistry();
  private ApimSimulator apim;
  private OkHttpClient http;

  @AfterEach
  void close() {
    if (http != null) {
      http.dispatcher().executorService().shutdown();
      http.connectionPool().evictAll();
    }
    if (apim != null) {
      apim.close();
    }
  }

  @Test
  void interceptorTurns_pinnedThenBackendKilled_countersMoveWithTheStats() throws IOException {
    apim = ApimSimulator.builder().backends(3).start();
    RepairMetricsListener replays = new RepairMetricsListener();
    AffinityInterceptor interceptor = AffinityInterceptor.builder()
        .listener(replays).retryPause(Duration.ZERO).build();
    http = new OkHttpClient.Builder().addInterceptor(interceptor).build();
    AffinityMetrics.builder(interceptor).repairListener(replays).snapshotMaxAge(Duration.ZERO)
        .build().bindTo(registry);
    assertThat(count(AffinityMetrics.PINS, "result", "applied")).isZero();

    // Three conversations of three turns: turns 2 and 3 of each carry the pin.
    List<String> last = new ArrayList<>();
    for (int c = 0; c < 3; c++) {
      String id = post(null);
      id = post(id);
      last.add(post(id));
    }
    assertThat(count(AffinityMetrics.PINS, "result", "applied")).isEqualTo(6);
    assertThat(count(AffinityMetrics.PINS, "result", "missing")).isZero();
    assertThat(gauge(AffinityMetrics.CHAINS_TRACKED)).isPositive();
    assertThat(count(AffinityMetrics.TOKENS_BOUND)).isPositive();
    assertThat(count(AffinityMetrics.REPAIRS, "outcome", "succeeded")).isZero();

    // The backend of conversation 1 dies: its next turn is repaired by replaying its history.
    SimulatedBackend first = apim.backends().get(0);
    first.kill();
    post(last.get(0));

    AffinityStats stats = interceptor.stats();
    RepairStats repairs = interceptor.repairStats();
    assertThat(repairs.repairsSucceeded()).isEqualTo(1);
    assertThat(count(AffinityMetrics.PINS, "result", "applied")).isEqualTo(stats.pinsApplied());
    assertThat(gauge(AffinityMetrics.CHAINS_TRACKED)).isEqualTo(stats.chainsTracked());
    assertThat(count(AffinityMetrics.TOKENS_BOUND)).isEqualTo(stats.tokensBound());
    assertThat(count(AffinityMetrics.BACKEND_CHANGES)).isEqualTo(stats.backendChanges());
    assertThat(count(AffinityMetrics.REPAIRS, "outcome", "succeeded")).isEqualTo(1);
    assertThat(count(AffinityMetrics.REPAIRS, "outcome", "failed")).isZero();
    assertThat(count(AffinityMetrics.REPAIR_REQUESTS, "action", "replay")).isEqualTo(1);
    assertThat(count(AffinityMetrics.REPAIR_REQUESTS, "action", "retry")).isEqualTo(repairs.retries());
    assertThat(count(AffinityMetrics.BREAKS, "kind", "previous_response_not_found"))
        .isEqualTo(repairs.breaks(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND)).isEqualTo(1);
    assertThat(count(AffinityMetrics.REASONING_LEFT_OUT)).isZero();
    // Turns 1 to 3 and the new input: the replayed history is what the listener saw.
    assertThat(count(AffinityMetrics.REPLAYED_ITEMS)).isEqualTo(replays.itemsReplayed()).isEqualTo(6);
    assertThat(count(AffinityMetrics.REPLAYED_BYTES)).isEqualTo(replays.bytesReplayed()).isPositive();
  }

  @Test
  void wrapperConversation_threeTurns_countersMove() {
    apim = ApimSimulator.builder().backends(3).start();
    OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(apim.openAiBaseUrl())
        .apiKey("test-key").maxRetries(0).build();
    try {
      AffinityConversations conversations = AffinityConversations.builder().client(client)
          .defaults(ResponseCreateParams.builder().model("gpt-4.1").build()).build();
      AffinityMetrics.builder(conversations, AffinityConversations::stats,
          AffinityConversations::repairStats).snapshotMaxAge(Duration.ZERO).build().bindTo(registry);

      Conversation chat = conversations.start();
      chat.send("Explain photosynthesis in simple terms");
      double before = count(AffinityMetrics.PINS, "result", "applied");
      chat.send("Summarize that for a college freshman");
      chat.send("Now in one sentence");

      assertThat(before).isZero();
      assertThat(count(AffinityMetrics.PINS, "result", "applied")).isEqualTo(2)
          .isEqualTo(conversations.stats().pinsApplied());
      assertThat(gauge(AffinityMetrics.CHAINS_TRACKED)).isPositive();
    } finally {
      client.close();
    }
  }

  @Test
  void meters_taggedWithCookieNamesAndTheBuildersTags() {
    StatsSource source = new StatsSource();
    AffinityMetrics.builder(source, StatsSource::stats, StatsSource::repairStats)
        .cookieNames("SessionId", "APIM-Backend-Affinity").tags(Tags.of("client", "chat"))
        .build().bindTo(registry);

    assertThat(registry.getMeters()).isNotEmpty().allSatisfy(meter -> {
      assertThat(meter.getId().getName()).startsWith("affinity4j.");
      assertThat(meter.getId().getTag(AffinityMetrics.COOKIE_TAG)).isEqualTo("SessionId,APIM-Backend-Affinity");
      assertThat(meter.getId().getTag("client")).isEqualTo("chat");
    });
    // Every kind of break has its meter, at 0 before any break.
    assertThat(registry.find(AffinityMetrics.BREAKS).functionCounters())
        .hasSize(ChainBreak.Kind.values().length);
  }

  @Test
  void defaultCookieTag_isTheInterceptorsDefaultName() {
    AffinityMetrics.builder(AffinityInterceptor.builder().build()).build().bindTo(registry);

    assertThat(registry.get(AffinityMetrics.PINS).tag("result", "applied").functionCounter().getId()
        .getTag(AffinityMetrics.COOKIE_TAG)).isEqualTo(ApimSimulator.DEFAULT_COOKIE_NAME);
  }

  @Test
  void publication_withinSnapshotMaxAge_readsEachStatsOnce() {
    StatsSource source = new StatsSource();
    MutableClock clock = new MutableClock();
    AffinityMetrics.builder(source, StatsSource::stats, StatsSource::repairStats).clock(clock)
        .build().bindTo(registry);

    readAll();
    readAll();
    assertThat(source.statsCalls.get()).isEqualTo(1);
    assertThat(source.repairCalls.get()).isEqualTo(1);

    source.applied.set(7);
    clock.advance(AffinityMetrics.DEFAULT_SNAPSHOT_MAX_AGE);
    readAll();

    assertThat(source.statsCalls.get()).isEqualTo(2);
    assertThat(count(AffinityMetrics.PINS, "result", "applied")).isEqualTo(7);
  }

  @Test
  void redisFallbacks_readFromTheConnectorWithoutADependencyOnIt() {
    AtomicLong connector = new AtomicLong(3);   // stands for RedisConnector::fallbacks
    StatsSource source = new StatsSource();
    AffinityMetrics.builder(source, StatsSource::stats, StatsSource::repairStats)
        .redisFallbacks(connector, AtomicLong::get).build().bindTo(registry);

    assertThat(count(AffinityMetrics.REDIS_FALLBACKS)).isEqualTo(3);
    connector.set(5);
    assertThat(count(AffinityMetrics.REDIS_FALLBACKS)).isEqualTo(5);
  }

  @Test
  void builder_badArguments_refused() {
    StatsSource source = new StatsSource();
    AffinityMetrics.Builder builder =
        AffinityMetrics.builder(source, StatsSource::stats, StatsSource::repairStats);

    assertThatThrownBy(() -> builder.cookieNames()).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.cookieNames("bad name")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.snapshotMaxAge(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // --- helpers ---

  /** A source with counters a test sets, counting how often they are read. */
  static final class StatsSource {
    final AtomicLong applied = new AtomicLong();
    final AtomicInteger statsCalls = new AtomicInteger();
    final AtomicInteger repairCalls = new AtomicInteger();

    AffinityStats stats() {
      statsCalls.incrementAndGet();
      return new AffinityStats(1, applied.get(), 0, 0, 0);
    }

    RepairStats repairStats() {
      repairCalls.incrementAndGet();
      return new RepairStats(0, 0, 0, 0, 0, 0, Map.of());
    }
  }

  private void readAll() {
    for (Meter meter : registry.getMeters()) {
      meter.measure().forEach(measurement -> measurement.getValue());
    }
  }

  private double count(String name, String... tags) {
    return registry.get(name).tags(tags).functionCounter().count();
  }

  private double gauge(String name) {
    return registry.get(name).gauge().value();
  }

  /** Posts one turn, continuing {@code previous} unless null; returns the new response id. */
  private String post(String previous) throws IOException {
    String json = "{\"model\":\"gpt-4.1\",\"input\":\"Hello\""
        + (previous == null ? "" : ",\"previous_response_id\":\"" + previous + "\"") + "}";
    Request request = new Request.Builder().url(apim.openAiBaseUrl() + "/responses")
        .post(RequestBody.create(json, JSON)).build();
    try (Response response = http.newCall(request).execute()) {
      String body = response.body().string();
      assertThat(response.code()).as(body).isEqualTo(200);
      Matcher id = ID.matcher(body);
      assertThat(id.find()).isTrue();
      return id.group(1);
    }
  }
}
