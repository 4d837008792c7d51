package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import okhttp3.Cookie;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.event.Level;

/** {@link ConversationCookieJar} on a real {@link OkHttpClient}, against MockWebServer and the simulator. */
@Timeout(60)
final class ConversationCookieJarTest {
  private static final String COOKIE = "APIM-Backend-Affinity";
  private static final MediaType JSON = MediaType.get("application/json");

  private final MockWebServer server = new MockWebServer();
  private final List<MockWebServer> otherServers = new ArrayList<>();
  private final OkHttpClient base = new OkHttpClient();
  // OkHttp turns Max-Age into an instant with the wall clock, so the fake clock starts there.
  private final MutableClock clock = new MutableClock(Instant.ofEpochMilli(System.currentTimeMillis()));
  private ApimSimulator simulator;

  @BeforeEach
  void start() throws IOException {
    server.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void close() throws IOException {
    base.dispatcher().executorService().shutdown();
    base.connectionPool().evictAll();
    server.shutdown();
    for (MockWebServer other : otherServers) {
      other.shutdown();
    }
    if (simulator != null) {
      simulator.close();
    }
  }

  // --- 14. one scope, one backend ---

  @Test
  void scopedClient_firstResponsesAffinityCookie_sentWithEveryLaterRequestWhateverThePath()
      throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().conversationId("conv_1").build();
    OkHttpClient client = base.newBuilder().cookieJar(jar).build();
    server.enqueue(new MockResponse().addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/; HttpOnly"));
    for (int i = 0; i < 3; i++) {
      server.enqueue(new MockResponse());
    }

    execute(client, post("/openai/v1/responses", "{\"input\":\"hi\"}"));
    execute(client, get("/openai/v1/models"));
    execute(client, post("/openai/v1/chat/completions", "{}"));
    execute(client, new Request.Builder().url(url("/elsewhere/deep/path?x=1")).delete().build());

    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    for (int i = 0; i < 3; i++) {
      assertThat(takeRequest(server).getHeaders().values("Cookie")).containsExactly(COOKIE + "=backend-a");
    }
    assertThat(jar.scope()).isEqualTo(ChainKey.conversation("conv_1"));
    assertThat(client.connectionPool()).isSameAs(base.connectionPool());
  }

  @Test
  void otherCookies_keptInTheJar_honourPathExpiryDeletionAndSecure() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().threadId("thread_1").clock(clock).build();
    OkHttpClient client = base.newBuilder().cookieJar(jar).build();
    server.enqueue(new MockResponse()
        .addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/")
        .addHeader("Set-Cookie", "theme=dark; Path=/openai")
        .addHeader("Set-Cookie", "track=1; Path=/elsewhere")
        .addHeader("Set-Cookie", "short=1; Path=/; Max-Age=60")
        .addHeader("Set-Cookie", "gone=1; Path=/")
        .addHeader("Set-Cookie", "sec=1; Path=/; Secure"));
    server.enqueue(new MockResponse().addHeader("Set-Cookie", "gone=; Path=/; Max-Age=0"));
    server.enqueue(new MockResponse());
    server.enqueue(new MockResponse());

    execute(client, get("/openai/threads"));
    execute(client, get("/openai/v1/models"));
    execute(client, get("/elsewhere/page"));
    clock.advance(Duration.ofSeconds(61));
    execute(client, get("/openai/v1/models"));

    takeRequest(server);
    assertThat(cookieNames(takeRequest(server))).containsExactlyInAnyOrder(COOKIE, "theme", "short", "gone");
    assertThat(cookieNames(takeRequest(server))).containsExactlyInAnyOrder(COOKIE, "track", "short");
    assertThat(cookieNames(takeRequest(server))).containsExactlyInAnyOrder(COOKIE, "theme");
    // A Secure cookie set over plain http is ignored (RFC 6265bis), even for https later. The pin
    // belongs to the origin (scheme, host, port) that set it, so no other port or scheme gets it.
    assertThat(jar.loadForRequest(HttpUrl.get("https://127.0.0.1/openai")))
        .extracting(Cookie::name).containsExactlyInAnyOrder("theme");
    jar.saveFromResponse(HttpUrl.get("https://127.0.0.1/openai"),
        List.of(Cookie.parse(HttpUrl.get("https://127.0.0.1/openai"), "sec=1; Path=/; Secure")));
    assertThat(jar.loadForRequest(HttpUrl.get("https://127.0.0.1/openai")))
        .extracting(Cookie::name).containsExactlyInAnyOrder("theme", "sec");
    assertThat(jar.loadForRequest(HttpUrl.get("http://127.0.0.1/openai")))
        .extracting(Cookie::name).containsExactlyInAnyOrder("theme");
  }

  @Test
  void affinityCookie_expiredByTheClockOrDeletedByTheGateway_noLongerSent() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().conversationId("conv_1").clock(clock).build();
    OkHttpClient client = base.newBuilder().cookieJar(jar).build();
    server.enqueue(new MockResponse().addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/; Max-Age=60"));
    server.enqueue(new MockResponse());
    server.enqueue(new MockResponse().addHeader("Set-Cookie", COOKIE + "=backend-b; Path=/"));
    server.enqueue(new MockResponse().addHeader("Set-Cookie", COOKIE + "=; Path=/; Max-Age=0"));
    server.enqueue(new MockResponse());

    execute(client, get("/openai/v1/conversations/conv_1"));
    clock.advance(Duration.ofSeconds(61));
    execute(client, get("/openai/v1/conversations/conv_1"));
    execute(client, get("/openai/v1/conversations/conv_1"));
    execute(client, get("/openai/v1/conversations/conv_1"));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-b");
    execute(client, get("/openai/v1/conversations/conv_1"));
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
  }

  @Test
  void anotherHost_cookieSetByHostA_neverSentToHostB() throws Exception {
    MockWebServer serverB = new MockWebServer();
    otherServers.add(serverB);
    serverB.start(InetAddress.getByName("localhost"), 0);
    ConversationCookieJar jar = ConversationCookieJar.builder().conversationId("conv_1").build();
    OkHttpClient client = base.newBuilder().cookieJar(jar).build();
    server.enqueue(new MockResponse()
        .addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/")
        .addHeader("Set-Cookie", "theme=dark; Path=/"));
    server.enqueue(new MockResponse());
    serverB.enqueue(new MockResponse());

    execute(client, get("/openai/v1/models"));
    execute(client, new Request.Builder()
        .url(new HttpUrl.Builder().scheme("http").host("localhost").port(serverB.getPort())
            .encodedPath("/openai/v1/models").build())
        .build());
    execute(client, get("/openai/v1/models"));

    assertThat(takeRequest(serverB).getHeader("Cookie")).isNull();
    takeRequest(server);
    assertThat(cookieNames(takeRequest(server))).containsExactlyInAnyOrder(COOKIE, "theme");
  }

  @Test
  void sharedStore_sameScopeSharesThePin_otherScopeDoesNot() throws Exception {
    AffinityStore store = CaffeineAffinityStore.builder().executor(Runnable::run).build();
    OkHttpClient first = base.newBuilder()
        .cookieJar(ConversationCookieJar.builder().conversationId("conv_1").store(store).build()).build();
    OkHttpClient sameScope = base.newBuilder()
        .cookieJar(ConversationCookieJar.builder().conversationId("conv_1").store(store).build()).build();
    OkHttpClient otherScope = base.newBuilder()
        .cookieJar(ConversationCookieJar.builder().conversationId("conv_2").store(store).build()).build();
    OkHttpClient threadScope = base.newBuilder()
        .cookieJar(ConversationCookieJar.builder().threadId("conv_1").store(store).build()).build();
    OkHttpClient withInterceptor = base.newBuilder()
        .addInterceptor(AffinityInterceptor.builder().store(store).build()).build();
    server.enqueue(new MockResponse().addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/"));
    for (int i = 0; i < 4; i++) {
      server.enqueue(new MockResponse());
    }

    execute(first, get("/openai/v1/conversations/conv_1"));
    execute(sameScope, get("/openai/v1/conversations/conv_1/items"));
    execute(otherScope, get("/openai/v1/conversations/conv_2/items"));
    execute(threadScope, get("/openai/threads/conv_1"));
    execute(withInterceptor, post("/openai/v1/responses",
        "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"conversation\":\"conv_1\"}"));

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo(COOKIE + "=backend-a");
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
    // An interceptor's chain is scoped by the API's base path and the credential too, which a jar
    // cannot see: it keeps its own pins.
    assertThat(takeRequest(server).getHeader("Cookie")).isNull();
  }

  @Test
  void simulatorPool_oneScopeStaysOnOneBackend_nextScopeLandsOnAnother() throws Exception {
    simulator = ApimSimulator.builder().backends(3).start();
    HttpUrl responses = HttpUrl.get(simulator.openAiBaseUrl() + "/responses");
    for (String scope : List.of("conv_a", "conv_b")) {
      OkHttpClient client = base.newBuilder()
          .cookieJar(ConversationCookieJar.builder().conversationId(scope).build()).build();
      for (int turn = 1; turn <= 4; turn++) {
        Request request = new Request.Builder().url(responses)
            .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"" + scope + " " + turn + "\"}", JSON))
            .build();
        try (Response response = client.newCall(request).execute()) {
          assertThat(response.code()).isEqualTo(200);
        }
      }
    }

    List<LoggedRequest> log = simulator.requestLog();
    assertThat(log).hasSize(8);
    List<LoggedRequest> a = log.subList(0, 4);
    List<LoggedRequest> b = log.subList(4, 8);
    assertThat(a).extracting(LoggedRequest::backend).containsOnly(a.get(0).backend());
    assertThat(b).extracting(LoggedRequest::backend).containsOnly(b.get(0).backend());
    assertThat(b.get(0).backend()).isNotEqualTo(a.get(0).backend());
    assertThat(a.subList(1, 4)).extracting(LoggedRequest::affinityCookie).containsOnly(a.get(0).issuedCookie());
    assertThat(b.get(0).hasAffinityCookie()).isFalse();
  }

  // --- bounded as browsers bound their jars (issue 14, row 9) ---

  @Test
  void twoThousandResponses_sixtyNewCookiesEach_sendsOnlyTheNewestWithinTheCaps() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().conversationId("conv_1").build();
    OkHttpClient client = overLoopback(jar);
    int hosts = 7;
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        MockResponse response = new MockResponse();
        String path = request.getPath();
        if (path.startsWith("/set/")) {
          int i = Integer.parseInt(path.substring("/set/".length()));
          if (i == 0) {
            response.addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/");
          }
          for (int j = 0; j < 60; j++) {
            response.addHeader("Set-Cookie", "c" + i + "_" + j + "=v" + i + "_" + j + "; Path=/");
          }
        }
        return response;
      }
    });

    for (int i = 0; i < 2_000; i++) {
      execute(client, get(host(i % hosts), "/set/" + i));
      // A host's cookies from 7 responses ago were pushed out by the 300 of the 6 newer ones.
      assertThat(sentCookieNames(takeRequest(server))).as("request %s", i)
          .isEqualTo(i % hosts == 0 && i > 0 ? List.of(COOKIE) : List.of());
    }
    Map<Integer, List<String>> expected = new HashMap<>();
    for (int i = 2_000 - 6; i < 2_000; i++) {
      List<String> newest = new ArrayList<>();
      for (int j = 10; j < 60; j++) {
        newest.add("c" + i + "_" + j); // the per-domain cap kept each response's last 50
      }
      expected.put(i % hosts, newest);
    }
    int sent = 0;
    for (int k = 0; k < hosts; k++) {
      execute(client, get(host(k), "/read"));
      RecordedRequest request = takeRequest(server);
      List<String> names = sentCookieNames(request);
      List<String> wanted = new ArrayList<>(expected.getOrDefault(k, List.of()));
      if (k == 0) {
        wanted.add(COOKIE);
      }
      assertThat(names).as("host %s", k).isEqualTo(wanted);
      assertThat(cookieHeaderBytes(request))
          .isLessThanOrEqualTo(ConversationCookieJar.DEFAULT_MAX_COOKIE_HEADER_BYTES);
      sent += names.size() - (k == 0 ? 1 : 0);
    }
    assertThat(sent).isEqualTo(ConversationCookieJar.DEFAULT_MAX_COOKIES);
  }

  @Test
  void perDomainCap_oneHostSetsSixtyCookies_sendsItsFiftyNewestAndOtherHostsKeepTheirs() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().conversationId("conv_1").build();
    OkHttpClient client = overLoopback(jar);
    server.enqueue(new MockResponse().addHeader("Set-Cookie", "b=1; Path=/"));
    server.enqueue(new MockResponse().addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/")
        .addHeader("Set-Cookie", "early=1; Path=/"));
    MockResponse sixty = new MockResponse();
    List<String> newest = new ArrayList<>();
    for (int j = 0; j < 60; j++) {
      sixty.addHeader("Set-Cookie", "c" + j + "=" + j + "; Path=/");
      if (j >= 10) {
        newest.add("c" + j);
      }
    }
    server.enqueue(sixty);
    server.enqueue(new MockResponse());
    server.enqueue(new MockResponse());

    execute(client, get(host(1), "/openai/v1/models"));
    execute(client, get(host(0), "/openai/v1/models"));
    execute(client, get(host(0), "/openai/v1/models"));
    execute(client, get(host(0), "/openai/v1/models"));
    execute(client, get(host(1), "/openai/v1/models"));

    takeRequest(server);
    takeRequest(server);
    assertThat(sentCookieNames(takeRequest(server))).containsExactly("early", COOKIE);
    List<String> wanted = new ArrayList<>(newest);
    wanted.add(COOKIE);
    assertThat(sentCookieNames(takeRequest(server))).isEqualTo(wanted);
    assertThat(sentCookieNames(takeRequest(server))).containsExactly("b");
  }

  @Test
  void totalCap_cookiesOfSeveralHosts_evictsTheLeastRecentlySetWhateverItsHost() {
    ConversationCookieJar jar = ConversationCookieJar.builder().conversationId("conv_1")
        .maxCookiesPerDomain(3).maxCookies(4).build();
    HttpUrl a = HttpUrl.get("https://a.gateway.test/");
    HttpUrl b = HttpUrl.get("https://b.gateway.test/");
    HttpUrl c = HttpUrl.get("https://c.gateway.test/");

    jar.saveFromResponse(a, cookies(a, "a1=1", "a2=1"));
    jar.saveFromResponse(b, cookies(b, "b1=1", "b2=1"));
    jar.saveFromResponse(c, cookies(c, "c1=1"));

    assertThat(jar.loadForRequest(a)).extracting(Cookie::name).containsExactly("a2");
    assertThat(jar.loadForRequest(b)).extracting(Cookie::name).containsExactly("b1", "b2");
    assertThat(jar.loadForRequest(c)).extracting(Cookie::name).containsExactly("c1");
  }

  @Test
  void sameNameDomainAndPath_setAgain_replacesItOnceAndCountsAsMostRecentlySet() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().threadId("thread_1")
        .maxCookiesPerDomain(3).build();
    OkHttpClient client = base.newBuilder().cookieJar(jar).build();
    server.enqueue(new MockResponse().addHeader("Set-Cookie", "a=1; Path=/")
        .addHeader("Set-Cookie", "b=1; Path=/").addHeader("Set-Cookie", "c=1; Path=/"));
    server.enqueue(new MockResponse().addHeader("Set-Cookie", "a=2; Path=/"));
    server.enqueue(new MockResponse().addHeader("Set-Cookie", "d=1; Path=/"));
    server.enqueue(new MockResponse());

    for (int i = 0; i < 4; i++) {
      execute(client, get("/openai/threads/thread_1"));
    }

    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo("a=1; b=1; c=1");
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo("b=1; c=1; a=2");
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo("c=1; a=2; d=1");
  }

  @Test
  void expiredCookie_domainOverItsCap_goesBeforeOlderLiveOnes() {
    ConversationCookieJar jar = ConversationCookieJar.builder().threadId("thread_1").clock(clock)
        .maxCookiesPerDomain(3).build();
    HttpUrl url = HttpUrl.get("https://a.gateway.test/openai/threads/thread_1");

    jar.saveFromResponse(url, cookies(url, "a=1; Path=/", "b=1; Path=/", "short=1; Path=/; Max-Age=60"));
    List<String> before = jar.loadForRequest(url).stream().map(Cookie::name).toList();
    // No request in between: the save itself must drop the expired cookie before evicting "a".
    clock.advance(Duration.ofSeconds(61));
    jar.saveFromResponse(url, cookies(url, "c=1; Path=/", "d=1; Path=/"));

    assertThat(before).containsExactly("a", "b", "short");
    assertThat(jar.loadForRequest(url)).extracting(Cookie::name).containsExactly("b", "c", "d");
  }

  @Test
  void oversizeCookie_over4096Bytes_notKeptAndTheCookieItWouldReplaceStays() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().threadId("thread_1").build();
    OkHttpClient client = base.newBuilder().cookieJar(jar).build();
    // Name, value, domain ("127.0.0.1", 9 bytes) and path ("/") weigh exactly 4096 bytes.
    String edge = "e".repeat(4096 - "edge".length() - "127.0.0.1".length() - "/".length());
    String secret = "s3cr3t" + "x".repeat(4096);
    server.enqueue(new MockResponse().addHeader("Set-Cookie", "big=small; Path=/")
        .addHeader("Set-Cookie", "edge=" + edge + "; Path=/"));
    server.enqueue(new MockResponse().addHeader("Set-Cookie", "big=" + secret + "; Path=/")
        .addHeader("Set-Cookie", "over=" + edge + "e; Path=/"));
    server.enqueue(new MockResponse());

    execute(client, get("/openai/threads/thread_1"));
    LogCapture log = LogCapture.during(() -> execute(client, get("/openai/threads/thread_1")));
    execute(client, get("/openai/threads/thread_1"));

    takeRequest(server);
    takeRequest(server);
    assertThat(takeRequest(server).getHeader("Cookie")).isEqualTo("big=small; edge=" + edge);
    assertThat(log.text()).doesNotContain("s3cr3t").doesNotContain(edge);
  }

  @Test
  void cookieHeader_cookiesOverItsByteLimit_sendsThePinAndTheNewestThatFit() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().threadId("thread_1").build();
    OkHttpClient client = base.newBuilder().cookieJar(jar).build();
    MockResponse six = new MockResponse().addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/");
    for (int k = 0; k < 6; k++) {
      six.addHeader("Set-Cookie", "k" + k + "=" + "v".repeat(3_900) + "; Path=/");
    }
    server.enqueue(six);
    server.enqueue(new MockResponse());

    execute(client, get("/openai/threads/thread_1"));
    execute(client, get("/openai/threads/thread_1"));

    takeRequest(server);
    RecordedRequest request = takeRequest(server);
    // The pin (31 bytes) and four of 3,903 bytes, with "; " between, fit in 16 KiB; five do not.
    assertThat(sentCookieNames(request)).containsExactly("k2", "k3", "k4", "k5", COOKIE);
    assertThat(cookieHeaderBytes(request))
        .isLessThanOrEqualTo(ConversationCookieJar.DEFAULT_MAX_COOKIE_HEADER_BYTES);
  }

  @Test
  void concurrentSavesAndLoads_fourThreads_capsHoldAtEveryLoad() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder().conversationId("conv_1")
        .maxCookiesPerDomain(20).maxCookies(50).build();
    List<HttpUrl> hosts = List.of(HttpUrl.get("https://a.gateway.test/"),
        HttpUrl.get("https://b.gateway.test/"), HttpUrl.get("https://c.gateway.test/"));
    int threads = 4;
    CountDownLatch start = new CountDownLatch(1);
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      for (int t = 0; t < threads; t++) {
        int thread = t;
        pool.execute(() -> {
          try {
            start.await();
            for (int i = 0; i < 500; i++) {
              HttpUrl url = hosts.get((thread + i) % hosts.size());
              String name = "t" + thread + "_" + i;
              jar.saveFromResponse(url, cookies(url, name + "=1", name + "b=1"));
              HttpUrl target = hosts.get(i % hosts.size());
              assertThat(jar.loadForRequest(target)).hasSizeLessThanOrEqualTo(20)
                  .allSatisfy(cookie -> assertThat(cookie.matches(target)).isTrue());
            }
          } catch (Throwable e) {
            failures.add(e);
          }
        });
      }
      start.countDown();
      pool.shutdown();
      if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
        fail("threads still running:\n" + stacks());
      }
    } finally {
      pool.shutdownNow();
    }

    assertThat(failures).isEmpty();
    int total = 0;
    for (HttpUrl url : hosts) {
      int count = jar.loadForRequest(url).size();
      assertThat(count).isLessThanOrEqualTo(20);
      total += count;
    }
    assertThat(total).isEqualTo(50);
  }

  // --- 15. never throws ---

  @Test
  void throwingStore_loadAndSave_neverThrowKeepOtherCookiesOneWarnWithoutPathOrQuery() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder()
        .conversationId("conv_1").store(new ThrowingStore()).build();
    HttpUrl url = HttpUrl.get("http://127.0.0.1:" + server.getPort()
        + "/openai/v1/responses/private-path?api-version=2025&key=query-secret");
    List<Cookie> cookies = List.of(
        Cookie.parse(url, COOKIE + "=s3cr3t-value; Path=/"),
        Cookie.parse(url, "theme=dark; Path=/"));

    LogCapture saveLog = LogCapture.during(() -> jar.saveFromResponse(url, cookies));
    List<Cookie> loaded = new ArrayList<>();
    LogCapture loadLog = LogCapture.during(() -> loaded.addAll(jar.loadForRequest(url)));

    assertThat(loaded).extracting(Cookie::name).containsExactly("theme");
    assertThat(warnings(saveLog)).isNotEmpty().allSatisfy(line -> assertThat(line).contains("threw on"));
    assertThat(warnings(loadLog)).singleElement().asString().contains("threw on get");
    assertThat(saveLog.text() + loadLog.text()).doesNotContain("private-path").doesNotContain("query-secret")
        .doesNotContain("s3cr3t-value");
  }

  @Test
  void throwingStore_throughAClient_requestsStillSucceed() throws Exception {
    OkHttpClient client = base.newBuilder().cookieJar(
        ConversationCookieJar.builder().conversationId("conv_1").store(new ThrowingStore()).build()).build();
    server.enqueue(new MockResponse().addHeader("Set-Cookie", COOKIE + "=backend-a; Path=/")
        .addHeader("Set-Cookie", "theme=dark; Path=/").setBody("first"));
    server.enqueue(new MockResponse().setBody("second"));

    assertThat(execute(client, get("/openai/v1/models"))).isEqualTo("first");
    assertThat(execute(client, get("/openai/v1/models"))).isEqualTo("second");

    takeRequest(server);
    assertThat(takeRequest(server).getHeaders().values("Cookie")).containsExactly("theme=dark");
  }

  @Test
  void failingJar_clockThrows_loadReturnsEmptySaveSwallows_oneWarnWithUrlStrippedToHost() throws Exception {
    ConversationCookieJar jar = ConversationCookieJar.builder()
        .conversationId("conv_1").clock(new BrokenClock()).build();
    HttpUrl url = HttpUrl.get("http://127.0.0.1:" + server.getPort()
        + "/openai/v1/private-path?key=query-secret");
    List<Cookie> cookies = List.of(Cookie.parse(url, COOKIE + "=s3cr3t-value; Path=/"),
        Cookie.parse(url, "theme=dark; Path=/"));

    LogCapture saveLog = LogCapture.during(() -> jar.saveFromResponse(url, cookies));
    List<Cookie> loaded = new ArrayList<>(List.of(cookies.get(1)));
    LogCapture loadLog = LogCapture.during(() -> {
      loaded.clear();
      loaded.addAll(jar.loadForRequest(url));
    });

    assertThat(loaded).isEmpty();
    assertThat(warnings(saveLog)).singleElement().asString()
        .contains("Cookies from http://127.0.0.1/\u2026 not saved for conversation:conv_1");
    assertThat(warnings(loadLog)).singleElement().asString()
        .contains("Cookies for http://127.0.0.1/\u2026 not loaded for conversation:conv_1");
    assertThat(saveLog.text() + loadLog.text()).doesNotContain("private-path").doesNotContain("query-secret")
        .doesNotContain("s3cr3t-value");
  }

  // --- 16. builder ---

  @Test
  void builder_noScope_illegalStateSayingWhatToCall() {
    assertThatThrownBy(() -> ConversationCookieJar.builder().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("conversationId(id)").hasMessageContaining("threadId(id)");
  }

  @Test
  void builder_badIds_illegalArgument() {
    for (String bad : Arrays.asList(null, "", "has space", "x".repeat(257), "caf\u00e9")) {
      assertThatThrownBy(() -> ConversationCookieJar.builder().conversationId(bad))
          .as("conversationId %s", bad == null ? null : bad.length() + " chars")
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> ConversationCookieJar.builder().threadId(bad))
          .isInstanceOf(IllegalArgumentException.class);
    }
    assertThatThrownBy(() -> ConversationCookieJar.builder().cookieNames())
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void builder_capsOutOfRange_illegalArgumentWithTheRuleAndTheValue() {
    assertThatThrownBy(() -> ConversationCookieJar.builder().maxCookiesPerDomain(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxCookiesPerDomain").hasMessageContaining("-1");
    assertThatThrownBy(() -> ConversationCookieJar.builder().maxCookies(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxCookies").hasMessageContaining("-1");
    assertThatThrownBy(() -> ConversationCookieJar.builder().maxCookieHeaderBytes(4_096))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxCookieHeaderBytes").hasMessageContaining("4097").hasMessageContaining("4096");
    assertThat(ConversationCookieJar.builder().conversationId("conv_1")
        .maxCookiesPerDomain(0).maxCookies(0).maxCookieHeaderBytes(4_097).build()).isNotNull();
  }

  @Test
  void capsOfZero_gatewaySetsCookies_onlyThePinIsSent() {
    ConversationCookieJar jar = ConversationCookieJar.builder().conversationId("conv_1")
        .maxCookies(0).build();
    HttpUrl url = HttpUrl.get("https://a.gateway.test/openai");

    jar.saveFromResponse(url, cookies(url, COOKIE + "=backend-a; Path=/", "theme=dark; Path=/"));

    assertThat(jar.loadForRequest(url)).extracting(Cookie::name).containsExactly(COOKIE);
  }

  @Test
  void toString_afterCookiesSaved_showsScopeNotValues() {
    ConversationCookieJar jar = ConversationCookieJar.builder().threadId("thread_1").build();
    HttpUrl url = HttpUrl.get("http://127.0.0.1/openai/threads/thread_1");
    jar.saveFromResponse(url, List.of(Cookie.parse(url, COOKIE + "=s3cr3t-value; Path=/"),
        Cookie.parse(url, "theme=s3cr3t-theme")));

    assertThat(jar.toString()).isEqualTo("ConversationCookieJar{thread:thread_1}");
  }

  // --- helpers ---

  /** A client on {@code jar} whose every host name resolves to loopback, so one server is many hosts. */
  private OkHttpClient overLoopback(ConversationCookieJar jar) {
    return base.newBuilder().cookieJar(jar).proxy(Proxy.NO_PROXY)
        .dns(hostname -> List.of(InetAddress.getByName("127.0.0.1"))).build();
  }

  private static String host(int k) {
    return "h" + k + ".gateway.test";
  }

  private Request get(String host, String path) {
    return new Request.Builder()
        .url(new HttpUrl.Builder().scheme("http").host(host).port(server.getPort()).encodedPath(path).build())
        .build();
  }

  private static List<Cookie> cookies(HttpUrl url, String... setCookies) {
    List<Cookie> parsed = new ArrayList<>();
    for (String setCookie : setCookies) {
      parsed.add(Cookie.parse(url, setCookie));
    }
    return parsed;
  }

  /** The cookie names of a request in order, none if it had no {@code Cookie} header. */
  private static List<String> sentCookieNames(RecordedRequest request) {
    return request.getHeader("Cookie") == null ? List.of() : cookieNames(request);
  }

  private static int cookieHeaderBytes(RecordedRequest request) {
    String header = request.getHeader("Cookie");
    return header == null ? 0 : header.getBytes(StandardCharsets.UTF_8).length;
  }

  private static String stacks() {
    StringBuilder out = new StringBuilder();
    Thread.getAllStackTraces().forEach((thread, stack) -> {
      out.append(thread.getName()).append('\n');
      for (StackTraceElement frame : stack) {
        out.append("  at ").append(frame).append('\n');
      }
    });
    return out.toString();
  }

  private HttpUrl url(String pathAndQuery) {
    return HttpUrl.get("http://127.0.0.1:" + server.getPort() + pathAndQuery);
  }

  private Request get(String pathAndQuery) {
    return new Request.Builder().url(url(pathAndQuery)).build();
  }

  private Request post(String pathAndQuery, String json) {
    return new Request.Builder().url(url(pathAndQuery)).post(RequestBody.create(json, JSON)).build();
  }

  private static String execute(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      return response.body().string();
    }
  }

  private static RecordedRequest takeRequest(MockWebServer from) throws InterruptedException {
    RecordedRequest request = from.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).as("a request reached %s", from).isNotNull();
    return request;
  }

  private static List<String> cookieNames(RecordedRequest request) {
    List<String> headers = request.getHeaders().values("Cookie");
    assertThat(headers).hasSize(1);
    return Arrays.stream(headers.get(0).split("; "))
        .map(pair -> pair.substring(0, pair.indexOf('=')))
        .collect(Collectors.toList());
  }

  /** The messages of the WARN events, in the order logged. */
  private static List<String> warnings(LogCapture logs) {
    return logs.events().stream().filter(event -> event.level() == Level.WARN)
        .map(CapturedLog::message).toList();
  }

  /** A clock the test moves by hand. */
  private static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    void advance(Duration duration) {
      now = now.plus(duration);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  /** A clock that fails, to make the jar itself meet trouble. */
  private static final class BrokenClock extends Clock {
    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      throw new IllegalStateException("clock broken");
    }
  }

  /** A store whose backend is down. */
  private static final class ThrowingStore implements AffinityStore {
    @Override
    public Optional<AffinityToken> get(ChainKey key) {
      throw new IllegalStateException("store down");
    }

    @Override
    public void put(ChainKey key, AffinityToken token) {
      throw new IllegalStateException("store down");
    }

    @Override
    public void remove(ChainKey key) {
      throw new IllegalStateException("store down");
    }

    @Override
    public long estimatedSize() {
      throw new IllegalStateException("store down");
    }
  }
}
