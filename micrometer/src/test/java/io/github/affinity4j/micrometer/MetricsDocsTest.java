package io.github.affinity4j.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import com.example.AffinityMetricsConfiguration;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testsupport.DocSnippets;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.file.Path;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The snippets of {@code docs/metrics.md}: each is the code a test here compiles and runs, and the
 * page shows it as it is.
 */
@Timeout(30)
final class MetricsDocsTest {
  private static final Path PAGE = Path.of("..", "docs", "metrics.md");
  private static final Path SPRING = Path.of("src", "test", "java", "com", "example",
      "AffinityMetricsConfiguration.java");
  private static final Path SOURCE = Path.of("src", "test", "java", "io", "github", "affinity4j",
      "micrometer", "MetricsDocsTest.java");

  @Test
  void plainSnippet_bindsAndCounts() throws IOException {
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      MeterRegistry registry = new SimpleMeterRegistry();
      // snippet: metrics-binding
      AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
      AffinityMetrics.builder(interceptor).build().bindTo(registry);
      // snippet: end
      OkHttpClient http = new OkHttpClient.Builder().addInterceptor(interceptor).build();
      try {
        String id = post(http, apim, null);
        post(http, apim, id);
      } finally {
        http.dispatcher().executorService().shutdown();
        http.connectionPool().evictAll();
      }

      assertThat(registry.get(AffinityMetrics.PINS).tag("result", "applied").functionCounter()
          .count()).isEqualTo(1);
    }
  }

  @Test
  void springExample_beansWiredAsSpringWould_bindTheCounters() {
    AffinityMetricsConfiguration configuration = new AffinityMetricsConfiguration();
    var replays = configuration.repairMetricsListener();
    AffinityInterceptor interceptor = configuration.affinityInterceptor(replays);
    MeterRegistry registry = new SimpleMeterRegistry();

    configuration.affinityMetrics(interceptor, replays).bindTo(registry);

    assertThat(registry.find(AffinityMetrics.PINS).functionCounters()).hasSize(2);
    assertThat(registry.find(AffinityMetrics.REPLAYED_ITEMS).functionCounter()).isNotNull();
    assertThat(registry.get(AffinityMetrics.CHAINS_TRACKED).gauge().getId()
        .getTag(AffinityMetrics.COOKIE_TAG)).isEqualTo("APIM-Backend-Affinity");
  }

  @ParameterizedTest
  @ValueSource(strings = {"metrics-binding", "metrics-spring"})
  void page_snippets_areTheCodeTheseTestsRun(String snippet) {
    Path source = DocSnippets.testSource(snippet.equals("metrics-spring") ? AffinityMetricsConfiguration.class
        : MetricsDocsTest.class);
    assertThat(DocSnippets.inPage(DocSnippets.page("docs/metrics.md"), snippet))
        .isEqualTo(DocSnippets.inSource(source, snippet));
  }

  private static String post(OkHttpClient http, ApimSimulator apim, String previous) throws IOException {
    String json = "{\"model\":\"gpt-4.1\",\"input\":\"Hello\""
        + (previous == null ? "" : ",\"previous_response_id\":\"" + previous + "\"") + "}";
    Request request = new Request.Builder().url(apim.openAiBaseUrl() + "/responses")
        .post(RequestBody.create(json, MediaType.get("application/json"))).build();
    try (Response response = http.newCall(request).execute()) {
      String body = response.body().string();
      assertThat(response.code()).isEqualTo(200);
      int at = body.indexOf("\"id\":\"") + 6;
      return body.substring(at, body.indexOf('"', at));
    }
  }
}
