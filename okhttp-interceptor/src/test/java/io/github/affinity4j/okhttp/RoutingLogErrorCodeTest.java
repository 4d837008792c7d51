package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.testkit.ApimSimulator;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okio.Buffer;
import okio.GzipSink;
import okio.Okio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The routing log's {@code error=} field, from the real error bodies in {@code fixtures/errors/},
 * from a simulated pool and from hostile bodies; and the redaction marker. Through a real
 * {@link OkHttpClient} on loopback.
 */
@Timeout(30)
final class RoutingLogErrorCodeTest {
  private static final Path FIXTURES = Path.of("..", "fixtures", "errors");
  private static final String RESPONSES = "/openai/v1/responses";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final Pattern ERROR = Pattern.compile(" error=(\\S+)");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final MockWebServer server = new MockWebServer();
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final List<OkHttpClient> clients = new ArrayList<>();
  private ApimSimulator apim;

  @BeforeEach
  void start() throws IOException {
    server.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void close() throws IOException {
    for (OkHttpClient client : clients) {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
    server.shutdown();
    if (apim != null) {
      apim.close();
    }
  }

  @ParameterizedTest
  @CsvSource({
      "previous_response_not_found.json, previous_response_not_found",
      "previous_response_404.json, invalid_request_error",
      "previous_response_invalid_terse.json, invalid_request_error",
      "conversation_not_found.json, invalid_request_error",
      "invalid_encrypted_content.json, invalid_encrypted_content",
      "item_not_found_store_false.json, invalid_request_error",
      "rate_limited_429.json, 429",
      "apim_backend_connection_failure_500.json, -",
      "breaker_open_503.json, -"})
  void errorField_realErrorBody_isItsCodeElseItsType(String fixture, String expected) throws Exception {
    JsonNode error = MAPPER.readTree(Files.readString(FIXTURES.resolve(fixture)));
    MockResponse answer = new MockResponse().setResponseCode(error.get("status").asInt())
        .setHeader("Content-Type", "application/json")
        .setBody(MAPPER.writeValueAsString(error.get("body")));
    if (error.has("headers")) {
      for (Iterator<Map.Entry<String, JsonNode>> it = error.get("headers").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> header = it.next();
        answer.setHeader(header.getKey(), header.getValue().asText());
      }
    }
    server.enqueue(answer);

    Exchange exchange = post(routingClient(false), continuing("resp_abc123"));

    assertThat(exchange.code()).isEqualTo(error.get("status").asInt());
    assertThat(errorField(lines.get(0))).isEqualTo(expected);
    // Peeked, not consumed: the caller reads the whole body as sent.
    assertThat(MAPPER.readTree(exchange.body())).isEqualTo(error.get("body"));
  }

  @Test
  void errorField_gzipErrorBodyAsNetworkInterceptor_isDecoded() throws Exception {
    byte[] body = Files.readAllBytes(FIXTURES.resolve("previous_response_not_found.json"));
    String json = MAPPER.writeValueAsString(MAPPER.readTree(body).get("body"));
    Buffer gzipped = new Buffer();
    try (okio.BufferedSink sink = Okio.buffer(new GzipSink(gzipped))) {
      sink.writeUtf8(json);
    }
    server.enqueue(new MockResponse().setResponseCode(400)
        .setHeader("Content-Type", "application/json").setHeader("Content-Encoding", "gzip")
        .setBody(gzipped));

    Exchange exchange = post(routingClient(true), continuing("resp_abc123"));

    assertThat(errorField(lines.get(0))).isEqualTo("previous_response_not_found");
    assertThat(exchange.body()).isEqualTo(json); // OkHttp decoded it for the caller
  }

  @Test
  void errorField_simulatedPoolWithoutAffinity_secondTurnNamesPreviousResponseNotFound()
      throws Exception {
    apim = ApimSimulator.builder().backends(2).start();
    OkHttpClient client = routingClient(false);
    String url = apim.openAiBaseUrl() + "/responses";

    Exchange first = post(client, url, "{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}");
    Matcher id = Pattern.compile("\"id\":\"(resp_[^\"]+)\"").matcher(first.body());
    assertThat(id.find()).isTrue();
    Exchange second = post(client, url, continuing(id.group(1)));

    assertThat(first.code()).isEqualTo(200);
    assertThat(second.code()).isEqualTo(400);
    assertThat(errorField(lines.get(0))).isEqualTo("-");
    assertThat(errorField(lines.get(1))).isEqualTo("previous_response_not_found");
  }

  @Test
  void errorField_successfulAnswerMentioningAnError_hasNone() throws Exception {
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("{\"error\":{\"code\":\"should_not_show\"},\"id\":\"resp_1\",\"object\":\"response\"}"));

    post(routingClient(false), continuing("resp_abc123"));

    assertThat(errorField(lines.get(0))).isEqualTo("-");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "x\\nPOST /forged 200 region=evil",
      "quote\\\" region=\\\"evil",
      "tab\\there\\r\\u2028next\\u0000nul \\u2588\\u2588 é",
      "a-very-long-code-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
  void errorField_hostileCode_staysOneBoundedTokenAndForgesNothing(String code) throws Exception {
    server.enqueue(new MockResponse().setResponseCode(400).setHeader("Content-Type", "application/json")
        .setBody("{\"error\":{\"message\":\"secret-in-message\",\"code\":\"" + code + "\"}}"));

    post(routingClient(false), continuing("resp_abc123"));

    String line = lines.get(0);
    assertThat(line.lines()).hasSize(1);
    assertThat(errorField(line)).matches("[A-Za-z0-9._:-]{1,64}");
    assertThat(line).doesNotContain("region=").doesNotContain("secret-in-message")
        .doesNotContain("\"");
    assertThat(line.chars()).allMatch(c -> c >= 0x20 && c < 0x7F);
  }

  @Test
  void errorField_codeNotAString_fallsBackToType() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(400).setHeader("Content-Type", "application/json")
        .setBody("{\"error\":{\"code\":{\"nested\":\"x\"},\"type\":\"server_error\"}}"));

    post(routingClient(false), continuing("resp_abc123"));

    assertThat(errorField(lines.get(0))).isEqualTo("server_error");
  }

  @Test
  void errorField_notJson_hasNone() throws Exception {
    server.enqueue(new MockResponse().setResponseCode(502).setHeader("Content-Type", "text/html")
        .setBody("<html>Bad gateway</html>"));

    Exchange exchange = post(routingClient(false), continuing("resp_abc123"));

    assertThat(errorField(lines.get(0))).isEqualTo("-");
    assertThat(exchange.body()).isEqualTo("<html>Bad gateway</html>");
  }

  // --- the redaction marker ---

  @Test
  void headers_defaultMarker_isAsciiAndHidesTheSecret() throws Exception {
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("{}"));
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .level(RoutingLogInterceptor.Level.HEADERS).logger(lines::add).build();

    execute(client(new OkHttpClient.Builder().addInterceptor(routing)), withKey());

    assertThat(lines.get(0).lines()).contains("> api-key: " + RoutingLogInterceptor.REDACTED);
    assertThat(RoutingLogInterceptor.REDACTED.chars()).allMatch(c -> c >= 0x20 && c < 0x7F);
    assertThat(lines.get(0)).doesNotContain("k3y-s3cr3t");
    assertThat(lines.get(0).chars()).allMatch(c -> c < 0x7F);
  }

  @Test
  void headers_blockMarkerChosen_showsTheBlock() throws Exception {
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody("{}"));
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .level(RoutingLogInterceptor.Level.HEADERS)
        .redactionMarker(RoutingLogInterceptor.REDACTED_BLOCK)
        .logger(lines::add).build();

    execute(client(new OkHttpClient.Builder().addInterceptor(routing)), withKey());

    assertThat(lines.get(0).lines()).contains("> api-key: \u2588\u2588");
    assertThat(lines.get(0)).doesNotContain("k3y-s3cr3t").doesNotContain(RoutingLogInterceptor.REDACTED);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "a\nb", "\u0007", "123456789012345678901234567890123"})
  void redactionMarker_thatCouldBreakALine_isRefused(String marker) {
    assertThatThrownBy(() -> RoutingLogInterceptor.builder().redactionMarker(marker))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // --- helpers ---

  private record Exchange(int code, String body) {}

  private OkHttpClient routingClient(boolean network) {
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder().logger(lines::add).build();
    OkHttpClient.Builder builder = new OkHttpClient.Builder();
    if (network) {
      builder.addNetworkInterceptor(routing);
    } else {
      builder.addInterceptor(routing);
    }
    return client(builder);
  }

  private OkHttpClient client(OkHttpClient.Builder builder) {
    OkHttpClient client = builder.build();
    clients.add(client);
    return client;
  }

  private Exchange post(OkHttpClient client, String json) throws IOException {
    return post(client, server.url(RESPONSES).toString(), json);
  }

  private static Exchange post(OkHttpClient client, String url, String json) throws IOException {
    return execute(client, new Request.Builder().url(url).post(RequestBody.create(json, JSON)).build());
  }

  private static Exchange execute(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      return new Exchange(response.code(), response.body().string());
    }
  }

  private Request withKey() {
    return new Request.Builder().url(server.url(RESPONSES))
        .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"Hi\"}", JSON))
        .header("api-key", "k3y-s3cr3t").build();
  }

  /** The value of the line's {@code error=} field, {@code -} if it has none. */
  private static String errorField(String line) {
    Matcher matcher = ERROR.matcher(line);
    return matcher.find() ? matcher.group(1) : "-";
  }

  private static String continuing(String previousId) {
    return "{\"model\":\"gpt-4.1\",\"input\":\"Go on\",\"previous_response_id\":\"" + previousId + "\"}";
  }
}
