package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import okhttp3.mockwebserver.SocketPolicy;
import okio.Buffer;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.ForwardingSource;
import okio.Okio;
import okio.Source;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.MDC;
import org.slf4j.event.Level;
import org.slf4j.helpers.BasicMDCAdapter;
import org.slf4j.spi.MDCAdapter;

/**
 * {@link AffinityInterceptor} through a real {@link OkHttpClient}: MockWebServer where the exact
 * request headers and scripted responses matter, {@link ApimSimulator} where a pool does.
 */
@Timeout(60)
final class AffinityInterceptorTest {
  private static final String COOKIE = "APIM-Backend-Affinity";
  private static final String RESPONSES = "/openai/v1/responses";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** A Responses API stream as a server sends it: CRLF line ends, a comment, multi-byte text. */
  private static final String STREAM = ": keep-alive\r\n\r\n"
      + "event: response.created\r\n"
      + "data: {\"type\":\"response.created\",\"sequence_number\":0,"
      + "\"response\":{\"id\":\"resp_s1\",\"object\":\"response\",\"status\":\"in_progress\"}}\r\n\r\n"
      + "event: response.output_text.delta\r\n"
      + "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,"
      + "\"delta\":\"Gr\u00fc\u00dfe, \u4e16\u754c \ud83d\udc4b\"}\r\n\r\n"
      + "event: response.output_text.delta\r\n"
      + "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"delta\":\"!\"}\r\n"
      + "\r\n"
      + "event: response.completed\n"
      + "data: {\"type\":\"response.completed\",\"sequence_number\":3,\n"
      + "data: \"response\":{\"id\":\"resp_s1\",\"object\":\"response\",\"status\":\"completed\"}}\n\n";

  private final MockWebServer server = new MockWebServer();
  private final List<MockWebServer> otherServers = new ArrayList<>();
  private final List<OkHttpClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

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
    for (MockWebServer other : otherServers) {
      other.shutdown();
    }
    if (simulator != null) {
      simulator.close();
    }
    MDC.remove(AffinityInterceptor.MDC_CHAIN);
  }

  // --- 1. new chains carry no pin; continuing ones carry their chain's pin ---

  @Test
  void chain_newThenContinuedTwice_pinOnlyOnContinuationsAndInheritedWithoutSetCookie()
      throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/; HttpOnly"));
    server.enqueue(created("resp_2"));
    server.enqueue(created("resp_3"));

    execute(client, post(RESPONSES, newTurn()));
    execute(client, post(RESPONSES, continuing("resp_1")));
    execute(client, post(RESPONSES, continuing("resp_2")));

    assertThat(takeRequest(server).getHeaders().values("Cookie")).isEmpty();
    assertThat(takeRequest(server).getHeaders().values("Cookie")).containsExactly(COOKIE + "=backend-a");
    assertThat(takeRequest(server).getHeaders().values("Cookie")).containsExactly(COOKIE + "=backend-a");
    // resp_1 fresh, resp_2 and resp_3 inherited; two pins sent.
    assertThat(interceptor.stats()).isEqualTo(new AffinityStats(3, 2, 0, 0, 3));
  }

  @Test
  void chain_repairPolicyFail_pinnedAsUsualJsonAndStreamNothingJournaled() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().repairPolicy(RepairPolicy.FAIL).build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/; HttpOnly"));
    server.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(STREAM));
    server.enqueue(created("resp_3"));

    execute(client, post(RESPONSES, newTurn()));
    execute(client, post(RESPONSES, continuing("resp_1")));
    execute(client, post(RESPONSES, continuing("resp_s1")));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(takeRequest(server).getHeader("Cookie")).as("the stream's id was bound").isEqualTo(COOKIE + "=backend-a");
    assertThat(interceptor.journal().estimatedSize()).isZero();
  }

  @Test
  void chain_newChainWithoutSetCookie_nothingBoundAndContinuationUnpinned() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1"));
    server.enqueue(created("resp_2"));

    execute(client, post(RESPONSES, newTurn()));
    execute(client, post(RESPONSES, continuing("resp_1")));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(interceptor.stats()).isEqualTo(new AffinityStats(0, 0, 1, 0, 0));
  }

  // --- 2. the caller's own cookies ---

  @Test
  void callerCookies_continuingRequest_keptAndPinAppended() throws Exception {
    OkHttpClient client = client(AffinityInterceptor.builder().build());
    bindResp1(client, "backend-a");
    server.enqueue(created("resp_2"));

    execute(client, post(RESPONSES, continuing("resp_1")).newBuilder().header("Cookie", "theme=dark").build());

    assertThat(takeRequest(server).getHeaders().values("Cookie"))
        .containsExactly("theme=dark; " + COOKIE + "=backend-a");
  }

  @Test
  void callerCookies_severalCookieHeaders_allKeptInOneHeaderWithThePin() throws Exception {
    OkHttpClient client = client(AffinityInterceptor.builder().build());
    bindResp1(client, "backend-a");
    server.enqueue(created("resp_2"));

    execute(client, post(RESPONSES, continuing("resp_1")).newBuilder()
        .addHeader("Cookie", "lang=en")
        .addHeader("Cookie", "theme=dark")
        .build());

    assertThat(takeRequest(server).getHeaders().values("Cookie"))
        .containsExactly("lang=en; theme=dark; " + COOKIE + "=backend-a");
  }

  @Test
  void callerCookies_alreadyCarriesAffinityCookie_requestLeftAsTheCallerMadeIt() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    bindResp1(client, "backend-a");
    server.enqueue(created("resp_2"));
    server.enqueue(created("resp_3"));
    String body = continuing("resp_1");

    execute(client, post(RESPONSES, body).newBuilder()
        .header("Cookie", "theme=dark; " + COOKIE + "=chosen-by-caller").build());
    execute(client, post(RESPONSES, body).newBuilder()
        .addHeader("Cookie", COOKIE + "=chosen-by-caller")
        .addHeader("Cookie", "theme=dark")
        .build());

    RecordedRequest single = takeRequest(server);
    assertThat(single.getHeaders().values("Cookie")).containsExactly("theme=dark; " + COOKIE + "=chosen-by-caller");
    assertThat(single.getBody().readUtf8()).isEqualTo(body);
    assertThat(takeRequest(server).getHeaders().values("Cookie"))
        .containsExactly(COOKIE + "=chosen-by-caller", "theme=dark");
    assertThat(interceptor.stats().pinsApplied()).isZero();
  }

  // --- 3. hosts, Secure, Domain, Path ---

  @Test
  void hosts_chainBoundOnHostA_pinNeverSentToHostB() throws Exception {
    MockWebServer serverB = otherServer();
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    bindResp1(client, "backend-a");
    serverB.enqueue(created("resp_2"));
    server.enqueue(created("resp_3"));

    HttpUrl atB = new HttpUrl.Builder().scheme("http").host("localhost").port(serverB.getPort())
        .encodedPath(RESPONSES).build();
    execute(client, new Request.Builder().url(atB).post(RequestBody.create(continuing("resp_1"), JSON)).build());
    execute(client, post(RESPONSES, continuing("resp_1")));

    assertThat(takeRequest(serverB).getHeader("Cookie")).isNull();
    // The chain is bound: host A still gets its pin.
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(interceptor.stats().pinsMissing()).isEqualTo(1);
  }

  @Test
  void hosts_secureCookieSetOverPlainHttp_ignoredNeverBound() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/; Secure"));
    server.enqueue(created("resp_2"));

    String log = LogCapture.during(() -> execute(client, post(RESPONSES, newTurn()))).text();
    execute(client, post(RESPONSES, continuing("resp_1")));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    // RFC 6265bis: a Secure cookie set over http is ignored, so it can never reach https later.
    assertThat(interceptor.stats().tokensBound()).isZero();
    assertThat(interceptor.store().get(ChainKey.response("resp_1"))).isEmpty();
    assertThat(log).contains("Secure, but set over plain http").doesNotContain("backend-a");
  }

  @Test
  void hosts_setCookieForAnotherDomain_rejectedNothingBound() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1")
        .addHeader("Set-Cookie", COOKIE + "=backend-a; Domain=example.com; Path=/"));
    server.enqueue(created("resp_2"));

    String log = LogCapture.during(() -> execute(client, post(RESPONSES, newTurn()))).text();
    execute(client, post(RESPONSES, continuing("resp_1")));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(interceptor.stats().tokensBound()).isZero();
    assertThat(log).contains("Set-Cookie").contains("rejected").doesNotContain("backend-a");
  }

  @Test
  void hosts_cookieForAnotherPath_pinWithheldOnThisPath() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/other"));
    server.enqueue(created("resp_2"));

    execute(client, post(RESPONSES, newTurn()));
    execute(client, post(RESPONSES, continuing("resp_1")));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(interceptor.stats().pinsMissing()).isEqualTo(1);
  }

  // --- 4. bad input ---

  static Stream<Arguments> badResponses() {
    String big = "v".repeat(5000);
    return Stream.of(
        Arguments.of("malformed Set-Cookie",
            created("resp_1").addHeader("Set-Cookie", "s3cr3t-without-equals; Path=/"),
            "s3cr3t-without-equals", "1 of 1 Set-Cookie headers from http://127.0.0.1/openai/v1/responses rejected"),
        Arguments.of("cookie over 4 KiB",
            created("resp_1").addHeader("Set-Cookie", COOKIE + "=" + big + "; Path=/"),
            big, "Affinity cookie " + COOKIE + " skipped: Cookie " + COOKIE + " is 5021 characters"),
        Arguments.of("non-JSON body",
            withSecretCookie(new MockResponse().setHeader("Content-Type", "text/html")
                .setBody("<html>resp_1 is not here</html>")),
            "s3cr3t-value", "Response body is not valid JSON"),
        Arguments.of("JSON body without id",
            withSecretCookie(new MockResponse().setHeader("Content-Type", "application/json")
                .setBody("{\"object\":\"response\",\"status\":\"completed\"}")),
            "s3cr3t-value", "Response body has no string id"),
        Arguments.of("stream ending before response.created",
            withSecretCookie(sse(": keep-alive\n\nevent: response.created\n"
                + "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"")),
            "s3cr3t-value", "ended before response.created; nothing bound"),
        Arguments.of("stream whose first event is another",
            withSecretCookie(sse("event: error\ndata: {\"type\":\"error\",\"message\":\"busy\"}\n\n"
                + "event: response.created\n"
                + "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\"}}\n\n")),
            "s3cr3t-value", "did not start with response.created; nothing bound"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badResponses")
  void badInput_responseDeliveredNothingBound_oneLineSaysWhatWasSkipped(
      String name, MockResponse response, String secret, String skipped) throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    String sent = response.getBody().clone().readUtf8();
    server.enqueue(response);
    server.enqueue(created("resp_2"));

    String[] received = new String[1];
    LogCapture logs = LogCapture.during(() -> received[0] = execute(client, post(RESPONSES, newTurn())));
    execute(client, post(RESPONSES, continuing("resp_1")));

    assertThat(received[0]).isEqualTo(sent);
    assertThat(interceptor.stats().tokensBound()).isZero();
    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(logs.text().lines().filter(line -> line.contains(skipped))).singleElement()
        .satisfiesAnyOf(line -> assertThat(line).startsWith("DEBUG "), line -> assertThat(line).startsWith("WARN "));
    assertThat(logs.text()).doesNotContain(secret);
    assertThat(logs.events()).extracting(CapturedLog::level).doesNotContain(Level.ERROR);
  }

  // --- 5. streams ---

  @Test
  void stream_deliveredInSmallChunks_byteForByteAndIdBound() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    byte[] sent = STREAM.getBytes(StandardCharsets.UTF_8);
    server.enqueue(new MockResponse()
        .setHeader("Content-Type", "text/event-stream; charset=utf-8")
        .addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/")
        .setChunkedBody(new Buffer().write(sent), 5)
        .throttleBody(3, 0, TimeUnit.MILLISECONDS));
    server.enqueue(created("resp_2"));

    byte[] received;
    try (Response response = client.newCall(post(RESPONSES, newTurn())).execute()) {
      received = response.body().bytes();
    }
    execute(client, post(RESPONSES, continuing("resp_s1")));

    assertThat(received).isEqualTo(sent);
    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
  }

  @Test
  void stream_readOneByteAtATimeBelowTheInterceptor_byteForByteAndIdBound() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(interceptor)
        .addNetworkInterceptor(AffinityInterceptorTest::oneByteReads));
    byte[] sent = STREAM.getBytes(StandardCharsets.UTF_8);
    server.enqueue(sse(STREAM).addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/"));
    server.enqueue(created("resp_2"));

    byte[] received;
    try (Response response = client.newCall(post(RESPONSES, newTurn())).execute()) {
      received = response.body().bytes();
    }
    execute(client, post(RESPONSES, continuing("resp_s1")));

    assertThat(received).isEqualTo(sent);
    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
  }

  @Test
  void stream_connectionDropsMidStream_callerReadsFirstEventsAndIdIsBoundBeforeTheRestArrives()
      throws Exception {
    // The server sends half the body and drops the connection: the rest never exists. An
    // interceptor that buffered the stream could not hand the caller anything, nor bind the id.
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    String first = "event: response.created\n"
        + "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_s1\"}}\n\n";
    StringBuilder rest = new StringBuilder();
    for (int i = 0; i < 100; i++) {
      rest.append("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
          + "\"delta\":\"chunk ").append(i).append("\"}\n\n");
    }
    server.enqueue(sse(first + rest)
        .addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/")
        .setSocketPolicy(SocketPolicy.DISCONNECT_DURING_RESPONSE_BODY));
    server.enqueue(created("resp_2"));

    try (Response response = client.newCall(post(RESPONSES, newTurn())).execute()) {
      BufferedSource source = response.body().source();
      assertThat(source.readUtf8LineStrict()).isEqualTo("event: response.created");
      assertThat(source.readUtf8LineStrict()).startsWith("data: ");
      assertThat(source.readUtf8LineStrict()).isEmpty();
      assertThat(interceptor.stats().tokensBound()).isEqualTo(1);
      assertThatThrownBy(source::readByteArray).isInstanceOf(IOException.class);
    }
    execute(client, post(RESPONSES, continuing("resp_s1")));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
  }

  // --- 6. bodies the interceptor must not read ---

  @Test
  void requestBody_overMaxBodyBytes_passesThroughUntouchedWithOneWarn() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().maxBodyBytes(64).build();
    OkHttpClient client = client(interceptor);
    bindResp1(client, "backend-a");
    server.enqueue(created("resp_2"));
    String body = continuing("resp_1", "x".repeat(200));

    LogCapture logs = LogCapture.during(() -> execute(client, post(RESPONSES, body)));

    RecordedRequest recorded = takeRequest(server);
    assertThat(recorded.getBody().readUtf8()).isEqualTo(body);
    assertThat(recorded.getHeader("Cookie")).isNull();
    assertThat(warnings(logs)).singleElement().asString().contains("64 byte limit");
  }

  @Test
  void requestBody_unknownLength_notReadPassesThroughUntouchedWithOneWarn() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    bindResp1(client, "backend-a");
    server.enqueue(created("resp_2"));
    String body = continuing("resp_1", "x".repeat(100_000));
    ChunkedBody streamed = new ChunkedBody(body.getBytes(StandardCharsets.UTF_8), false);

    LogCapture logs = LogCapture.during(() -> execute(client, post(RESPONSES, streamed)));

    RecordedRequest recorded = takeRequest(server);
    assertThat(recorded.getBody().readUtf8()).isEqualTo(body);
    assertThat(recorded.getHeader("Cookie")).isNull();
    assertThat(warnings(logs)).hasSize(1);
    // A body of unknown length may be a stream that a read would consume: only OkHttp writes it.
    assertThat(streamed.writes).containsExactly(body.length());
  }

  @Test
  void requestBody_oneShot_passesThroughUntouchedWithOneWarn() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    bindResp1(client, "backend-a");
    server.enqueue(created("resp_2"));
    String body = continuing("resp_1");
    ChunkedBody oneShot = new ChunkedBody(body.getBytes(StandardCharsets.UTF_8), true);

    LogCapture logs = LogCapture.during(() -> execute(client, post(RESPONSES, oneShot)));

    RecordedRequest recorded = takeRequest(server);
    assertThat(recorded.getBody().readUtf8()).isEqualTo(body);
    assertThat(recorded.getHeader("Cookie")).isNull();
    assertThat(oneShot.writes).hasSize(1);
    assertThat(warnings(logs)).singleElement().asString().contains("written only once");
  }

  @Test
  void requestBody_writeToClosesItsSink_stillReadAndPinned() throws Exception {
    OkHttpClient client = client(AffinityInterceptor.builder().build());
    bindResp1(client, "backend-a");
    server.enqueue(created("resp_2"));
    String body = continuing("resp_1");
    RequestBody closing = new RequestBody() {
      @Override
      public MediaType contentType() {
        return JSON;
      }

      @Override
      public long contentLength() {
        return body.length();
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        sink.writeUtf8(body);
        sink.close();
      }
    };

    LogCapture logs = LogCapture.during(() -> execute(client, post(RESPONSES, closing)));

    RecordedRequest recorded = takeRequest(server);
    assertThat(recorded.getBody().readUtf8()).isEqualTo(body);
    assertThat(recorded.getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(logs.events()).extracting(CapturedLog::level).doesNotContain(Level.ERROR, Level.WARN);
  }

  // --- 7. async ---

  @Test
  void enqueue_newThenContinued_pinAppliedAndIdBoundAsWithExecute() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/"));
    server.enqueue(created("resp_2"));
    server.enqueue(sse(STREAM));
    server.enqueue(created("resp_3"));

    assertThat(enqueue(client, post(RESPONSES, newTurn())).get(10, TimeUnit.SECONDS)).contains("resp_1");
    assertThat(enqueue(client, post(RESPONSES, continuing("resp_1"))).get(10, TimeUnit.SECONDS)).contains("resp_2");
    assertThat(enqueue(client, post(RESPONSES, continuing("resp_2"))).get(10, TimeUnit.SECONDS)).isEqualTo(STREAM);
    enqueue(client, post(RESPONSES, continuing("resp_s1"))).get(10, TimeUnit.SECONDS);

    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(interceptor.stats()).isEqualTo(new AffinityStats(4, 3, 0, 0, 4));
  }

  // --- 8. everything else passes through ---

  @Test
  void unaffectedRequests_modelsAndChatCompletions_passThroughUnchangedBodyNotRead() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    List<Request> seenBelow = new CopyOnWriteArrayList<>();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(interceptor)
        .addInterceptor(chain -> {
          seenBelow.add(chain.request());
          return chain.proceed(chain.request());
        }));
    bindResp1(client, "backend-a");
    AffinityStats bound = interceptor.stats();
    server.enqueue(new MockResponse().setBody("{\"object\":\"list\",\"data\":[]}"));
    server.enqueue(created("resp_9").addHeader("Set-Cookie", COOKIE + "=backend-b; Path=/"));
    Request models = new Request.Builder().url(url("/openai/v1/models"))
        .header("Authorization", "Bearer k").header("Cookie", "theme=dark").build();
    ChunkedBody chatBody = new ChunkedBody(continuing("resp_1").getBytes(StandardCharsets.UTF_8), false);
    Request chat = post("/openai/v1/chat/completions", chatBody);

    execute(client, models);
    execute(client, chat);

    assertThat(seenBelow.subList(1, 3)).satisfiesExactly(
        first -> assertThat(first).isSameAs(models),
        second -> assertThat(second).isSameAs(chat));
    assertThat(takeRequest(server).getHeaders().values("Cookie")).containsExactly("theme=dark");
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(chatBody.writes).hasSize(1);
    assertThat(interceptor.stats()).isEqualTo(bound);
  }

  // --- 9. conversations and threads ---

  @Test
  void conversation_stringAndObjectForm_requestsGetTheConversationsPin() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .addHeader("Set-Cookie", COOKIE + "=backend-c; Path=/")
        .setBody("{\"id\":\"conv_1\",\"object\":\"conversation\",\"created_at\":1}"));
    server.enqueue(created("resp_1"));
    server.enqueue(created("resp_2"));
    server.enqueue(created("resp_3"));

    execute(client, post("/openai/v1/conversations", "{}"));
    execute(client, post(RESPONSES, "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"conversation\":\"conv_1\"}"));
    execute(client, post(RESPONSES,
        "{\"model\":\"gpt-4.1\",\"conversation\":{\"id\":\"conv_1\"},\"input\":\"again\"}"));
    execute(client, post(RESPONSES, "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"conversation\":\"conv_2\"}"));

    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-c");
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-c");
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
  }

  @Test
  void thread_runsPath_getsTheThreadsPin() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .addHeader("Set-Cookie", COOKIE + "=backend-t; Path=/")
        .setBody("{\"id\":\"thread_1\",\"object\":\"thread\",\"created_at\":1}"));
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("{\"id\":\"run_1\",\"object\":\"thread.run\",\"thread_id\":\"thread_1\"}"));
    server.enqueue(new MockResponse().setBody("{}"));
    server.enqueue(new MockResponse().setBody("{}"));

    execute(client, post("/openai/threads?api-version=2024-05-01-preview", "{}"));
    execute(client, post("/openai/threads/thread_1/runs?api-version=2024-05-01-preview",
        "{\"assistant_id\":\"asst_1\"}"));
    execute(client, new Request.Builder()
        .url(url("/openai/threads/thread_1/runs/run_1?api-version=2024-05-01-preview")).build());
    execute(client, post("/openai/threads/thread_2/runs", "{\"assistant_id\":\"asst_1\"}"));

    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-t");
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-t");
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
  }

  @Test
  void errorResponse_setsAnotherCookie_conversationKeepsItsPin() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = client(interceptor);
    String inConversation = "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"conversation\":\"conv_1\"}";
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .addHeader("Set-Cookie", COOKIE + "=backend-c; Path=/")
        .setBody("{\"id\":\"conv_1\",\"object\":\"conversation\"}"));
    // A 429 is not a chain break: nothing is repaired, and its cookie must not move the pin.
    server.enqueue(new MockResponse().setResponseCode(429)
        .setHeader("Content-Type", "application/json")
        .addHeader("Set-Cookie", COOKIE + "=backend-x; Path=/")
        .setBody("{\"error\":{\"code\":\"429\",\"message\":\"Too many requests\"}}"));
    server.enqueue(created("resp_1"));

    execute(client, post("/openai/v1/conversations", "{}"));
    execute(client, post(RESPONSES, inConversation));
    execute(client, post(RESPONSES, inConversation));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-c");
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-c");
    assertThat(interceptor.stats().backendChanges()).isZero();
  }

  // --- 10. listener ---

  @Test
  void listener_boundAppliedAndBackendChanged_firedWithTheChainKeys() throws Exception {
    RecordingListener events = new RecordingListener();
    OkHttpClient client = client(AffinityInterceptor.builder().listener(events).build());
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/"));
    server.enqueue(created("resp_2").addHeader("Set-Cookie", COOKIE + "=backend-b; Path=/"));
    server.enqueue(created("resp_3"));

    execute(client, post(RESPONSES, newTurn()));
    execute(client, post(RESPONSES, continuing("resp_1")));
    execute(client, post(RESPONSES, continuing("resp_2")));

    assertThat(events.lines).containsExactly(
        "bound response:resp_1 backend-a fresh",
        "applied response:resp_1 backend-a",
        "changed response:resp_2 backend-a -> backend-b",
        "bound response:resp_2 backend-b fresh",
        "applied response:resp_2 backend-b",
        "bound response:resp_3 backend-b inherited");
  }

  @Test
  void listener_throws_requestsSucceedPinStillSentAndWarnLogged() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().listener(new AffinityListener() {
      @Override
      public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
        throw new IllegalStateException("listener bug");
      }

      @Override
      public void tokenApplied(ChainKey key, AffinityToken token) {
        throw new IllegalStateException("listener bug");
      }

      @Override
      public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
        throw new IllegalStateException("listener bug");
      }
    }).build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/"));
    server.enqueue(created("resp_2").addHeader("Set-Cookie", COOKIE + "=backend-b; Path=/"));

    LogCapture logs = LogCapture.during(() -> {
      assertThat(execute(client, post(RESPONSES, newTurn()))).contains("resp_1");
      assertThat(execute(client, post(RESPONSES, continuing("resp_1")))).contains("resp_2");
    });

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(interceptor.stats()).isEqualTo(new AffinityStats(2, 1, 0, 1, 2));
    assertThat(warnings(logs)).hasSize(4).allSatisfy(line -> assertThat(line).contains("threw in"));
    assertThat(logs.text()).contains("threw in tokenBound").contains("threw in tokenApplied")
        .contains("threw in backendChanged");
  }

  // --- 11. shared store ---

  @Test
  void sharedStore_boundThroughOneClient_continuedThroughAnother_pinSent() throws Exception {
    AffinityStore store = CaffeineAffinityStore.builder().executor(Runnable::run).build();
    OkHttpClient first = client(AffinityInterceptor.builder().store(store).build());
    OkHttpClient second = client(AffinityInterceptor.builder().store(store).build());
    OkHttpClient unshared = client(AffinityInterceptor.builder().build());
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/"));
    server.enqueue(created("resp_2"));
    server.enqueue(created("resp_3"));

    execute(first, post(RESPONSES, newTurn()));
    execute(second, post(RESPONSES, continuing("resp_1")));
    execute(unshared, post(RESPONSES, continuing("resp_2")));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
  }

  // --- 12. MDC ---

  @Test
  void mdc_whileContinuingRequestRuns_holdsTheChainKeyAndIsRestoredAfterwards() throws Exception {
    // slf4j-simple, the test binding, ignores MDC (NOPMDCAdapter); logback and log4j2 keep it.
    // Install slf4j's own map-backed adapter for this test, as those bindings would.
    MDCAdapter original = MDC.getMDCAdapter();
    Method setAdapter = MDC.class.getDeclaredMethod("setMDCAdapter", MDCAdapter.class);
    setAdapter.setAccessible(true);
    setAdapter.invoke(null, new BasicMDCAdapter());
    try {
      mdcDuringRequests();
    } finally {
      MDC.remove(AffinityInterceptor.MDC_CHAIN);
      setAdapter.invoke(null, original);
    }
  }

  private void mdcDuringRequests() throws Exception {
    List<String> below = new CopyOnWriteArrayList<>();
    List<String> network = new CopyOnWriteArrayList<>();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().build())
        .addInterceptor(chain -> {
          below.add(String.valueOf(MDC.get(AffinityInterceptor.MDC_CHAIN)));
          return chain.proceed(chain.request());
        })
        .addNetworkInterceptor(chain -> {
          network.add(String.valueOf(MDC.get(AffinityInterceptor.MDC_CHAIN)));
          return chain.proceed(chain.request());
        }));
    server.enqueue(created("resp_1"));
    server.enqueue(created("resp_2"));
    server.enqueue(created("resp_3"));

    execute(client, post(RESPONSES, newTurn()));
    String afterNew = MDC.get(AffinityInterceptor.MDC_CHAIN);
    execute(client, post(RESPONSES, continuing("resp_1")));
    String afterContinued = MDC.get(AffinityInterceptor.MDC_CHAIN);
    MDC.put(AffinityInterceptor.MDC_CHAIN, "outer");
    execute(client, post(RESPONSES, continuing("resp_2")));

    assertThat(below).containsExactly("null", "response:resp_1", "response:resp_2");
    assertThat(network).containsExactly("null", "response:resp_1", "response:resp_2");
    assertThat(afterNew).isNull();
    assertThat(afterContinued).isNull();
    assertThat(MDC.get(AffinityInterceptor.MDC_CHAIN)).isEqualTo("outer");
  }

  // --- 13. secrets ---

  @Test
  void secrets_fullBindApplyChangeCycle_cookieValueNeverInLogsToStringOrExceptions() throws Exception {
    String first = "s3cr3t-first-value";
    String second = "s3cr3t-second-value";
    List<String> listenerSaw = new CopyOnWriteArrayList<>();
    AffinityInterceptor interceptor = AffinityInterceptor.builder().listener(new AffinityListener() {
      @Override
      public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
        listenerSaw.add(token.toString());
        throw new IllegalStateException("listener saw " + token);
      }
    }).build();
    OkHttpClient client = client(interceptor);
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=" + first + "; Path=/"));
    server.enqueue(created("resp_2").addHeader("Set-Cookie", COOKIE + "=" + second + "; Path=/"));
    server.enqueue(sse(STREAM).addHeader("Set-Cookie", COOKIE + "=" + first + "; Path=/; Secure"));
    server.enqueue(created("resp_4"));

    String log = LogCapture.during(() -> {
      execute(client, post(RESPONSES, newTurn()));
      execute(client, post(RESPONSES, continuing("resp_1")).newBuilder()
          .header("Cookie", "theme=dark").build());
      execute(client, post(RESPONSES, continuing("resp_2")));
      execute(client, post(RESPONSES, continuing("resp_s1")));
    }).text();

    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(takeRequest(server).getHeader("Cookie")).contains(first);
    assertThat(takeRequest(server).getHeader("Cookie")).contains(second);
    assertThat(log).contains("Pin ").contains(" applied for response:resp_1")
        .contains("Backend changed for response:resp_2")
        .doesNotContain(first).doesNotContain(second).doesNotContain(COOKIE + "=");
    assertThat(listenerSaw).isNotEmpty().allSatisfy(text ->
        assertThat(text).doesNotContain(first).doesNotContain(second));
    assertThat(interceptor + " " + interceptor.stats() + " " + interceptor.store())
        .doesNotContain(first).doesNotContain(second);
    assertThat(interceptor.store().get(ChainKey.response("resp_2").in(interceptor.scopeOf(post(RESPONSES, "{}"))))
        .orElseThrow().toString())
        .doesNotContain(second);
  }

  // --- a realistic pool ---

  @Test
  void simulatorPool_plainOkHttpClient_newConversationsSpreadAndEveryTurnStaysOnItsBackend()
      throws Exception {
    simulator = ApimSimulator.builder().backends(3).start();
    OkHttpClient client = client(AffinityInterceptor.builder().build());
    HttpUrl responses = HttpUrl.get(simulator.openAiBaseUrl() + "/responses");
    Map<String, Integer> firstTurns = new HashMap<>();

    for (int c = 0; c < 6; c++) {
      String previous = null;
      String backend = null;
      for (int turn = 1; turn <= 3; turn++) {
        Map<String, Object> body = new HashMap<>();
        body.put("model", "gpt-4.1");
        body.put("input", "conversation " + c + ", turn " + turn);
        if (previous != null) {
          body.put("previous_response_id", previous);
        }
        Request request = new Request.Builder().url(responses)
            .post(RequestBody.create(MAPPER.writeValueAsString(body), JSON)).build();
        JsonNode json = MAPPER.readTree(turn % 2 == 0
            ? enqueue(client, request).get(10, TimeUnit.SECONDS)
            : execute(client, request));
        SimulatedAnswer answer = SimulatedAnswer.parse(
            json.at("/output/0/content/0/text").asText());
        assertThat(answer.userMessages()).as("conversation %d turn %d", c, turn).isEqualTo(turn);
        backend = backend == null ? answer.backend() : backend;
        assertThat(answer.backend()).isEqualTo(backend);
        previous = json.get("id").asText();
      }
      firstTurns.merge(backend, 1, Integer::sum);
    }

    assertThat(firstTurns).containsOnlyKeys("backend-1", "backend-2", "backend-3");
    assertThat(firstTurns.values()).containsOnly(2);
    List<LoggedRequest> log = simulator.requestLog();
    for (int i = 0; i < log.size(); i += 3) {
      assertThat(log.get(i).hasAffinityCookie()).isFalse();
      assertThat(log.get(i + 1).affinityCookie()).isEqualTo(log.get(i).issuedCookie());
      assertThat(log.get(i + 2).affinityCookie()).isEqualTo(log.get(i).issuedCookie());
    }
  }

  // --- helpers ---

  private void bindResp1(OkHttpClient client, String cookieValue) throws Exception {
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=" + cookieValue + "; Path=/"));
    execute(client, post(RESPONSES, newTurn()));
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
  }

  private MockWebServer otherServer() throws IOException {
    MockWebServer other = new MockWebServer();
    otherServers.add(other);
    other.start(InetAddress.getByName("localhost"), 0);
    return other;
  }

  private OkHttpClient client(AffinityInterceptor interceptor) {
    return client(new OkHttpClient.Builder().addInterceptor(interceptor));
  }

  private OkHttpClient client(OkHttpClient.Builder builder) {
    OkHttpClient client = builder.build();
    clients.add(client);
    return client;
  }

  private HttpUrl url(String pathAndQuery) {
    return HttpUrl.get("http://127.0.0.1:" + server.getPort() + pathAndQuery);
  }

  private Request post(String pathAndQuery, String json) {
    return post(pathAndQuery, RequestBody.create(json, JSON));
  }

  private Request post(String pathAndQuery, RequestBody body) {
    return new Request.Builder().url(url(pathAndQuery)).post(body).build();
  }

  private static String newTurn() {
    return "{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}";
  }

  private static String continuing(String previousId) {
    return continuing(previousId, "Go on");
  }

  private static String continuing(String previousId, String input) {
    return "{\"model\":\"gpt-4.1\",\"input\":\"" + input + "\",\"previous_response_id\":\"" + previousId + "\"}";
  }

  private static MockResponse created(String id) {
    return new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}");
  }

  private static MockResponse sse(String stream) {
    return new MockResponse().setHeader("Content-Type", "text/event-stream").setBody(stream);
  }

  private static MockResponse withSecretCookie(MockResponse response) {
    return response.addHeader("Set-Cookie", COOKIE + "=s3cr3t-value; Path=/");
  }

  private static String execute(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      return response.body().string();
    }
  }

  private static CompletableFuture<String> enqueue(OkHttpClient client, Request request) {
    CompletableFuture<String> result = new CompletableFuture<>();
    client.newCall(request).enqueue(new Callback() {
      @Override
      public void onFailure(Call call, IOException e) {
        result.completeExceptionally(e);
      }

      @Override
      public void onResponse(Call call, Response response) {
        try (response) {
          result.complete(response.body().string());
        } catch (IOException | RuntimeException e) {
          result.completeExceptionally(e);
        }
      }
    });
    return result;
  }

  private static RecordedRequest takeRequest(MockWebServer from) throws InterruptedException {
    RecordedRequest request = from.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).as("a request reached %s", from).isNotNull();
    return request;
  }

  /** Hands the layer above reads of one byte, as a slow network would. */
  private static Response oneByteReads(Interceptor.Chain chain) throws IOException {
    Response response = chain.proceed(chain.request());
    ResponseBody body = response.body();
    Source limited = new ForwardingSource(body.source()) {
      @Override
      public long read(Buffer sink, long byteCount) throws IOException {
        return super.read(sink, Math.min(byteCount, 1));
      }
    };
    return response.newBuilder()
        .body(ResponseBody.create(Okio.buffer(limited), body.contentType(), body.contentLength()))
        .build();
  }

  /** The messages of the WARN events, in the order logged. */
  private static List<String> warnings(LogCapture logs) {
    return logs.events().stream().filter(event -> event.level() == Level.WARN)
        .map(CapturedLog::message).toList();
  }

  /** A request body of unknown length written in 1 KiB pieces, recording what each write sent. */
  private static final class ChunkedBody extends RequestBody {
    final List<Integer> writes = new CopyOnWriteArrayList<>();
    private final byte[] bytes;
    private final boolean oneShot;

    ChunkedBody(byte[] bytes, boolean oneShot) {
      this.bytes = bytes;
      this.oneShot = oneShot;
    }

    @Override
    public MediaType contentType() {
      return JSON;
    }

    @Override
    public boolean isOneShot() {
      return oneShot;
    }

    @Override
    public void writeTo(BufferedSink sink) throws IOException {
      AtomicInteger written = new AtomicInteger();
      try {
        for (int at = 0; at < bytes.length; at += 1024) {
          int n = Math.min(1024, bytes.length - at);
          sink.write(bytes, at, n);
          written.addAndGet(n);
        }
      } finally {
        writes.add(written.get());
      }
    }
  }

  /** Records events as lines; tokens by value, which tests may read but the library never logs. */
  private static final class RecordingListener extends AffinityListener {
    final List<String> lines = new CopyOnWriteArrayList<>();

    @Override
    public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
      lines.add("bound " + key + " " + token.value() + (inherited ? " inherited" : " fresh"));
    }

    @Override
    public void tokenApplied(ChainKey key, AffinityToken token) {
      lines.add("applied " + key + " " + token.value());
    }

    @Override
    public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
      lines.add("changed " + key + " " + previous.value() + " -> " + current.value());
    }
  }
}
