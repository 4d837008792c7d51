package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testsupport.DocSnippets;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Runs the snippet of {@code docs/diagnostics.md} (the routing log as a network interceptor) against
 * a simulated pool, and checks the page shows it as it runs here.
 */
@Timeout(30)
final class DiagnosticsDocsTest {
  private static final Path PAGE = Path.of("..", "docs", "diagnostics.md");
  private static final Path SOURCE = Path.of("src", "test", "java", "io", "github", "affinity4j",
      "okhttp", "DiagnosticsDocsTest.java");
  private static final MediaType JSON = MediaType.get("application/json");
  private static final String COOKIE = ApimSimulator.DEFAULT_COOKIE_NAME;

  private ApimSimulator apim;
  private OkHttpClient client;

  @AfterEach
  void close() {
    if (client != null) {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
    if (apim != null) {
      apim.close();
    }
  }

  @Test
  void snippet_networkInterceptor_logsTheCookieActuallySent() throws Exception {
    apim = ApimSimulator.builder().backends(2).start();
    // snippet: routing-log-network
    OkHttpClient http = new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().build())    // adds each chain's pin
        .addNetworkInterceptor(RoutingLogInterceptor.builder()    // sees the headers as sent
            .level(RoutingLogInterceptor.Level.HEADERS)
            .build())
        .build();
    // snippet: end
    client = http;
    String url = apim.openAiBaseUrl() + "/responses";

    String[] first = new String[2];
    List<CapturedLog> events = LogCapture.during(() -> {
      first[0] = post(http, url, "{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}", first);
      post(http, url, "{\"model\":\"gpt-4.1\",\"input\":\"Go on\",\"previous_response_id\":\""
          + first[0] + "\"}", null);
    }).events();

    List<String> lines = events.stream()
        .filter(e -> e.logger().equals(RoutingLogInterceptor.class.getName()))
        .map(CapturedLog::message).toList();
    String pin = COOKIE + ":" + fingerprint(first[1]);
    assertThat(lines).hasSize(2);
    assertThat(lines.get(0).lines().findFirst().orElseThrow()).contains(" cookie-set=" + pin)
        .doesNotContain("cookie-sent=");
    // The pin AffinityInterceptor added, as the network saw it: field and header dump agree.
    assertThat(lines.get(1).lines().findFirst().orElseThrow()).contains(" cookie-sent=" + pin)
        .contains(" chain=response:" + first[0]);
    assertThat(lines.get(1).lines()).contains("> Cookie: " + pin);
    assertThat(String.join("\n", lines)).doesNotContain(first[1]);
  }

  @Test
  void page_snippet_isTheCodeThisTestRuns() {
    assertThat(DocSnippets.inPage(DocSnippets.page("docs/diagnostics.md"), "routing-log-network"))
        .isEqualTo(DocSnippets.inSource(DocSnippets.testSource(DiagnosticsDocsTest.class), "routing-log-network"));
  }


  /** Posts; returns the response id, and puts the affinity cookie's value in {@code cookie[1]}. */
  private static String post(OkHttpClient http, String url, String json, String[] cookie)
      throws IOException {
    Request request = new Request.Builder().url(url).post(RequestBody.create(json, JSON)).build();
    try (Response response = http.newCall(request).execute()) {
      String body = response.body().string();
      assertThat(response.code()).as(body).isEqualTo(200);
      if (cookie != null) {
        String setCookie = response.header("Set-Cookie");
        assertThat(setCookie).startsWith(COOKIE + "=");
        cookie[1] = setCookie.substring(COOKIE.length() + 1).split(";")[0];
      }
      Matcher id = Pattern.compile("\"id\":\"(resp_[^\"]+)\"").matcher(body);
      assertThat(id.find()).isTrue();
      return id.group(1);
    }
  }

  private static String fingerprint(String value) {
    return AffinityToken.builder().name(COOKIE).value(value).domain("example.com")
        .seenAt(Instant.EPOCH).build().fingerprint();
  }

  private static String dedent(String text, int columns) {
    String indent = " ".repeat(columns);
    return Arrays.stream(text.split("\n", -1))
        .map(line -> line.startsWith(indent) ? line.substring(columns) : line.strip())
        .collect(Collectors.joining("\n"));
  }
}
