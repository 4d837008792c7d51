package io.github.affinity4j.okhttp;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.testsupport.BadInput;
import io.github.affinity4j.testsupport.FuzzSuite;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.Cookie;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.event.Level;

/**
 * Hostile gateways for {@link AffinityInterceptor} and {@link RoutingLogInterceptor} together on a
 * real {@link OkHttpClient}: seeded mutations of {@code Set-Cookie} headers, routing headers, JSON
 * request and response bodies and SSE streams, error statuses and connection failures, over http
 * and https and several hosts, sync and async. Properties, per exchange:
 *
 * <ul>
 *   <li>only an {@link IOException} reaches the caller, and nothing is logged at ERROR (our own
 *       failure);
 *   <li>the caller reads the body exactly as the gateway sent it (unless a repair amended it);
 *   <li>a pin is sent only if a response set that very cookie for a URL it applies to (OkHttp's
 *       {@link Cookie#matches}), so malformed, foreign-domain and {@code Secure}-over-http cookies
 *       never become pins;
 *   <li>only a successful response binds, only an id it names, and only to the cookie it set or the
 *       pin of the chain it continued;
 *   <li>the routing log writes one line per exchange, whose every continuation line is a header.
 * </ul>
 */
@Tag("fuzz")
@Timeout(900)
final class AffinityInterceptorFuzzTest {
  static final String COOKIE = "APIM-Backend-Affinity";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final List<String> ORIGINS = List.of("https://apim.example.com", "https://apim.example.com",
      "http://apim.example.com", "https://eu.apim.example.com", "https://other.example.net",
      "https://127.0.0.1");
  private static final List<String> SET_COOKIES = List.of(
      COOKIE + "=%s; Path=/; Secure; HttpOnly",
      COOKIE + "=%s; Path=/",
      COOKIE + "=%s",
      COOKIE + "=%s; Domain=example.com; Path=/openai",
      COOKIE + "=%s; Domain=evil.example; Path=/",
      COOKIE + "=%s; Domain=com",
      COOKIE + "=%s; Domain=.apim.example.com; Max-Age=3600",
      COOKIE + "=%s; Max-Age=0",
      COOKIE + "=%s; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
      COOKIE + "=%s; Path=/other",
      "SessionId=%s; Path=/",
      "theme=%s; Path=/");
  private static final List<String> REQUESTS = List.of(
      "{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}",
      "{\"model\":\"gpt-4.1\",\"input\":\"Go on\",\"previous_response_id\":\"%s\"}",
      "{\"model\":\"gpt-4.1\",\"input\":[{\"type\":\"message\",\"role\":\"user\",\"content\":\"Hi\"}],"
          + "\"previous_response_id\":\"%s\",\"stream\":true}",
      "{\"conversation\":{\"id\":\"conv_1\"},\"input\":\"x\"}",
      "{\"input\":[{\"id\":\"msg_1\",\"type\":\"item_reference\"}],\"previous_response_id\":\"%s\"}");
  private static final List<String> JSON_RESPONSES = List.of(
      "{\"id\":\"%s\",\"object\":\"response\",\"status\":\"completed\",\"output\":[{\"id\":\"msg_9\","
          + "\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\"}]}]}",
      "{\"output\":[],\"id\":\"%s\"}",
      "{\"id\":\"%s\",\"object\":\"conversation\"}",
      "{\"error\":{\"message\":\"Previous response with id '%s' not found.\",\"type\":\"invalid_request_error\","
          + "\"param\":\"previous_response_id\",\"code\":\"previous_response_not_found\"}}",
      "{\"statusCode\":503,\"message\":\"Service unavailable\"}");
  private static final List<String> STREAMS = List.of(
      "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"%s\"}}\n\n"
          + "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n"
          + "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"%s\","
          + "\"status\":\"completed\",\"output\":[]}}\n\n",
      "data: {\"type\":\"response.created\",\"response\":{\"id\":\"%s\"}}\r\n\r\n",
      ": keep-alive\n\nevent: error\ndata: {\"type\":\"error\"}\n\n");
  private static final List<String> ROUTING = List.of("x-ms-region", "x-backend-region", "x-request-id",
      "apim-request-id", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens", "retry-after",
      "retry-after-ms", "x-ms-retry-after-ms", "Content-Encoding");

  private final List<OkHttpClient> clients = new ArrayList<>();

  @AfterEach
  void close() {
    for (OkHttpClient client : clients) {
      client.dispatcher().executorService().shutdown();
    }
  }

  @Test
  void hostileGateway_interceptors_onlyIoExceptionsNoForeignPinsNoBindingsFromMalformedData() {
    Harness harness = new Harness();
    FuzzSuite.run("hostile gateway", 1_000, 100_000, Duration.ofSeconds(60), (random, index) ->
        harness.exchange(random, index));
    if (System.getProperty(FuzzSuite.CASE_PROPERTY) == null) {
      // Not vacuous: chains were bound, and pins were sent.
      assertThat(harness.bindings).isGreaterThan(20);
      assertThat(harness.pinsSent).isGreaterThan(10);
    }
  }

  // --- 100 MiB bodies, request and response, streamed and not: passed on, never held ---

  private static final long HUNDRED_MIB = 100L << 20;

  @ParameterizedTest(name = "known length {0}")
  @ValueSource(booleans = {true, false})
  void hundredMebibyteRequest_interceptors_passItOnWholeWithoutHoldingIt(boolean knownLength) throws Exception {
    FakeGateway gateway = new FakeGateway();
    Generated body = new Generated(HUNDRED_MIB);
    long baseline = usedHeap();
    long[] heapMidway = {0};
    Counting received = new Counting(HUNDRED_MIB / 2, () -> heapMidway[0] = usedHeap() - baseline);
    gateway.consumeBodies = received;
    gateway.answer = r -> new Response.Builder().code(200)
        .body(ResponseBody.create("{\"id\":\"resp_big\",\"object\":\"response\",\"output\":[]}", JSON));
    OkHttpClient client = client(gateway);
    RequestBody request = new RequestBody() {
      @Override
      public MediaType contentType() {
        return JSON;
      }

      @Override
      public long contentLength() {
        return knownLength ? HUNDRED_MIB : -1;
      }

      @Override
      public void writeTo(okio.BufferedSink sink) throws IOException {
        body.writeTo(sink);
      }
    };

    try (Response response = client.newCall(new Request.Builder().url("https://apim.example.com/openai/v1/responses")
        .post(request).build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }

    assertThat(received.count).isEqualTo(HUNDRED_MIB);
    assertThat(received.crc.getValue()).isEqualTo(body.crc());
    // Neither interceptor reads a body over its 8 MiB bound, nor one of unknown length.
    assertThat(heapMidway[0]).as("heap growth with half the body sent").isLessThan(48L << 20);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"application/json", "text/event-stream"})
  void hundredMebibyteResponse_interceptors_handItOnUnreadAndNeverHoldIt(String type) throws Exception {
    FakeGateway gateway = new FakeGateway();
    String head = type.equals("application/json")
        ? "{\"id\":\"resp_big\",\"object\":\"response\",\"output\":[],\"pad\":\""
        : "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_big\"}}\n\n"
            + "event: response.output_text.delta\ndata: {\"delta\":\"";
    GeneratedSource source = new GeneratedSource(head.getBytes(UTF_8), HUNDRED_MIB);
    gateway.answer = r -> new Response.Builder().code(200)
        .body(ResponseBody.create(okio.Okio.buffer(source), MediaType.get(type), -1));
    OkHttpClient client = client(gateway);
    long baseline = usedHeap();

    try (Response response = client.newCall(new Request.Builder().url("https://apim.example.com/openai/v1/responses")
        .post(RequestBody.create("{\"input\":\"Hi\",\"stream\":true}", JSON)).build()).execute()) {
      // Handed on before the body was read: at most the interceptor's 8 MiB peek of a JSON answer.
      long producedAtReturn = source.produced;
      assertThat(producedAtReturn).isLessThanOrEqualTo(type.equals("application/json") ? (8L << 20) + (64 << 10) : 64 << 10);
      okio.BufferedSource read = response.body().source();
      java.util.zip.CRC32 crc = new java.util.zip.CRC32();
      byte[] chunk = new byte[64 * 1024];
      long total = 0;
      long heapMidway = 0;
      int n;
      while ((n = read.read(chunk)) != -1) {
        crc.update(chunk, 0, n);
        total += n;
        if (heapMidway == 0 && total > HUNDRED_MIB / 2) {
          heapMidway = usedHeap() - baseline;
        }
      }
      assertThat(total).isEqualTo(source.total());
      assertThat(crc.getValue()).isEqualTo(source.crc.getValue());
      assertThat(heapMidway).as("heap growth with half the body read").isLessThan(48L << 20);
    }
  }

  private OkHttpClient client(FakeGateway gateway) {
    OkHttpClient client = new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().build())
        .addInterceptor(RoutingLogInterceptor.builder().level(RoutingLogInterceptor.Level.HEADERS)
            .logger(line -> { }).build())
        .addInterceptor(gateway).callTimeout(Duration.ofSeconds(120)).build();
    clients.add(client);
    return client;
  }

  /** Heap in use after a full collection. */
  static long usedHeap() {
    for (int i = 0; i < 2; i++) {
      System.gc();
    }
    return java.lang.management.ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** A request body made on the fly, the same bytes on every write. */
  static final class Generated {
    private final long size;

    Generated(long size) {
      this.size = size;
    }

    void writeTo(okio.BufferedSink sink) throws IOException {
      byte[] chunk = new byte[64 * 1024];
      for (long written = 0; written < size; written += chunk.length) {
        fill(chunk, written);
        sink.write(chunk, 0, (int) Math.min(chunk.length, size - written));
      }
    }

    long crc() {
      java.util.zip.CRC32 crc = new java.util.zip.CRC32();
      byte[] chunk = new byte[64 * 1024];
      for (long written = 0; written < size; written += chunk.length) {
        fill(chunk, written);
        crc.update(chunk, 0, (int) Math.min(chunk.length, size - written));
      }
      return crc.getValue();
    }

    private static void fill(byte[] chunk, long offset) {
      for (int i = 0; i < chunk.length; i++) {
        chunk[i] = (byte) ('a' + (offset + i) % 26);
      }
    }
  }

  /** A sink that counts and checksums what it gets, and runs a probe once halfway. */
  static final class Counting implements okio.Sink {
    final java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    private final long probeAt;
    private final Runnable probe;
    long count;

    Counting(long probeAt, Runnable probe) {
      this.probeAt = probeAt;
      this.probe = probe;
    }

    @Override
    public void write(okio.Buffer source, long byteCount) throws IOException {
      byte[] bytes = source.readByteArray(byteCount);
      crc.update(bytes);
      if (count < probeAt && count + byteCount >= probeAt) {
        probe.run();
      }
      count += byteCount;
    }

    @Override
    public void flush() {}

    @Override
    public okio.Timeout timeout() {
      return okio.Timeout.NONE;
    }

    @Override
    public void close() {}
  }

  /** A response body made on the fly, counting what has been pulled from it. */
  static final class GeneratedSource implements okio.Source {
    final java.util.zip.CRC32 crc = new java.util.zip.CRC32();
    private final byte[] head;
    private final long size;
    volatile long produced;

    GeneratedSource(byte[] head, long size) {
      this.head = head;
      this.size = size;
    }

    long total() {
      return head.length + size;
    }

    @Override
    public long read(okio.Buffer sink, long byteCount) {
      if (produced >= total()) {
        return -1;
      }
      int n = (int) Math.min(Math.min(byteCount, 64 * 1024), total() - produced);
      byte[] bytes = new byte[n];
      for (int i = 0; i < n; i++) {
        long at = produced + i;
        bytes[i] = at < head.length ? head[(int) at] : (byte) ('a' + at % 26);
      }
      crc.update(bytes);
      sink.write(bytes);
      produced += n;
      return n;
    }

    @Override
    public okio.Timeout timeout() {
      return okio.Timeout.NONE;
    }

    @Override
    public void close() {}
  }

  /** One client with both interceptors, a fake gateway, and what the oracle knows so far. */
  private final class Harness {
    final FakeGateway gateway = new FakeGateway();
    final RecordingStore store = new RecordingStore();
    final List<String> lines = new CopyOnWriteArrayList<>();
    final AffinityInterceptor affinity = AffinityInterceptor.builder().store(store)
        .cookieNames(COOKIE, "SessionId").retryPause(Duration.ZERO).build();
    final OkHttpClient client;
    /** Every cookie a response validly set (OkHttp's own parse), by value. */
    final Map<String, List<Cookie>> accepted = new ConcurrentHashMap<>();
    final List<String> ids = new ArrayList<>(List.of("resp_seed"));
    int bindings;
    int pinsSent;

    Harness() {
      RoutingLogInterceptor routing = RoutingLogInterceptor.builder().level(RoutingLogInterceptor.Level.HEADERS)
          .cookieNames(COOKIE, "SessionId").logger(lines::add).build();
      client = new OkHttpClient.Builder().addInterceptor(affinity).addInterceptor(routing)
          .addInterceptor(gateway).callTimeout(Duration.ofSeconds(20)).build();
      clients.add(client);
    }

    void exchange(Random random, int index) throws Exception {
      String origin = BadInput.oneOf(random, ORIGINS);
      HttpUrl url = HttpUrl.get(origin + BadInput.oneOf(random, "/openai/v1/responses", "/openai/v1/responses",
          "/openai/v1/responses/", "/openai/v1/conversations", "/openai/v1/responses/" + last(random)));
      String fresh = "resp_f" + index;
      // The request: a real or mutated body, continuing a chain we know of (or a mutated one).
      String template = BadInput.oneOf(random, REQUESTS);
      String body = String.format(template, last(random));
      if (random.nextInt(3) == 0) {
        body = BadInput.mutate(random, body);
      }
      Request.Builder request = new Request.Builder().url(url);
      if (url.encodedPath().endsWith("/") && !url.encodedPath().endsWith("responses/")) {
        request.get();
      } else {
        request.post(RequestBody.create(body.getBytes(UTF_8), random.nextInt(8) == 0 ? null : JSON));
      }
      String callerCookie = random.nextInt(4) == 0 ? BadInput.oneOf(random, "theme=dark",
          "theme=dark; " + COOKIE + "=mine", BadInput.text(random, 30)) : null;
      if (callerCookie != null) {
        try {
          request.header("Cookie", callerCookie);
        } catch (IllegalArgumentException notAHeaderValue) {
          callerCookie = null;
        }
      }

      // The answer: status, Set-Cookie, routing headers, a content type and a body, all hostile.
      int status = BadInput.oneOf(random, 200, 200, 200, 201, 400, 404, 429, 500, 502, 503);
      Headers.Builder headers = new Headers.Builder();
      int cookies = random.nextInt(4);
      for (int i = 0; i < cookies; i++) {
        String setCookie = String.format(BadInput.oneOf(random, SET_COOKIES), "v" + index + "_" + i);
        headers.addUnsafeNonAscii("Set-Cookie", random.nextInt(3) == 0 ? BadInput.mutate(random, setCookie)
            .replace('\n', ' ').replace('\r', ' ') : setCookie);
      }
      int routingHeaders = random.nextInt(4);
      for (int i = 0; i < routingHeaders; i++) {
        headers.addUnsafeNonAscii(BadInput.oneOf(random, ROUTING), BadInput.oneOf(random, "West US", "12",
            "999999999999999999", "gzip", BadInput.text(random, 20)).replace('\n', ' ').replace('\r', ' '));
      }
      boolean stream = random.nextBoolean();
      String type = stream ? BadInput.oneOf(random, "text/event-stream", "text/event-stream; charset=utf-8")
          : BadInput.oneOf(random, "application/json", "application/json; charset=utf-8", "text/plain", null);
      String content = String.format(BadInput.oneOf(random, stream ? STREAMS : JSON_RESPONSES), fresh, fresh);
      byte[] sent = (random.nextInt(3) == 0 ? BadInput.mutate(random, content) : content).getBytes(UTF_8);
      Headers answerHeaders = headers.build();
      gateway.failure = random.nextInt(20) == 0 ? new IOException("connection reset") : null;
      gateway.answer = r -> new Response.Builder().code(status).headers(answerHeaders)
          .body(ResponseBody.create(sent, type == null ? null : MediaType.parse(type)));
      gateway.received.clear();
      store.puts.clear();
      Map<ChainKey, AffinityToken> before = store.snapshot();

      // The exchange, with every log level on; ERROR would be our own failure.
      Answer read = null;
      IOException failed = null;
      try (LogCapture logs = LogCapture.start(false)) {
        Call call = client.newCall(request.build());
        try {
          read = random.nextInt(4) == 0 ? async(call) : sync(call);
        } catch (IOException e) {
          failed = e;
        }
        List<CapturedLog> errors = logs.events().stream()
            .filter(e -> e.level() == Level.ERROR || e.level() == Level.WARN && e.throwable() != null).toList();
        assertThat(errors).as("ERROR (or WARN with a stack) from hostile input").isEmpty();
      }

      // The cookies the oracle accepts from this answer: OkHttp's parse, never Secure over http.
      List<Cookie> valid = new ArrayList<>();
      for (String header : answerHeaders.values("Set-Cookie")) {
        Cookie cookie = Cookie.parse(url, header);
        if (cookie != null && !(cookie.secure() && !url.isHttps())) {
          valid.add(cookie);
        }
      }

      // Pins sent: each came from a cookie a response validly set, for a URL it applies to.
      for (FakeGateway.Received received : gateway.received) {
        String cookieHeader = received.cookie();
        if (cookieHeader == null || (callerCookie != null && callerCookie.contains(COOKIE + "="))) {
          continue;
        }
        for (String pair : cookieHeader.split(";")) {
          String trimmed = pair.trim();
          int eq = trimmed.indexOf('=');
          String name = eq < 0 ? trimmed : trimmed.substring(0, eq);
          if (eq > 0 && (name.equals(COOKIE) || name.equals("SessionId"))
              && (callerCookie == null || !callerCookie.contains(trimmed))) {
            String value = trimmed.substring(eq + 1);
            HttpUrl to = received.request().url();
            pinsSent++;
            assertThat(accepted.getOrDefault(value, List.of()))
                .as("pin %s sent to %s", value, to).anyMatch(c -> c.matches(to));
          }
        }
      }
      if (failed != null) {
        assertThat(failed).isInstanceOf(IOException.class);
      } else {
        // Only an error of a turn on a chain is named (header Affinity4j-Note: the reason and the
        // chain), and only such an error has its body changed: amended to name the chain.
        if (read.note() != null) {
          assertThat(status).as("status of a response with a note").isGreaterThanOrEqualTo(300);
          assertThat(ChainNote.reasonIn(read.note())).as("reason in note %s", read.note()).isNotNull();
        }
        if (!java.util.Arrays.equals(read.body(), sent)) {
          assertThat(status).as("status of a body changed").isGreaterThanOrEqualTo(300);
          assertThat(read.note()).as("note on a body changed").isNotNull();
        }
      }

      // Bindings: only after a success, only ids the answer named, only the cookie it set or inherited.
      if (failed != null || status >= 300) {
        assertThat(store.puts).as("bound on failure").isEmpty();
      }
      for (Map.Entry<ChainKey, AffinityToken> put : store.puts) {
        bindings++;
        ChainKey key = put.getKey();
        String token = put.getValue().value();
        assertThat(new String(sent, UTF_8).contains(key.id()) || body.contains(key.id()))
            .as("bound %s, named by neither the answer nor the request", key).isTrue();
        boolean fromThisAnswer = valid.stream().anyMatch(c -> c.value().equals(token));
        boolean inherited = before.values().stream().anyMatch(t -> t.value().equals(token));
        assertThat(fromThisAnswer || inherited).as("bound token %s for %s", token, key).isTrue();
        if (fromThisAnswer && key.kind() == ChainKey.Kind.RESPONSE) {
          ids.add(key.id());
        }
      }
      for (Cookie cookie : valid) {
        accepted.computeIfAbsent(cookie.value(), v -> new CopyOnWriteArrayList<>()).add(cookie);
      }

      // The routing log: one line per exchange; continuation lines are headers, never forged.
      for (String line : lines) {
        String[] parts = line.split("\n", -1);
        for (int i = 1; i < parts.length; i++) {
          assertThat(parts[i].startsWith("> ") || parts[i].startsWith("< ")).as("header line %s", parts[i]).isTrue();
          assertThat(parts[i]).doesNotContain("\r");
        }
      }
      lines.clear();
    }

    private String last(Random random) {
      return ids.get(random.nextInt(ids.size()));
    }
  }

  /** What the caller read: the body, and header {@link ChainNote#HEADER} (null if none). */
  private record Answer(byte[] body, String note) {}

  private static Answer sync(Call call) throws IOException {
    try (Response response = call.execute()) {
      return new Answer(response.body().bytes(), response.header(ChainNote.HEADER));
    }
  }

  private static Answer async(Call call) throws Exception {
    AtomicReference<Object> outcome = new AtomicReference<>();
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    call.enqueue(new Callback() {
      @Override
      public void onFailure(Call c, IOException e) {
        outcome.set(e);
        done.countDown();
      }

      @Override
      public void onResponse(Call c, Response response) {
        try (response) {
          outcome.set(new Answer(response.body().bytes(), response.header(ChainNote.HEADER)));
        } catch (IOException e) {
          outcome.set(e);
        }
        done.countDown();
      }
    });
    assertThat(done.await(20, TimeUnit.SECONDS)).as("async call answered").isTrue();
    if (outcome.get() instanceof IOException e) {
      // OkHttp turns an interceptor's RuntimeException into this, and rethrows it on its thread.
      assertThat(e.getMessage()).doesNotStartWith("canceled due to");
      throw e;
    }
    return (Answer) outcome.get();
  }

  /** A Caffeine store that records every put. */
  static final class RecordingStore implements AffinityStore {
    final AffinityStore delegate = CaffeineAffinityStore.builder().build();
    final List<Map.Entry<ChainKey, AffinityToken>> puts = new CopyOnWriteArrayList<>();
    final Map<ChainKey, AffinityToken> all = new ConcurrentHashMap<>();

    @Override
    public Optional<AffinityToken> get(ChainKey key) {
      return delegate.get(key);
    }

    @Override
    public void put(ChainKey key, AffinityToken token) {
      puts.add(Map.entry(key, token));
      all.put(key, token);
      delegate.put(key, token);
    }

    @Override
    public void remove(ChainKey key) {
      all.remove(key);
      delegate.remove(key);
    }

    @Override
    public long estimatedSize() {
      return delegate.estimatedSize();
    }

    /** Every token stored now, by key; keys of different scopes with one id kept apart. */
    Map<ChainKey, AffinityToken> snapshot() {
      return Map.copyOf(all);
    }
  }
}
