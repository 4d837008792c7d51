package io.github.affinity4j.okhttp.snippets;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.models.responses.Response;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.okhttp.RoutingLogInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.DocSnippets;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import java.nio.file.Path;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.slf4j.event.Level;

/**
 * Runs the snippets of the README and docs that need only OkHttp and the interceptors (each a
 * whole source file of this package, imports included) over loopback, and checks that each page
 * shows its snippet word for word ({@link DocSnippets}).
 */
@Timeout(60)
final class DocsSnippetsTest {
  private static final MediaType JSON = MediaType.get("application/json");

  @ParameterizedTest
  @CsvSource({
      "README.md, quickstart-interceptor, OwnClient",
      "docs/logging.md, routing-log, Diagnostics",
      "docs/security.md, redirects, Redirects",
      "docs/affinity.md, interceptor-settings, Settings",
      "docs/affinity.md, cookie-jar, ThreadScope",
  })
  void page_showsTheSourceTheTestsRun(String page, String snippet, String className) {
    assertThat(DocSnippets.inPage(DocSnippets.page(page), snippet))
        .isEqualTo(DocSnippets.inSource(source(className), snippet));
  }

  @Test
  void quickStartInterceptor_twoTurns_secondPinnedAndLoggedWithItsCookie() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      OwnClient own = new OwnClient(apim.openAiBaseUrl(), "test-key");
      Response second;
      LogCapture log;
      try (LogCapture capture = LogCapture.start()) {
        log = capture;
        second = own.twoTurns();
      } finally {
        own.close();
      }

      String text = second.output().get(0).asMessage().content().get(0).asOutputText().text();
      assertThat(SimulatedAnswer.parse(text).userMessages()).isEqualTo(2);
      assertThat(own.stats().pinsApplied()).isEqualTo(1);
      assertThat(own.stats().pinsMissing()).isZero();
      assertThat(apim.requestLog()).extracting(LoggedRequest::backend).containsExactly("backend-1", "backend-1");
      assertThat(routingLines(log)).hasSize(2).allSatisfy(line -> assertThat(line.level()).isEqualTo(Level.INFO));
      assertThat(routingLines(log).get(1).message()).startsWith("POST /openai/v1/responses 200 ")
          .contains("cookie-sent=APIM-Backend-Affinity:");
    }
  }

  @Test
  void routingLog_alone_oneLinePerExchange_headersRedactedAtDebug() throws IOException {
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      LogCapture log;
      try (LogCapture capture = LogCapture.start()) {
        log = capture;
        post(Diagnostics.withRoutingLog(), apim, null);
        post(Diagnostics.withHeaders(), apim, "internal-secret-value");
      }

      assertThat(routingLines(log)).extracting(CapturedLog::level).containsExactly(Level.INFO, Level.DEBUG);
      assertThat(routingLines(log).get(0).message()).startsWith("POST /openai/v1/responses 200 ")
          .contains("region=\"");
      assertThat(routingLines(log).get(1).message()).contains("X-Internal-Token")
          .doesNotContain("internal-secret-value");
    }
  }

  @Test
  void redirects_guardedClient_pinsASecondTurnOnTheSimulator() throws IOException {
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      OkHttpClient client = Redirects.guarded();
      String first = post(client, apim, null);
      String id = first.substring(first.indexOf("\"resp_") + 1, first.indexOf('"', first.indexOf("\"resp_") + 1));
      try (okhttp3.Response second = client.newCall(new Request.Builder().url(apim.openAiBaseUrl() + "/responses")
          .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"Hi again\",\"previous_response_id\":\"" + id + "\"}", JSON))
          .build()).execute()) {
        assertThat(second.code()).isEqualTo(200);
      }
      assertThat(client.networkInterceptors()).hasSize(1);
      assertThat(apim.requestLog()).extracting(LoggedRequest::hasAffinityCookie).containsExactly(false, true);
    }
  }

  @Test
  void interceptorSettings_pinMoved_listenerLogsFingerprintsAndStoreIsBounded() throws IOException {
    AffinityInterceptor affinity = Settings.interceptor();
    try (MockWebServer server = new MockWebServer()) {
      server.enqueue(created("resp_1").addHeader("Set-Cookie", "SessionId=backend-a-value; Path=/"));
      server.enqueue(created("resp_2").addHeader("Set-Cookie", "SessionId=backend-b-value; Path=/"));
      OkHttpClient client = new OkHttpClient.Builder().addInterceptor(affinity).build();
      LogCapture log;
      try (LogCapture capture = LogCapture.start()) {
        log = capture;
        call(client, server, "{\"model\":\"gpt-4.1\",\"input\":\"hi\"}");
        call(client, server, "{\"model\":\"gpt-4.1\",\"input\":\"again\",\"previous_response_id\":\"resp_1\"}");
      }

      assertThat(affinity.stats().backendChanges()).isEqualTo(1);
      assertThat(((CaffeineAffinityStore) affinity.store()).maximumSize()).isEqualTo(200_000);
      assertThat(log.events()).filteredOn(event -> event.logger().equals(Settings.class.getName()))
          .singleElement().satisfies(event -> assertThat(event.message())
              .startsWith("response:resp_2 moved from ").doesNotContain("backend-a-value", "backend-b-value"));
    }
  }

  @Test
  void cookieJar_threadScope_secondRequestCarriesThePinTheFirstWasGiven() throws IOException {
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      OkHttpClient shared = new OkHttpClient();
      OkHttpClient forThread = ThreadScope.forThread(shared, "thread_abc");
      post(forThread, apim, null);
      post(forThread, apim, null);

      assertThat(forThread.connectionPool()).isSameAs(shared.connectionPool());
      assertThat(apim.requestLog()).extracting(LoggedRequest::hasAffinityCookie).containsExactly(false, true);
      assertThat(apim.requestLog()).extracting(LoggedRequest::backend).containsExactly("backend-1", "backend-1");
    }
  }

  private static String post(OkHttpClient client, ApimSimulator apim, String internalToken) throws IOException {
    Request.Builder request = new Request.Builder().url(apim.openAiBaseUrl() + "/responses")
        .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}", JSON));
    if (internalToken != null) {
      request.header("X-Internal-Token", internalToken);
    }
    try (okhttp3.Response response = client.newCall(request.build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
      return response.body().string();
    }
  }

  private static void call(OkHttpClient client, MockWebServer server, String body) throws IOException {
    try (okhttp3.Response response = client.newCall(new Request.Builder().url(server.url("/openai/v1/responses"))
        .post(RequestBody.create(body, JSON)).build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }
  }

  private static MockResponse created(String id) {
    return new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("{\"id\":\"" + id + "\",\"object\":\"response\",\"output\":[]}");
  }

  private static java.util.List<CapturedLog> routingLines(LogCapture log) {
    return log.events().stream().filter(event -> event.logger().equals(RoutingLogInterceptor.class.getName())).toList();
  }

  private static Path source(String className) {
    return DocSnippets.testSource(DocsSnippetsTest.class).resolveSibling(className + ".java");
  }
}
