package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.InternalServerException;
import com.openai.errors.OpenAIIoException;
import com.openai.errors.RateLimitException;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainNote.Reason;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.SocketPolicy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A turn on a chain that fails without a repair reaches the caller naming the chain and why it
 * was not repaired, its type and the gateway's words kept: an error response with header
 * {@link ChainNote#HEADER} (and the chain in its message), an {@code IOException} with a
 * {@link ChainNote}. Through a bare OkHttp client and through the SDK. Checked by value (the
 * header, the note's reason and chain), never by the wording of affinity4j's messages.
 */
@Timeout(60)
final class AffinityInterceptorFailureTest {
  private static final String RESPONSES = "/openai/v1/responses";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final String RATE_LIMITED =
      "{\"error\":{\"code\":\"429\",\"message\":\"Rate limit is exceeded. Try again in 1 seconds.\"}}";
  private static final String CHAIN = "response:resp_1";

  private final MockWebServer server = new MockWebServer();
  private final List<OkHttpClient> clients = new ArrayList<>();
  private final List<OpenAIClient> sdkClients = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    server.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void close() throws IOException {
    sdkClients.forEach(OpenAIClient::close);
    for (OkHttpClient client : clients) {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
    server.shutdown();
  }

  @Test
  void rateLimited_continuingTurn_errorNamesTheChainAndKeepsTheGatewaysWords() throws Exception {
    OkHttpClient client = client();
    server.enqueue(new MockResponse().setResponseCode(429).setHeader("Content-Type", "application/json")
        .setHeader("Retry-After", "1").setBody(RATE_LIMITED));

    try (Response response = client.newCall(post(continuing("resp_1"))).execute()) {
      String body = response.body().string();

      assertThat(response.code()).isEqualTo(429);
      assertThat(response.header("Retry-After")).isEqualTo("1");
      assertThat(response.header("Content-Length")).isEqualTo(Integer.toString(body.getBytes().length));
      assertThat(response.header(ChainNote.HEADER)).isEqualTo("NOT_A_BREAK " + CHAIN);
      assertThat(ChainNote.reasonIn(response.header(ChainNote.HEADER))).isEqualTo(Reason.NOT_A_BREAK);
      JsonNode error = MAPPER.readTree(body).get("error");
      assertThat(error.get("code").asText()).isEqualTo("429");
      assertThat(error.get("message").asText()).startsWith("Rate limit is exceeded. Try again in 1 seconds.")
          .contains(CHAIN);
    }
  }

  @Test
  void rateLimited_newChain_bodyAsTheGatewaySentIt() throws Exception {
    OkHttpClient client = client();
    server.enqueue(new MockResponse().setResponseCode(429).setHeader("Content-Type", "application/json")
        .setBody(RATE_LIMITED));

    try (Response response = client.newCall(post("{\"model\":\"gpt-4.1\",\"input\":\"Hi\"}")).execute()) {
      assertThat(response.body().string()).isEqualTo(RATE_LIMITED);
      assertThat(response.header(ChainNote.HEADER)).as("no chain to name").isNull();
    }
  }

  @Test
  void notJsonError_continuingTurn_bodyAsTheGatewaySentIt() throws Exception {
    OkHttpClient client = client();
    server.enqueue(new MockResponse().setResponseCode(500).setHeader("Content-Type", "text/html")
        .setBody("<html>Internal error</html>"));

    try (Response response = client.newCall(post(continuing("resp_1"))).execute()) {
      assertThat(response.body().string()).isEqualTo("<html>Internal error</html>");
      assertThat(response.header(ChainNote.HEADER)).as("the chain named in the header alone")
          .isEqualTo("NOT_A_BREAK " + CHAIN);
    }
  }

  @Test
  void rateLimited_sdk_sameExceptionTypeItsMessageNamesTheChain() {
    OpenAIClient sdk = sdk();
    for (int i = 0; i < 3; i++) {
      server.enqueue(new MockResponse().setResponseCode(429).setHeader("Content-Type", "application/json")
          .setHeader("Retry-After", "0").setBody(RATE_LIMITED));
    }

    RateLimitException e = catchThrowableOfType(RateLimitException.class,
        () -> sdk.responses().create(continuingParams("resp_1")));

    assertThat(e.getMessage()).startsWith("429: Rate limit is exceeded. Try again in 1 seconds.").contains(CHAIN);
    assertThat(e.headers().values(ChainNote.HEADER)).containsExactly("NOT_A_BREAK " + CHAIN);
    assertThat(e.headers().values("Retry-After")).containsExactly("0");
    assertThat(e.code()).contains("429");
    assertThat(server.getRequestCount()).as("the SDK's retries saw the status as it was").isEqualTo(3);
  }

  @Test
  void apimErrorWithoutMessage_sdk_messageShowsTheNoteBesideTheGatewaysFields() {
    OpenAIClient sdk = sdk();
    for (int i = 0; i < 3; i++) {
      server.enqueue(new MockResponse().setResponseCode(500).setHeader("Content-Type", "application/json")
          .setBody("{\"statusCode\":500}"));
    }

    InternalServerException e = catchThrowableOfType(InternalServerException.class,
        () -> sdk.responses().create(continuingParams("resp_1")));

    assertThat(e.getMessage()).startsWith("500: {").contains("\"statusCode\":500").contains("\"affinity4j\":")
        .contains(CHAIN);
    assertThat(e.headers().values(ChainNote.HEADER)).containsExactly("NOT_A_BREAK " + CHAIN);
  }

  @Test
  void streamCut_bareClient_ioExceptionCarriesTheNote() throws Exception {
    OkHttpClient client = client();
    server.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream")
        .setBody(created("resp_2") + "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
            + "\"delta\":\"" + "x".repeat(64 * 1024) + "\"}\n\n")
        .setSocketPolicy(SocketPolicy.DISCONNECT_DURING_RESPONSE_BODY));

    IOException e;
    try (Response response = client.newCall(post(continuing("resp_1"))).execute()) {
      e = catchThrowableOfType(IOException.class, () -> response.body().string());
    }

    assertThat(ChainNote.find(e)).hasValueSatisfying(note -> {
      assertThat(note.chain().id()).isEqualTo("resp_1");
      assertThat(note.reason()).isEqualTo(Reason.BROKE_OFF);
    });
  }

  @Test
  void streamCut_sdk_openAiIoExceptionWhoseCauseCarriesTheNote() {
    OpenAIClient sdk = sdk();
    server.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream")
        .setBody(created("resp_2") + "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
            + "\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\""
            + "x".repeat(64 * 1024) + "\",\"logprobs\":[]}\n\n")
        .setSocketPolicy(SocketPolicy.DISCONNECT_DURING_RESPONSE_BODY));

    Throwable e;
    try (StreamResponse<ResponseStreamEvent> events = sdk.responses().createStreaming(continuingParams("resp_1"))) {
      e = catchThrowable(() -> events.stream().forEach(event -> { }));
    }

    assertThat(e).isInstanceOf(OpenAIIoException.class).hasMessage("Stream failed");
    assertThat(ChainNote.find(e)).hasValueSatisfying(note -> {
      assertThat(note.chain().id()).isEqualTo("resp_1");
      assertThat(note.reason()).isEqualTo(Reason.BROKE_OFF);
    });
  }

  @Test
  void jsonBodyCut_continuingTurn_failsAtOnceNamingTheChain() {
    OkHttpClient client = client();
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("{\"id\":\"resp_2\",\"object\":\"response\",\"output\":[{\"type\":\"message\",\"content\":\""
            + "x".repeat(64 * 1024) + "\"}]}")
        .setSocketPolicy(SocketPolicy.DISCONNECT_DURING_RESPONSE_BODY));

    IOException e = catchThrowableOfType(IOException.class,
        () -> client.newCall(post(continuing("resp_1"))).execute().close());

    assertThat(ChainNote.find(e)).hasValueSatisfying(note -> {
      assertThat(note.chain().id()).isEqualTo("resp_1");
      assertThat(note.reason()).isEqualTo(Reason.BROKE_OFF);
    });
  }

  @Test
  void connectionRefused_unpinnedContinuingTurn_sameExceptionWithTheNote() throws Exception {
    int closed;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      closed = socket.getLocalPort();
    }
    OkHttpClient client = client();
    Request request = new Request.Builder().url("http://127.0.0.1:" + closed + RESPONSES)
        .post(RequestBody.create(continuing("resp_1"), JSON)).build();

    IOException e = catchThrowableOfType(IOException.class, () -> client.newCall(request).execute());

    assertThat(e).isInstanceOf(java.net.ConnectException.class);
    assertThat(ChainNote.find(e)).hasValueSatisfying(note -> {
      assertThat(note.chain()).hasToString(CHAIN);
      assertThat(note.reason()).as("no pin was sent: not a break").isEqualTo(Reason.NOT_A_BREAK);
      assertThat(note.brokenBy()).isEmpty();
    });
    assertThat(e.getMessage()).as("the exception's own message, unchanged").doesNotContain("resp_1");
  }

  @Test
  void repairFailed_amendedOnceNotNamedTwice() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    // Pinned, then not found twice with no journal to replay from: the repair fails.
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .setHeader("Set-Cookie", "APIM-Backend-Affinity=backend-a; Path=/")
        .setBody("{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}"));
    String notFound = "{\"error\":{\"message\":\"Previous response with id 'resp_0' not found.\","
        + "\"type\":\"invalid_request_error\",\"param\":\"previous_response_id\",\"code\":\"previous_response_not_found\"}}";
    server.enqueue(new MockResponse().setResponseCode(400).setHeader("Content-Type", "application/json").setBody(notFound));
    server.enqueue(new MockResponse().setResponseCode(400).setHeader("Content-Type", "application/json").setBody(notFound));
    client.newCall(post("{\"model\":\"gpt-4.1\",\"input\":\"Hi\"}")).execute().close();

    try (Response response = client.newCall(post(continuing("resp_0"))).execute()) {
      JsonNode error = MAPPER.readTree(response.body().string()).get("error");
      String message = error.get("message").asText();

      assertThat(response.code()).isEqualTo(400);
      assertThat(response.headers(ChainNote.HEADER)).as("one note, the repair's")
          .containsExactly("REPAIR_FAILED response:resp_0");
      assertThat(error.get("code").asText()).isEqualTo("previous_response_not_found");
      assertThat(message).startsWith("Previous response with id 'resp_0' not found.");
      assertThat(message).contains("response:resp_0");
      for (Reason reason : Reason.values()) {
        assertThat(Pattern.compile("\\b" + reason + "\\b").matcher(message).results().count())
            .as("%s in %s", reason, message).isEqualTo(reason == Reason.REPAIR_FAILED ? 1 : 0);
      }
      assertThat(error.has("affinity4j")).as("the message amended, no extra field").isFalse();
    }
    assertThat(interceptor.repairStats()).satisfies(stats -> {
      assertThat(stats.breaks()).isEqualTo(1);
      assertThat(stats.repairsFailed()).isEqualTo(1);
    });
  }

  private OkHttpClient client() {
    return client(AffinityInterceptor.builder().build());
  }

  private OkHttpClient client(AffinityInterceptor interceptor) {
    OkHttpClient client = new OkHttpClient.Builder().addInterceptor(interceptor)
        .readTimeout(10, TimeUnit.SECONDS).build();
    clients.add(client);
    return client;
  }

  private OpenAIClient sdk() {
    OkHttpClient http = client();
    OpenAIClient sdk = OpenAIOkHttpClient.builder().baseUrl(server.url("/openai/v1").toString()).apiKey("test-key")
        .okHttpClient(http).maxRetries(2).build();
    sdkClients.add(sdk);
    return sdk;
  }

  private Request post(String json) {
    return new Request.Builder().url(server.url(RESPONSES)).post(RequestBody.create(json, JSON)).build();
  }

  private static String continuing(String previousId) {
    return "{\"model\":\"gpt-4.1\",\"input\":\"Go on\",\"previous_response_id\":\"" + previousId + "\"}";
  }

  private static ResponseCreateParams continuingParams(String previousId) {
    return ResponseCreateParams.builder().model("gpt-4.1").input("Go on").previousResponseId(previousId).build();
  }

  private static String created(String id) {
    return "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\""
        + id + "\",\"object\":\"response\",\"created_at\":1,\"status\":\"in_progress\",\"model\":\"gpt-4.1\","
        + "\"output\":[],\"parallel_tool_calls\":true,\"tool_choice\":\"auto\",\"tools\":[]}}\n\n";
  }
}
