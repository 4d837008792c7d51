package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import io.github.affinity4j.testsupport.MutableClock;
import java.io.IOException;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.Call;
import okhttp3.Callback;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.MDC;
import org.slf4j.helpers.BasicMDCAdapter;
import org.slf4j.spi.MDCAdapter;
import reactor.core.publisher.Mono;

/**
 * {@link RoutingLogInterceptor} through a real {@link OkHttpClient}: {@link ApimSimulator} where a
 * pool matters, MockWebServer where exact headers do. Lines go to a recording {@code Logger},
 * except where the SLF4J default is under test (then a test-support {@link LogCapture} records
 * them).
 */
@Timeout(60)
final class RoutingLogInterceptorTest {
  private static final String COOKIE = "APIM-Backend-Affinity";
  private static final String RESPONSES = "/openai/v1/responses";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final Pattern RESPONSE_ID = Pattern.compile("\"id\":\"(resp_[^\"]+)\"");

  private final MockWebServer server = new MockWebServer();
  private final List<OkHttpClient> clients = new ArrayList<>();
  private final List<String> lines = new CopyOnWriteArrayList<>();
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

  // --- 1. the line: every field, from a real pool ---

  enum Install { APPLICATION, NETWORK }

  @ParameterizedTest
  @EnumSource(Install.class)
  void basicLine_onSimulatedPool_showsEveryRoutingField(Install install) throws Exception {
    apim = ApimSimulator.builder().backends(2).start();
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder().logger(lines::add).build();
    OkHttpClient.Builder builder = new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().build());
    if (install == Install.APPLICATION) {
      builder.addInterceptor(routing);
    } else {
      builder.addNetworkInterceptor(routing);
    }
    OkHttpClient client = client(builder);
    String url = apim.url() + RESPONSES + "?api-version=preview&sig=query-secret";

    Exchange first = exchange(client, url, newTurn());
    Exchange second = exchange(client, url, continuing(first.id()));
    apim.backend("backend-1").failNext(1, 429, Duration.ofMillis(1500));
    Exchange limited = exchange(client, url, continuing(second.id()));

    String cookie = first.header("Set-Cookie").substring(COOKIE.length() + 1).split(";")[0];
    String pin = COOKIE + ":" + fingerprint(cookie);
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0))
        .matches("POST /openai/v1/responses 200 \\d+ms .*")
        .contains(" region=\"East US\"")
        .contains(" x-request-id=" + first.header("x-request-id"))
        .contains(" apim-request-id=" + first.header("apim-request-id"))
        .contains(" remaining-requests=" + first.header("x-ratelimit-remaining-requests"))
        .contains(" remaining-tokens=" + first.header("x-ratelimit-remaining-tokens"))
        .contains(" cookie-set=" + pin)
        .contains(" created=response:" + first.id())
        .doesNotContain("cookie-sent=").doesNotContain(" chain=").doesNotContain("retry-after")
        .doesNotContain("BACKEND CHANGED").doesNotContain("?").doesNotContain("query-secret")
        .doesNotContain(cookie);
    assertThat(lines.get(1))
        .matches("POST /openai/v1/responses 200 \\d+ms .*")
        .contains(" region=\"East US\"")
        .contains(" x-request-id=" + second.header("x-request-id"))
        .contains(" cookie-sent=" + pin)
        .contains(" chain=response:" + first.id())
        .contains(" created=response:" + second.id())
        .doesNotContain("cookie-set=").doesNotContain("BACKEND CHANGED");
    assertThat(limited.code()).isEqualTo(429);
    assertThat(lines.get(2))
        .matches("POST /openai/v1/responses 429 \\d+ms .*")
        .contains(" retry-after=1500ms")
        .contains(" remaining-requests=0 remaining-tokens=0")
        .contains(" chain=response:" + second.id())
        .doesNotContain("created=");
  }

  @ParameterizedTest
  @CsvSource({
      "retry-after, 2, 2000ms",
      "retry-after-ms, 40, 40ms",
      "x-ms-retry-after-ms, 250.7, 250ms",
  })
  void retryAfter_eachSpelling_shownInMilliseconds(String header, String value, String shown)
      throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    server.enqueue(new MockResponse().setResponseCode(429).setHeader(header, value));

    exchange(client, server.url(RESPONSES).toString(), newTurn());

    assertThat(lines).singleElement().asString()
        .startsWith("POST /openai/v1/responses 429 ").endsWith(" retry-after=" + shown);
  }

  @Test
  void region_onlyBackendRegionHeader_takenFromIt() throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    server.enqueue(created("resp_1").setHeader("x-backend-region", "Sweden Central"));
    server.enqueue(created("resp_2").setHeader("x-backend-region", "Sweden Central")
        .setHeader("x-ms-region", "Japan East"));

    exchange(client, server.url(RESPONSES).toString(), newTurn());
    exchange(client, server.url(RESPONSES).toString(), newTurn());

    assertThat(lines.get(0)).contains(" region=\"Sweden Central\"");
    assertThat(lines.get(1)).contains(" region=\"Japan East\"").doesNotContain("Sweden");
  }

  @Test
  void latency_fakeClock_isTheTimeUntilResponseHeaders() throws Exception {
    MutableClock clock = new MutableClock();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).clock(clock).build())
        .addInterceptor(chain -> {
          clock.advance(Duration.ofMillis(250));
          return chain.proceed(chain.request());
        }));
    server.enqueue(created("resp_1"));

    exchange(client, server.url(RESPONSES).toString(), newTurn());

    assertThat(lines).containsExactly("POST /openai/v1/responses 200 250ms");
  }

  // --- 2. backend changes ---

  @Test
  void backendChanged_pinnedBackendKilledInRerouteMode_markedWithThePreviousRegionAndCookie()
      throws Exception {
    apim = ApimSimulator.builder().backends(2).pinnedBackendMode(PinnedBackendMode.REROUTE).start();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().build())
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    String url = apim.openAiBaseUrl() + "/responses";

    Exchange first = exchange(client, url, newTurn());
    Exchange second = exchange(client, url, continuing(first.id()));
    apim.backend("backend-1").kill();
    Exchange moved = exchange(client, url, continuing(second.id()));

    String before = COOKIE + ":" + fingerprint(cookieValue(first));
    // The gateway's answer to the third request, whatever the affinity interceptor made of it.
    String after = COOKIE + ":" + fingerprint(apim.requestLog().get(2).issuedCookie());
    assertThat(moved.code()).isIn(200, 400);
    assertThat(lines.subList(0, 2)).noneMatch(line -> line.contains("BACKEND CHANGED"));
    assertThat(lines.get(2))
        .startsWith("POST /openai/v1/responses 400 ")
        .contains(" region=\"West US\"")
        .contains(" cookie-sent=" + before + " cookie-set=" + after)
        .contains(" chain=response:" + second.id())
        .endsWith(" BACKEND CHANGED (was region=\"East US\" cookie=" + before + ")"); // not found there
  }

  @Test
  void backendChanged_chainsOfAnAffinityInterceptor_markedFromItsPinsWithNoCacheOfItsOwn() throws Exception {
    apim = ApimSimulator.builder().backends(2).pinnedBackendMode(PinnedBackendMode.REROUTE).start();
    AffinityInterceptor affinity = AffinityInterceptor.builder().build();
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder().logger(lines::add).chainsOf(affinity).build();
    OkHttpClient client = client(new OkHttpClient.Builder().addInterceptor(affinity).addInterceptor(routing));
    String url = apim.openAiBaseUrl() + "/responses";

    Exchange first = exchange(client, url, newTurn());
    Exchange second = exchange(client, url, continuing(first.id()));
    apim.backend("backend-1").kill();
    exchange(client, url, continuing(second.id()));

    String before = COOKIE + ":" + fingerprint(cookieValue(first));
    assertThat(lines.subList(0, 2)).noneMatch(line -> line.contains("BACKEND CHANGED"));
    assertThat(lines.get(2))
        .contains(" chain=response:" + second.id())
        .contains(" BACKEND CHANGED (was ")
        .endsWith(" cookie=" + before + ")");
    assertThat(routing.rememberedStrings()).as("the engine's pins, not a cache of its own").isEmpty();
    assertThat(routing.toString()).contains("chainsTracked=" + affinity.store().estimatedSize());
  }

  enum Turn { JSON_EXECUTE, JSON_ENQUEUE, STREAM }

  @ParameterizedTest
  @EnumSource(Turn.class)
  void backendChanged_roundRobinWithoutAffinity_markedFromTheChainsLastBackend(Turn turn)
      throws Exception {
    apim = ApimSimulator.builder().backends(2).sessionAffinity(false).start();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    String url = apim.openAiBaseUrl() + "/responses";
    String body = turn == Turn.STREAM
        ? "{\"model\":\"gpt-4.1\",\"input\":\"Hello\",\"stream\":true}" : newTurn();

    Exchange first = turn == Turn.JSON_ENQUEUE ? enqueue(client, url, body) : exchange(client, url, body);
    Exchange second = turn == Turn.JSON_ENQUEUE
        ? enqueue(client, url, continuing(first.id())) : exchange(client, url, continuing(first.id()));

    assertThat(second.code()).isEqualTo(400);
    assertThat(lines.get(0)).contains(" region=\"East US\"").doesNotContain("BACKEND CHANGED");
    assertThat(lines.get(1))
        .contains(" region=\"West US\"")
        .contains(" chain=response:" + first.id())
        .endsWith(" BACKEND CHANGED (was region=\"East US\")");
  }

  @Test
  void backendChanged_conversationTurns_markedAgainstTheConversationsLastTurn() throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    String turn = "{\"model\":\"gpt-4.1\",\"input\":\"Hi\",\"conversation\":{\"id\":\"conv_1\"}}";
    server.enqueue(created("resp_1").setHeader("x-ms-region", "East US"));
    server.enqueue(created("resp_2").setHeader("x-ms-region", "East US"));
    server.enqueue(created("resp_3").setHeader("x-ms-region", "West US"));

    for (int i = 0; i < 3; i++) {
      exchange(client, server.url(RESPONSES).toString(), turn);
    }

    assertThat(lines).allSatisfy(line -> assertThat(line).contains(" chain=conversation:conv_1"));
    assertThat(lines.subList(0, 2)).noneMatch(line -> line.contains("BACKEND CHANGED"));
    assertThat(lines.get(2)).endsWith(" BACKEND CHANGED (was region=\"East US\")");
  }

  @Test
  void stream_teedForTheId_reachesTheCallerByteForByte() throws Exception {
    String stream = ": keep-alive\r\n\r\nevent: response.created\r\n"
        + "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_s1\",\"object\":\"response\"}}\r\n\r\n"
        + "event: response.output_text.delta\r\ndata: {\"delta\":\"Gr\u00fc\u00dfe \ud83d\udc4b\"}\r\n\r\n";
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    server.enqueue(new MockResponse().setHeader("Content-Type", "text/event-stream")
        .setHeader("x-ms-region", "East US").setBody(stream));
    server.enqueue(created("resp_2").setHeader("x-ms-region", "West US"));

    Exchange streamed = exchange(client, server.url(RESPONSES).toString(), newTurn());
    exchange(client, server.url(RESPONSES).toString(), continuing("resp_s1"));

    assertThat(streamed.body()).isEqualTo(stream);
    assertThat(lines.get(1)).endsWith(" BACKEND CHANGED (was region=\"East US\")");
  }

  // --- 3. levels, redaction ---

  @Test
  void headers_secretsInEveryRedactedHeader_shownAsMarkerOrCookieFingerprints() throws Exception {
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .level(RoutingLogInterceptor.Level.HEADERS).logger(lines::add).build();
    OkHttpClient client = client(new OkHttpClient.Builder().addInterceptor(routing));
    for (int i = 0; i < 2; i++) {
      server.enqueue(created("resp_" + i)
          .addHeader("x-ms-region", "West US")
          .addHeader("Set-Cookie", COOKIE + "=set-secret-" + i + "; Path=/; HttpOnly")
          .addHeader("Set-Cookie", "other=other-set-secret"));
    }
    Request request = new Request.Builder().url(server.url(RESPONSES))
        .post(RequestBody.create(newTurn(), JSON))
        .header("Authorization", "Bearer bearer-secret")
        .header("Proxy-Authorization", "Basic proxy-secret")
        .header("api-key", "api-key-secret")
        .header("x-api-key", "x-api-key-secret")
        .header("Ocp-Apim-Subscription-Key", "subscription-secret")
        .header("Cookie", "theme=dark; " + COOKIE + "=sent-secret")
        .header("X-Custom-Token", "custom-secret")
        .header("x-visible", "shown")
        .build();

    execute(client, request);
    routing.redactHeader("x-custom-token");
    execute(client, request);

    String pin = COOKIE + ":" + fingerprint("sent-secret");
    assertThat(lines.get(0)).contains("\n> X-Custom-Token: custom-secret");
    assertThat(lines.get(1).lines()).contains(
        "> Authorization: [redacted]",
        "> Proxy-Authorization: [redacted]",
        "> api-key: [redacted]",
        "> x-api-key: [redacted]",
        "> Ocp-Apim-Subscription-Key: [redacted]",
        "> Cookie: theme:" + fingerprint("dark") + "; " + pin,
        "> X-Custom-Token: [redacted]",
        "> x-visible: shown",
        "< x-ms-region: West US",
        "< Set-Cookie: " + COOKIE + ":" + fingerprint("set-secret-1") + "; Path=/; HttpOnly",
        "< Set-Cookie: other:" + fingerprint("other-set-secret"));
    assertThat(lines.get(1).lines().findFirst().orElseThrow())
        .contains(" cookie-sent=" + pin + " cookie-set=" + COOKIE + ":" + fingerprint("set-secret-1"));
    String everything = String.join("\n", lines.get(1), routing.toString());
    for (String secret : List.of("bearer-secret", "proxy-secret", "api-key-secret", "x-api-key-secret",
        "subscription-secret", "sent-secret", "set-secret", "other-set-secret", "custom-secret", "=dark")) {
      assertThat(everything).doesNotContain(secret);
    }
  }

  @Test
  void level_changedAtRunTime_appliesFromTheNextExchange() throws Exception {
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder().logger(lines::add).build();
    OkHttpClient client = client(new OkHttpClient.Builder().addInterceptor(routing));
    for (int i = 0; i < 3; i++) {
      server.enqueue(created("resp_" + i));
    }

    assertThat(routing.level()).isEqualTo(RoutingLogInterceptor.Level.BASIC);
    exchange(client, server.url(RESPONSES).toString(), newTurn());
    routing.level(RoutingLogInterceptor.Level.NONE);
    exchange(client, server.url(RESPONSES).toString(), newTurn());
    routing.level(RoutingLogInterceptor.Level.HEADERS);
    exchange(client, server.url(RESPONSES).toString(), newTurn());

    assertThat(lines).hasSize(2);
    assertThat(lines.get(0)).doesNotContain("\n");
    assertThat(lines.get(1)).contains("\n< Content-Type: application/json");
  }

  @Test
  void none_passesTheRequestOnWithoutReadingItsBody() throws Exception {
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .level(RoutingLogInterceptor.Level.NONE).logger(lines::add).build();
    List<RequestBody> seen = new CopyOnWriteArrayList<>();
    OkHttpClient client = client(new OkHttpClient.Builder().addInterceptor(routing)
        .addInterceptor(chain -> {
          seen.add(chain.request().body());
          return chain.proceed(chain.request());
        }));
    RequestBody body = RequestBody.create(newTurn(), JSON);
    server.enqueue(created("resp_1"));
    server.enqueue(created("resp_2"));

    execute(client, new Request.Builder().url(server.url(RESPONSES)).post(body).build());
    routing.level(RoutingLogInterceptor.Level.BASIC); // the control: BASIC reads it
    execute(client, new Request.Builder().url(server.url(RESPONSES)).post(body).build());

    assertThat(seen.get(0)).isSameAs(body);
    assertThat(seen.get(1)).isNotSameAs(body);
    assertThat(lines).hasSize(1);
  }

  // --- 4. the SLF4J default, MDC ---

  @Test
  void defaultLogger_infoEnabled_logsUnderTheClassName() throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder().addInterceptor(new RoutingLogInterceptor()));
    server.enqueue(created("resp_1"));

    LogCapture logs = LogCapture.during(() -> exchange(client, server.url(RESPONSES).toString(), newTurn()));

    assertThat(logs.events()).anySatisfy(event -> {
      assertThat(event.level()).isEqualTo(org.slf4j.event.Level.INFO);
      assertThat(event.logger()).isEqualTo(RoutingLogInterceptor.class.getName());
      assertThat(event.message()).startsWith("POST /openai/v1/responses 200 ");
    });
  }

  @Test
  void defaultLogger_levelDisabled_nothingLoggedAndBodyNotRead() throws Exception {
    // slf4j-simple runs this library at DEBUG in tests, so TRACE is off; the capture leaves it off.
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .logLevel(org.slf4j.event.Level.TRACE).build();
    List<RequestBody> seen = new CopyOnWriteArrayList<>();
    OkHttpClient client = client(new OkHttpClient.Builder().addInterceptor(routing)
        .addInterceptor(chain -> {
          seen.add(chain.request().body());
          return chain.proceed(chain.request());
        }));
    RequestBody body = RequestBody.create(newTurn(), JSON);
    server.enqueue(created("resp_1"));

    String log;
    try (LogCapture logs = LogCapture.startAtConfiguredLevels()) {
      execute(client, new Request.Builder().url(server.url(RESPONSES)).post(body).build());
      log = logs.text();
    }

    assertThat(log).doesNotContain("POST /openai/v1/responses");
    assertThat(seen).containsExactly(body);
  }

  @Test
  void mdc_whileLogging_holdsChainAndRegionThenRestoresThePreviousValues() throws Exception {
    // slf4j-simple ignores MDC (NOPMDCAdapter); install slf4j's map-backed one, as logback has.
    MDCAdapter original = MDC.getMDCAdapter();
    Method setAdapter = MDC.class.getDeclaredMethod("setMDCAdapter", MDCAdapter.class);
    setAdapter.setAccessible(true);
    setAdapter.invoke(null, new BasicMDCAdapter());
    try {
      List<String> mdc = new CopyOnWriteArrayList<>();
      OkHttpClient client = client(new OkHttpClient.Builder()
          .addInterceptor(RoutingLogInterceptor.builder().logger(line -> mdc.add(
              MDC.get(RoutingLogInterceptor.MDC_CHAIN) + " | " + MDC.get(RoutingLogInterceptor.MDC_REGION)))
              .build()));
      server.enqueue(created("resp_1").setHeader("x-ms-region", "East US"));
      server.enqueue(created("resp_2").setHeader("x-ms-region", "West US"));

      exchange(client, server.url(RESPONSES).toString(), newTurn());
      String afterFirst = MDC.get(RoutingLogInterceptor.MDC_REGION);
      MDC.put(RoutingLogInterceptor.MDC_CHAIN, "outer-chain");
      exchange(client, server.url(RESPONSES).toString(), continuing("resp_1"));

      assertThat(RoutingLogInterceptor.MDC_CHAIN).isEqualTo("affinity4j.chain");
      assertThat(RoutingLogInterceptor.MDC_REGION).isEqualTo("affinity4j.region");
      assertThat(mdc).containsExactly("null | East US", "response:resp_1 | West US");
      assertThat(afterFirst).isNull();
      assertThat(MDC.get(RoutingLogInterceptor.MDC_CHAIN)).isEqualTo("outer-chain");
      assertThat(MDC.get(RoutingLogInterceptor.MDC_REGION)).isNull();
    } finally {
      MDC.remove(RoutingLogInterceptor.MDC_CHAIN);
      MDC.remove(RoutingLogInterceptor.MDC_REGION);
      setAdapter.invoke(null, original);
    }
  }

  // --- 5. failures and bad input ---

  @Test
  void failure_connectionDropped_lineNamesTheExceptionTypeAndTheIOExceptionPropagates() {
    OkHttpClient client = client(new OkHttpClient.Builder().retryOnConnectionFailure(false)
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    server.enqueue(new MockResponse().setSocketPolicy(SocketPolicy.DISCONNECT_AT_START));

    assertThatThrownBy(() -> exchange(client, server.url(RESPONSES + "?key=query-secret").toString(),
        continuing("resp_1"))).isInstanceOf(IOException.class);

    assertThat(lines).singleElement().asString()
        .matches("POST /openai/v1/responses failed after \\d+ms: \\w+ chain=response:resp_1");
  }

  @Test
  void badHeaders_garbageValues_ignoredOrNeutralisedAndTheLineStillLogged() throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build()));
    server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("not json at all")
        .addHeaderLenient("x-ratelimit-remaining-requests", "lots")
        .addHeaderLenient("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")
        .addHeaderLenient("x-request-id", "forged\u0007\tid")
        .addHeaderLenient("x-ms-region", "\"quoted\" = region")
        .addHeaderLenient("Set-Cookie", COOKIE + "=; Path=/")
        .addHeaderLenient("Set-Cookie", "=nameless"));

    Exchange exchange = exchange(client, server.url(RESPONSES).toString(), "{not json");

    assertThat(exchange.body()).isEqualTo("not json at all");
    assertThat(lines).singleElement().asString()
        .startsWith("POST /openai/v1/responses 200 ")
        .contains(" region=\"\\\"quoted\\\" = region\"")
        .contains(" x-request-id=forged??id")
        .contains(" cookie-set=" + COOKIE + ":" + fingerprint(""))
        .doesNotContain("remaining-requests").doesNotContain("retry-after")
        .doesNotContain("chain=").doesNotContain("created=");
  }

  @Test
  void requestBody_overTheLimit_loggedWithoutChainAndSentIntact() throws Exception {
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .maxBodyBytes(32).logger(lines::add).build();
    OkHttpClient client = client(new OkHttpClient.Builder().addInterceptor(routing));
    String body = continuing("resp_1");
    server.enqueue(created("resp_2"));

    exchange(client, server.url(RESPONSES).toString(), body);

    assertThat(server.takeRequest(5, TimeUnit.SECONDS).getBody().readUtf8()).isEqualTo(body);
    assertThat(lines).singleElement().asString().doesNotContain("chain=");
  }

  @Test
  void logger_throws_callStillSucceedsAndAWarnSaysTheLineWasDropped() throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().logger(line -> {
          throw new IllegalStateException("sink broke");
        }).build()));
    server.enqueue(created("resp_1"));

    LogCapture logs = LogCapture.during(() ->
        assertThat(exchange(client, server.url(RESPONSES).toString(), newTurn()).id()).isEqualTo("resp_1"));

    assertThat(logs.events()).extracting(CapturedLog::level).contains(org.slf4j.event.Level.WARN);
    assertThat(logs.text()).contains("line dropped");
  }

  @Test
  void builder_badSettings_rejectedSayingWhatToDo() {
    assertThatThrownBy(() -> RoutingLogInterceptor.builder().cookieNames())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one");
    assertThatThrownBy(() -> RoutingLogInterceptor.builder().cookieNames("bad name"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a cookie name");
    assertThatThrownBy(() -> RoutingLogInterceptor.builder().maxBodyBytes(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RoutingLogInterceptor.builder().expireAfterAccess(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RoutingLogInterceptor.builder().maximumChains(-1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> RoutingLogInterceptor.builder().logger(lines::add)
        .logLevel(org.slf4j.event.Level.DEBUG).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("one or the other");
  }

  @Test
  void cookieNames_configured_onlyThoseAreTheAffinityCookie() throws Exception {
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder().cookieNames("SessionId").logger(lines::add).build()));
    server.enqueue(created("resp_1").addHeader("Set-Cookie", COOKIE + "=a; Path=/")
        .addHeader("Set-Cookie", "SessionId=b; Path=/"));

    exchange(client, server.url(RESPONSES).toString(), newTurn());

    assertThat(lines).singleElement().asString().contains(" cookie-set=SessionId:" + fingerprint("b"))
        .doesNotContain(COOKIE);
  }

  // --- 6. secrets, everything on, a real client on the simulator ---

  @Test
  void secrets_debugAndHeadersOnSimulator_neverInALogLineExceptionOrToString() throws Exception {
    apim = ApimSimulator.builder().backends(2).start();
    String bearer = "bearer-s3cr3t-token";
    AtomicInteger fetches = new AtomicInteger();
    TokenCredential credential = new TokenCredential() {
      @Override
      public Mono<AccessToken> getToken(TokenRequestContext context) {
        return Mono.fromCallable(() -> getTokenSync(context));
      }

      @Override
      public AccessToken getTokenSync(TokenRequestContext context) {
        if (fetches.incrementAndGet() > 1) {
          throw new IllegalStateException("AADSTS700016: the directory is down");
        }
        return new AccessToken(bearer, OffsetDateTime.now(ZoneOffset.UTC).plusMinutes(1));
      }
    };
    AffinityInterceptor affinity = AffinityInterceptor.builder().build();
    EntraIdInterceptor entra = EntraIdInterceptor.builder(credential).refreshBeforeExpiry(Duration.ZERO).build();
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .level(RoutingLogInterceptor.Level.HEADERS).logLevel(org.slf4j.event.Level.DEBUG).build();
    OkHttpClient client = client(new OkHttpClient.Builder()
        .addInterceptor(entra).addInterceptor(affinity).addInterceptor(routing));
    List<String> secrets = new ArrayList<>(List.of(bearer, "api-key-s3cr3t", "subscription-s3cr3t",
        "session-s3cr3t"));
    List<String> seen = new ArrayList<>();
    String url = apim.openAiBaseUrl() + "/responses";

    String log = LogCapture.during(() -> {
      Exchange first = exchange(client, withSecrets(url, newTurn()));
      Exchange second = exchange(client, withSecrets(url, continuing(first.id())));
      apim.backend(apim.requestLog().get(0).backend()).kill();
      exchange(client, withSecrets(url, continuing(second.id()))); // re-routed: a new cookie, a 400
      apim.requestLog().stream().map(r -> r.issuedCookie()).filter(c -> c != null).forEach(secrets::add);
      // The credential fails from now on; the cached token expires when the clock passes a minute,
      // so force the failure through a second interceptor instance with an expired cache.
      EntraIdInterceptor failing = EntraIdInterceptor.builder(credential).build();
      OkHttpClient failingClient = client(new OkHttpClient.Builder().addInterceptor(failing)
          .addInterceptor(routing));
      try {
        exchange(failingClient, withSecrets(url, newTurn()));
      } catch (IOException e) {
        seen.add(e.toString());
        seen.add(String.valueOf(e.getCause()));
      }
      server.enqueue(new MockResponse().setSocketPolicy(SocketPolicy.DISCONNECT_AT_START));
      try {
        exchange(client(new OkHttpClient.Builder().retryOnConnectionFailure(false)
            .addInterceptor(entra).addInterceptor(routing)), withSecrets(server.url(RESPONSES).toString(),
            continuing(second.id())));
      } catch (IOException e) {
        seen.add(e.toString());
      }
    }).text();
    seen.add(log);
    seen.add(affinity.toString());
    seen.add(entra.toString());
    seen.add(routing.toString());
    seen.add(affinity.store().toString());

    assertThat(secrets).hasSizeGreaterThan(5); // at least two cookies were issued
    assertThat(log).contains("DEBUG " + RoutingLogInterceptor.class.getName())
        .contains("BACKEND CHANGED").contains("> Authorization: [redacted]")
        .contains("> Ocp-Apim-Subscription-Key: [redacted]").contains("> api-key: [redacted]")
        .contains(" failed after ");
    assertThat(log.toLowerCase(Locale.ROOT)).contains("< set-cookie: apim-backend-affinity:");
    assertThat(seen.get(0)).contains("AADSTS700016").contains(EntraIdInterceptor.DEFAULT_SCOPE);
    for (String text : seen) {
      for (String secret : secrets) {
        assertThat(text).doesNotContain(secret);
      }
    }
  }

  private static Request withSecrets(String url, String json) {
    return new Request.Builder().url(url).post(RequestBody.create(json, JSON))
        .header("api-key", "api-key-s3cr3t")
        .header("Ocp-Apim-Subscription-Key", "subscription-s3cr3t")
        .header("Cookie", "session=session-s3cr3t")
        .build();
  }

  // --- helpers ---

  /** What a test needs of a response, read in full and closed. */
  private record Exchange(int code, okhttp3.Headers headers, String body) {
    String header(String name) {
      return headers.get(name);
    }

    String id() {
      Matcher matcher = RESPONSE_ID.matcher(body);
      assertThat(matcher.find()).as("a response id in %s", body).isTrue();
      return matcher.group(1);
    }
  }

  private OkHttpClient client(OkHttpClient.Builder builder) {
    OkHttpClient client = builder.build();
    clients.add(client);
    return client;
  }

  private static Exchange exchange(OkHttpClient client, String url, String json) throws IOException {
    return exchange(client, new Request.Builder().url(url).post(RequestBody.create(json, JSON)).build());
  }

  private static Exchange exchange(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      return new Exchange(response.code(), response.headers(), response.body().string());
    }
  }

  private static void execute(OkHttpClient client, Request request) throws IOException {
    exchange(client, request);
  }

  private static Exchange enqueue(OkHttpClient client, String url, String json) throws Exception {
    CompletableFuture<Exchange> result = new CompletableFuture<>();
    client.newCall(new Request.Builder().url(url).post(RequestBody.create(json, JSON)).build())
        .enqueue(new Callback() {
          @Override
          public void onFailure(Call call, IOException e) {
            result.completeExceptionally(e);
          }

          @Override
          public void onResponse(Call call, Response response) {
            try (response) {
              result.complete(new Exchange(response.code(), response.headers(), response.body().string()));
            } catch (IOException | RuntimeException e) {
              result.completeExceptionally(e);
            }
          }
        });
    return result.get(30, TimeUnit.SECONDS);
  }

  private static String cookieValue(Exchange exchange) {
    String header = exchange.header("Set-Cookie");
    assertThat(header).as("Set-Cookie").startsWith(COOKIE + "=");
    return header.substring(COOKIE.length() + 1).split(";")[0];
  }

  /** The fingerprint the interceptor must show, computed by core as AffinityInterceptor's logs do. */
  private static String fingerprint(String value) {
    return AffinityToken.builder().name(COOKIE).value(value).domain("example.com")
        .seenAt(Instant.EPOCH).build().fingerprint();
  }

  private static String newTurn() {
    return "{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}";
  }

  private static String continuing(String previousId) {
    return "{\"model\":\"gpt-4.1\",\"input\":\"Go on\",\"previous_response_id\":\"" + previousId + "\"}";
  }

  private static MockResponse created(String id) {
    return new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}");
  }
}
