package io.github.affinity4j.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ProtocolException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import okio.Buffer;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.ByteString;
import okio.GzipSink;
import okio.GzipSource;
import okio.HashingSink;
import okio.Okio;
import okio.Source;
import okio.Timeout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.event.Level;

/**
 * Bodies are never altered (issue 14, rows 7 and 8): a request body reaches the server whole, read
 * or not, through {@link AffinityInterceptor} and {@link RoutingLogInterceptor}; a response body
 * the caller asked to get compressed is decoded for reading, and reaches the caller as sent. A real
 * {@link OkHttpClient} against a loopback {@link MockWebServer}.
 */
@org.junit.jupiter.api.Timeout(120)
final class BoundedBodiesTest {
  private static final String COOKIE = "APIM-Backend-Affinity";
  private static final String RESPONSES = "/openai/v1/responses";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final long NINE_MIB = 9L << 20;
  private static final String NOT_FOUND = "{\"error\":{\"message\":\"Previous response with id 'resp_1' "
      + "not found.\",\"type\":\"invalid_request_error\",\"param\":\"previous_response_id\","
      + "\"code\":\"previous_response_not_found\"}}";

  private final MockWebServer server = new MockWebServer();
  private final List<OkHttpClient> clients = new ArrayList<>();

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
  }

  // --- row 7: request bodies reach the server whole ---

  @Test
  void streamedBody9MiB_affinityInterceptor_arrivesWholeUnpinnedWithOneWarn() throws Exception {
    OkHttpClient client = affinityClient(AffinityInterceptor.builder().build());
    bindResp1(client);
    server.enqueue(created("resp_2"));
    StreamedBody streamed = new StreamedBody(NINE_MIB, -1);

    LogCapture logs = LogCapture.during(() -> execute(client, post(streamed)));

    RecordedRequest received = takeRequest();
    assertThat(received.getBodySize()).isEqualTo(NINE_MIB);
    assertThat(received.getBody().sha256()).isEqualTo(StreamedBody.sha256(NINE_MIB));
    assertThat(received.getHeader("Cookie")).as("a body not read names no chain").isNull();
    assertThat(streamed.writeTos).hasValue(1);
    assertThat(warnings(logs)).hasSize(1);
  }

  @Test
  void streamedBody9MiB_routingLogInterceptor_arrivesWholeAndLoggedWithoutChain() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    server.enqueue(created("resp_2").addHeader("x-ms-region", "West US"));
    StreamedBody streamed = new StreamedBody(NINE_MIB, -1);

    execute(client, post(streamed));

    RecordedRequest received = takeRequest();
    assertThat(received.getBodySize()).isEqualTo(NINE_MIB);
    assertThat(received.getBody().sha256()).isEqualTo(StreamedBody.sha256(NINE_MIB));
    assertThat(streamed.writeTos).hasValue(1);
    assertThat(lines).hasSize(1);
  }

  @Test
  void bodyWritingMoreThanItDeclares_withinTheLimit_arrivesWholeAsWrittenAndPinned() throws Exception {
    // Guards the rule rather than a fix: the copy is bounded by the limit, not by the declared
    // length, so a body that says 100 bytes and writes 300 KiB is sent as written, not cut at 100.
    OkHttpClient client = affinityClient(AffinityInterceptor.builder().build());
    bindResp1(client);
    server.enqueue(created("resp_2"));
    long size = 300 * 1024;
    StreamedBody lying = new StreamedBody(size, 100);

    execute(client, post(lying));

    RecordedRequest received = takeRequest();
    assertThat(received.getBodySize()).isEqualTo(size);
    assertThat(received.getHeader("Content-Length")).isEqualTo(Long.toString(size));
    assertThat(received.getBody().sha256()).isEqualTo(StreamedBody.sha256(size));
    assertThat(received.getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(lying.writeTos).hasValue(1);
  }

  @Test
  void bodyWritingMoreThanItDeclares_pastTheLimit_callFailsBeforeAnyByteIsSentAndStreamIsNotWrittenAgain()
      throws Exception {
    for (Interceptor interceptor : List.of(AffinityInterceptor.builder().maxBodyBytes(64 * 1024).build(),
        RoutingLogInterceptor.builder().maxBodyBytes(64 * 1024).logger(line -> { }).build())) {
      OkHttpClient client = client(new OkHttpClient.Builder().addInterceptor(interceptor));
      StreamedBody lying = new StreamedBody(200 * 1024, 100);

      Throwable failure = catchThrowable(() -> execute(client, post(lying)));

      assertThat(failure).as("through %s", interceptor).isInstanceOf(ProtocolException.class);
      // A second writeTo would go on from where the interceptor's read stopped: a cut body.
      assertThat(lying.writeTos).as("through %s", interceptor).hasValue(1);
    }
    assertThat(server.getRequestCount()).isZero();
  }

  // --- row 8: compressed answers are decoded for reading, and reach the caller as sent ---

  @Test
  void callerSetGzip_jsonAnswer_boundSoTheNextTurnCarriesThePinAndCallerReadsTheCompressedBytes()
      throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = affinityClient(interceptor);
    Buffer compressed = gzip(createdJson("resp_1"));
    ByteString sent = compressed.snapshot();
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .setHeader("Content-Encoding", "gzip").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/")
        .setBody(compressed));
    server.enqueue(created("resp_2"));

    try (Response response = client.newCall(post(newTurn()).newBuilder()
        .header("Accept-Encoding", "gzip").build()).execute()) {
      assertThat(response.header("Content-Encoding")).isEqualTo("gzip");
      assertThat(response.body().source().readByteString()).isEqualTo(sent);
    }
    execute(client, post(continuing("resp_1")));

    assertThat(takeRequest().getHeader("Cookie")).isNull();
    assertThat(takeRequest().getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(interceptor.stats().tokensBound()).isEqualTo(2);
  }

  @Test
  void callerSetGzip_notFoundError_classifiedAndReplayedFromTheJournaledGzipTurn() throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().repairPolicy(RepairPolicy.REPLAY).build()));
    server.enqueue(gzipAnswer(200, "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\","
        + "\"output\":[{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
        + "\"text\":\"Hi there\"}]}]}").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/"));
    server.enqueue(gzipAnswer(400, NOT_FOUND));
    server.enqueue(gzipAnswer(200, createdJson("resp_2")));

    gzipCall(client, newTurn());
    String second = gzipCall(client, continuing("resp_1"));

    assertThat(MAPPER.readTree(second).get("id").asText()).isEqualTo("resp_2");
    takeRequest();
    assertThat(takeRequest().getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    JsonNode replay = MAPPER.readTree(takeRequest().getBody().readUtf8());
    assertThat(replay.has("previous_response_id")).isFalse();
    assertThat(replay.get("input").toString()).contains("Hello", "Hi there", "Go on");
  }

  @Test
  void callerSetGzip_notFoundErrorUnderFailPolicy_callerGetsGzipErrorNamingTheChain() throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().repairPolicy(RepairPolicy.FAIL).build()));
    server.enqueue(gzipAnswer(400, NOT_FOUND));

    try (Response response = client.newCall(post(continuing("resp_1")).newBuilder()
        .header("Accept-Encoding", "gzip").build()).execute()) {
      byte[] body = response.body().bytes();

      assertThat(response.code()).isEqualTo(400);
      assertThat(response.header(ChainNote.HEADER)).isEqualTo("REPAIR_FAILED response:resp_1");
      assertThat(response.header("Content-Encoding")).isEqualTo("gzip");
      assertThat(response.header("Content-Length")).isEqualTo(Integer.toString(body.length));
      JsonNode error = MAPPER.readTree(gunzip(body)).get("error");
      assertThat(error.get("code").asText()).isEqualTo("previous_response_not_found");
      assertThat(error.get("message").asText()).startsWith("Previous response with id")
          .contains("response:resp_1");
    }
  }

  @Test
  void callerSetEncoding_undecodableAnswers_oneWarnEachNothingBoundBodiesAsSent() throws Exception {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OkHttpClient client = affinityClient(interceptor);
    ByteString brotli = ByteString.decodeHex("1b2f0000249d010203");
    ByteString stream = gzip("event: response.created\ndata: {\"type\":\"response.created\","
        + "\"response\":{\"id\":\"resp_s\"}}\n\n").snapshot();
    ByteString notGzip = ByteString.encodeUtf8(createdJson("resp_x"));
    server.enqueue(answer("application/json", "br", brotli));
    server.enqueue(answer("text/event-stream", "gzip", stream));
    server.enqueue(answer("application/json", "gzip", notGzip));

    List<ByteString> read = new ArrayList<>();
    LogCapture logs = LogCapture.during(() -> {
      for (String encoding : List.of("br", "gzip", "gzip")) {
        try (Response response = client.newCall(post(newTurn()).newBuilder()
            .header("Accept-Encoding", encoding).build()).execute()) {
          read.add(response.body().source().readByteString());
        }
      }
    });

    assertThat(read).containsExactly(brotli, stream, notGzip);
    assertThat(warnings(logs)).hasSize(3);
    assertThat(logs.events()).extracting(CapturedLog::level).doesNotContain(Level.ERROR);
    assertThat(interceptor.stats().tokensBound()).isZero();
    assertThat(interceptor.stats().chainsTracked()).isZero();
  }

  @Test
  void routingLogAsNetworkInterceptor_gzipAnswer_lineNamesTheCreatedChain() throws Exception {
    List<String> lines = new CopyOnWriteArrayList<>();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addNetworkInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    server.enqueue(gzipAnswer(200, createdJson("resp_1")).addHeader("x-ms-region", "West US"));

    String body = execute(client, post(newTurn()));

    assertThat(MAPPER.readTree(body).get("id").asText()).as("OkHttp decoded it for the caller")
        .isEqualTo("resp_1");
    assertThat(takeRequest().getHeader("Accept-Encoding")).isEqualTo("gzip");
    assertThat(lines).singleElement().asString().contains(" created=response:resp_1");
  }

  // --- helpers ---

  private void bindResp1(OkHttpClient client) throws Exception {
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/"));
    execute(client, post(newTurn()));
    assertThat(takeRequest().getHeader("Cookie")).isNull();
  }

  private OkHttpClient affinityClient(AffinityInterceptor interceptor) {
    return client(new OkHttpClient.Builder().addInterceptor(interceptor));
  }

  private OkHttpClient client(OkHttpClient.Builder builder) {
    OkHttpClient client = builder.build();
    clients.add(client);
    return client;
  }

  private Request post(String json) {
    return post(RequestBody.create(json, JSON));
  }

  private Request post(RequestBody body) {
    return new Request.Builder().url(server.url(RESPONSES)).post(body).build();
  }

  /** Sends with the caller's own Accept-Encoding: gzip, and decodes the answer as such a caller does. */
  private String gzipCall(OkHttpClient client, String json) throws IOException {
    try (Response response = client.newCall(post(json).newBuilder().header("Accept-Encoding", "gzip").build())
        .execute()) {
      return gunzip(response.body().bytes());
    }
  }

  private RecordedRequest takeRequest() throws InterruptedException {
    RecordedRequest request = server.takeRequest(30, TimeUnit.SECONDS);
    assertThat(request).as("a request reached the server").isNotNull();
    return request;
  }

  private static String execute(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      return response.body().string();
    }
  }

  private static String newTurn() {
    return "{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}";
  }

  private static String continuing(String previousId) {
    return "{\"model\":\"gpt-4.1\",\"input\":\"Go on\",\"previous_response_id\":\"" + previousId + "\"}";
  }

  private static String createdJson(String id) {
    return "{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}";
  }

  private static MockResponse created(String id) {
    return new MockResponse().setHeader("Content-Type", "application/json").setBody(createdJson(id));
  }

  private static MockResponse gzipAnswer(int code, String json) throws IOException {
    return new MockResponse().setResponseCode(code).setHeader("Content-Type", "application/json")
        .setHeader("Content-Encoding", "gzip").setBody(gzip(json));
  }

  private static MockResponse answer(String type, String encoding, ByteString body) {
    return new MockResponse().setHeader("Content-Type", type).setHeader("Content-Encoding", encoding)
        .addHeader("Set-Cookie", COOKIE + "=backend-" + encoding + "; Path=/")
        .setBody(new Buffer().write(body));
  }

  private static Buffer gzip(String text) throws IOException {
    Buffer compressed = new Buffer();
    try (BufferedSink sink = Okio.buffer(new GzipSink(compressed))) {
      sink.writeUtf8(text);
    }
    return compressed;
  }

  private static String gunzip(byte[] compressed) throws IOException {
    try (BufferedSource source = Okio.buffer(new GzipSource(new Buffer().write(compressed)))) {
      return source.readUtf8();
    }
  }

  private static List<String> warnings(LogCapture logs) {
    return logs.events().stream().filter(event -> event.level() == Level.WARN)
        .map(CapturedLog::message).toList();
  }

  /**
   * A JSON request body continuing {@code resp_1}, {@code size} bytes long, streamed from a source
   * it consumes as an {@code InputStream}-backed body does: a second {@code writeTo} goes on where
   * the first stopped. Declares {@code declared} as its length ({@code -1}: unknown) and does not
   * say it is one-shot, as many such bodies do not.
   */
  private static final class StreamedBody extends RequestBody {
    final AtomicInteger writeTos = new AtomicInteger();
    private final long declared;
    private final Source stream;

    StreamedBody(long size, long declared) {
      this.declared = declared;
      this.stream = new Generated(size);
    }

    /** The SHA-256 of what a body of {@code size} bytes writes in all. */
    static ByteString sha256(long size) throws IOException {
      HashingSink hashing = HashingSink.sha256(Okio.blackhole());
      try (BufferedSink sink = Okio.buffer(hashing)) {
        sink.writeAll(new Generated(size));
      }
      return hashing.hash();
    }

    @Override
    public MediaType contentType() {
      return JSON;
    }

    @Override
    public long contentLength() {
      return declared;
    }

    @Override
    public void writeTo(BufferedSink sink) throws IOException {
      writeTos.incrementAndGet();
      sink.writeAll(stream);
    }
  }

  /**
   * {@code {"model":…,"previous_response_id":"resp_1","input":"…"}}, exactly {@code size} bytes,
   * the letters of the input varying.
   */
  private static final class Generated implements Source {
    private static final byte[] HEAD =
        "{\"model\":\"gpt-4.1\",\"previous_response_id\":\"resp_1\",\"input\":\"".getBytes(UTF_8);
    private static final byte[] TAIL = "\"}".getBytes(UTF_8);
    private final long size;
    private long at;

    Generated(long size) {
      this.size = size;
    }

    @Override
    public long read(Buffer sink, long byteCount) {
      if (at == size) {
        return -1;
      }
      int n = (int) Math.min(Math.min(byteCount, 8192), size - at);
      for (int i = 0; i < n; i++, at++) {
        sink.writeByte(byteAt(at));
      }
      return n;
    }

    private byte byteAt(long i) {
      if (i < HEAD.length) {
        return HEAD[(int) i];
      }
      if (i >= size - TAIL.length) {
        return TAIL[(int) (i - (size - TAIL.length))];
      }
      return (byte) ('a' + (int) ((i * 0x9E3779B97F4A7C15L) >>> 59) % 26);
    }

    @Override
    public Timeout timeout() {
      return Timeout.NONE;
    }

    @Override
    public void close() {}
  }
}
