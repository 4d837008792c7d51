package io.github.affinity4j.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import okhttp3.Cookie;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The gateway's routing, affinity, breaker, headers, faults and log, through a real OkHttp client. */
@Timeout(30)
final class ApimSimulatorGatewayTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final String TURN = "{\"model\":\"gpt-4.1\",\"input\":\"hello\"}";

  private final OkHttpClient client = new OkHttpClient.Builder()
      .readTimeout(10, TimeUnit.SECONDS)
      .retryOnConnectionFailure(false)
      .build();
  private final TestClock clock = new TestClock();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    if (simulator != null) {
      simulator.close();
    }
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }

  @Test
  void roundRobin_requestsWithoutCookie_spreadEvenlyInTurn() throws IOException {
    simulator = ApimSimulator.builder().backends(3).start();

    List<String> served = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      served.add(post(TURN, null).backend);
    }

    assertThat(served.subList(0, 6))
        .containsExactly("backend-1", "backend-2", "backend-3", "backend-1", "backend-2", "backend-3");
    assertThat(countByBackend(served)).containsOnly(
        Map.entry("backend-1", 10), Map.entry("backend-2", 10), Map.entry("backend-3", 10));
  }

  @Test
  void weighted_weightsThreeToOne_spreadInProportion() throws IOException {
    simulator = ApimSimulator.builder()
        .backend(BackendSpec.of("heavy", "East US").weight(3))
        .backend(BackendSpec.of("light", "West US").weight(1))
        .start();

    List<String> served = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      served.add(post(TURN, null).backend);
    }

    assertThat(countByBackend(served)).containsOnly(Map.entry("heavy", 30), Map.entry("light", 10));
  }

  @Test
  void priority_lowerGroup_servesOnlyWhileHigherGroupIsUnavailable() throws IOException {
    simulator = ApimSimulator.builder()
        .backend(BackendSpec.of("primary-a", "East US"))
        .backend(BackendSpec.of("primary-b", "East US 2"))
        .backend(BackendSpec.of("spare", "Sweden Central").priority(2))
        .start();

    List<String> served = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      served.add(post(TURN, null).backend);
    }
    simulator.backend("primary-a").kill();
    String oneLeft = post(TURN, null).backend;
    simulator.backend("primary-b").kill();
    String spare = post(TURN, null).backend;
    simulator.backend("primary-a").revive();
    String back = post(TURN, null).backend;

    assertThat(served).containsOnly("primary-a", "primary-b");
    assertThat(oneLeft).isEqualTo("primary-b");
    assertThat(spare).isEqualTo("spare");
    assertThat(back).isEqualTo("primary-a");
  }

  @Test
  void affinity_firstResponse_setsOpaqueCookieWithPathAndHttpOnly() throws IOException {
    simulator = ApimSimulator.builder().backends(3).start();

    Answer first = post(TURN, null);

    assertThat(first.setCookies).hasSize(1);
    assertThat(first.setCookies.get(0)).matches("APIM-Backend-Affinity=[0-9a-f]{40}; Path=/; HttpOnly");
    Cookie cookie = Cookie.parse(HttpUrl.get(simulator.url()), first.setCookies.get(0));
    assertThat(cookie).isNotNull();
    assertThat(cookie.path()).isEqualTo("/");
    assertThat(cookie.httpOnly()).isTrue();
    assertThat(simulator.pinnedBackend(cookie.value())).map(SimulatedBackend::name).contains(first.backend);
  }

  @Test
  void affinity_requestsWithCookie_stayOnPinnedBackendWithoutNewCookie() throws IOException {
    simulator = ApimSimulator.builder().backends(3).start();
    Answer first = post(TURN, null);
    String cookie = cookieValue(first);

    List<Answer> later = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      later.add(post(TURN, cookie));
    }

    assertThat(later).extracting(a -> a.backend).containsOnly(first.backend);
    assertThat(later).allSatisfy(a -> assertThat(a.setCookies).isEmpty());
  }

  @Test
  void affinity_cookieSentBack_keepsResponseChainAlive() throws IOException {
    simulator = ApimSimulator.builder().backends(3).start();
    Answer first = post(TURN, null);
    String cookie = cookieValue(first);

    Answer second = post(continuing(first), cookie);
    Answer withoutCookie = post(continuing(second), null);

    assertThat(second.status).isEqualTo(200);
    assertThat(answerText(second).userMessages()).isEqualTo(2);
    assertThat(withoutCookie.status).isEqualTo(400);
    assertThat(withoutCookie.json.at("/error/code").asText()).isEqualTo("previous_response_not_found");
  }

  @Test
  void affinity_unknownCookieValue_isIgnoredAndReplaced() throws IOException {
    simulator = ApimSimulator.builder().backends(2).start();

    Answer answer = post(TURN, "not-issued-by-this-gateway");

    assertThat(answer.status).isEqualTo(200);
    assertThat(answer.setCookies).hasSize(1);
    assertThat(simulator.requestLog().get(0).affinityCookie()).isEqualTo("not-issued-by-this-gateway");
  }

  @Test
  void affinityOff_noCookieIssued_andCookiesIgnored() throws IOException {
    simulator = ApimSimulator.builder().backends(2).sessionAffinity(false).start();
    Answer first = post(TURN, null);

    Answer second = post(TURN, "anything");

    assertThat(first.setCookies).isEmpty();
    assertThat(second.setCookies).isEmpty();
    assertThat(List.of(first.backend, second.backend)).containsExactly("backend-1", "backend-2");
    assertThat(simulator.requestLog()).allSatisfy(r -> assertThat(r.hasAffinityCookie()).isFalse());
  }

  @Test
  void cookieName_configured_isTheOnlyOneHonoured() throws IOException {
    simulator = ApimSimulator.builder().backends(3).cookieName("SessionId").start();
    Answer first = post(TURN, null);
    String value = cookieValue(first);

    Answer wrongName = send(request(TURN).header("Cookie", "APIM-Backend-Affinity=" + value));
    Answer rightName = send(request(TURN).header("Cookie", "theme=dark; SessionId=" + value));

    assertThat(first.setCookies.get(0)).startsWith("SessionId=");
    assertThat(wrongName.backend).isNotEqualTo(first.backend);
    assertThat(wrongName.setCookies).hasSize(1);
    assertThat(rightName.backend).isEqualTo(first.backend);
    assertThat(rightName.setCookies).isEmpty();
  }

  @Test
  void reroute_pinnedBackendKilled_routesElsewhereWithNewCookie() throws IOException {
    simulator = ApimSimulator.builder().backends(3).start();
    Answer first = post(TURN, null);
    simulator.backend(first.backend).kill();

    Answer second = post(continuing(first), cookieValue(first));

    assertThat(second.backend).isNotEqualTo(first.backend);
    assertThat(second.setCookies).hasSize(1);
    assertThat(cookieValue(second)).isNotEqualTo(cookieValue(first));
    assertThat(second.status).isEqualTo(400);
    assertThat(second.json.at("/error/code").asText()).isEqualTo("previous_response_not_found");
    assertThat(simulator.backend(first.backend).stats().requests()).isEqualTo(1);
  }

  @Test
  void strict_pinnedBackendKilled_answers503WithoutForwarding_untilRevived() throws IOException {
    simulator = ApimSimulator.builder().backends(3).pinnedBackendMode(PinnedBackendMode.STRICT).start();
    Answer first = post(TURN, null);
    String cookie = cookieValue(first);
    simulator.backend(first.backend).kill();

    Answer refused = post(continuing(first), cookie);
    long forwarded = simulator.backends().stream().mapToLong(b -> b.stats().requests()).sum();
    simulator.backend(first.backend).revive();
    Answer resumed = post(continuing(first), cookie);

    assertThat(refused.status).isEqualTo(503);
    assertThat(refused.json.get("statusCode").asInt()).isEqualTo(503);
    assertThat(refused.json.get("message").asText()).contains("Service Unavailable");
    assertThat(refused.backend).isNull();
    assertThat(refused.setCookies).isEmpty();
    assertThat(forwarded).isEqualTo(1);
    assertThat(resumed.status).isEqualTo(200);
    assertThat(resumed.backend).isEqualTo(first.backend);
    assertThat(answerText(resumed).userMessages()).isEqualTo(2);
  }

  @Test
  void circuitBreaker_enoughFailuresWithinInterval_opensForTripDurationThenCloses() throws IOException {
    simulator = ApimSimulator.builder().backends(2).clock(clock)
        .circuitBreaker(CircuitBreakerRule.builder()
            .count(3).interval(Duration.ofSeconds(10)).statusRange(500, 599)
            .tripDuration(Duration.ofSeconds(30)).build())
        .start();
    Answer first = post(TURN, null);
    String cookie = cookieValue(first);
    SimulatedBackend pinned = simulator.backend(first.backend);
    pinned.failNext(3, 500);

    for (int i = 0; i < 3; i++) {
      assertThat(post(TURN, cookie).status).isEqualTo(500);
    }
    boolean openAfterFailures = pinned.isCircuitOpen();
    Answer whileOpen = post(TURN, cookie);
    clock.advance(Duration.ofSeconds(30));
    boolean openAfterTrip = pinned.isCircuitOpen();

    assertThat(openAfterFailures).isTrue();
    assertThat(whileOpen.backend).isNotEqualTo(first.backend);
    assertThat(whileOpen.setCookies).hasSize(1);
    assertThat(openAfterTrip).isFalse();
    assertThat(post(TURN, cookie).backend).isEqualTo(first.backend);
  }

  @Test
  void circuitBreaker_failuresSpreadBeyondInterval_doNotTrip() throws IOException {
    simulator = ApimSimulator.builder().backends(1).clock(clock)
        .circuitBreaker(CircuitBreakerRule.builder()
            .count(2).interval(Duration.ofSeconds(10)).statusRange(500, 599).build())
        .start();
    SimulatedBackend backend = simulator.backend("backend-1");
    backend.failNext(2, 503);

    post(TURN, null);
    clock.advance(Duration.ofSeconds(11));
    post(TURN, null);

    assertThat(backend.isCircuitOpen()).isFalse();
  }

  @Test
  void circuitBreaker_statusOutsideRanges_doesNotCount() throws IOException {
    simulator = ApimSimulator.builder().backends(1).clock(clock)
        .circuitBreaker(CircuitBreakerRule.builder().count(1).statusRange(500, 599).build())
        .start();

    post("{\"model\":\"gpt-4.1\",\"input\":\"x\",\"previous_response_id\":\"resp_missing\"}", null);
    simulator.backend("backend-1").failNext(1, 429);
    post(TURN, null);

    assertThat(simulator.backend("backend-1").isCircuitOpen()).isFalse();
  }

  @Test
  void circuitBreaker_acceptRetryAfter_staysOpenForRetryAfter() throws IOException {
    simulator = ApimSimulator.builder().backends(1).clock(clock)
        .circuitBreaker(CircuitBreakerRule.builder().count(1).statusRange(429, 429)
            .tripDuration(Duration.ofMinutes(1)).acceptRetryAfter(true).build())
        .start();
    SimulatedBackend backend = simulator.backend("backend-1");
    backend.failNext(1, 429, Duration.ofSeconds(5));

    post(TURN, null);
    boolean open = backend.isCircuitOpen();
    Answer noBackend = post(TURN, null);
    clock.advance(Duration.ofSeconds(5));

    assertThat(open).isTrue();
    assertThat(noBackend.status).isEqualTo(503);
    assertThat(noBackend.json.get("statusCode").asInt()).isEqualTo(503);
    assertThat(backend.isCircuitOpen()).isFalse();
  }

  @Test
  void circuitBreaker_withoutAcceptRetryAfter_usesTripDuration() throws IOException {
    simulator = ApimSimulator.builder().backends(1).clock(clock)
        .circuitBreaker(CircuitBreakerRule.builder().count(1).statusRange(429, 429)
            .tripDuration(Duration.ofMinutes(1)).build())
        .start();
    SimulatedBackend backend = simulator.backend("backend-1");
    backend.failNext(1, 429, Duration.ofSeconds(5));

    post(TURN, null);
    clock.advance(Duration.ofSeconds(5));

    assertThat(backend.isCircuitOpen()).isTrue();
    clock.advance(Duration.ofSeconds(55));
    assertThat(backend.isCircuitOpen()).isFalse();
  }

  @Test
  void headers_everyAnswer_carriesRequestIds_andBackendAnswersCarryRegion() throws IOException {
    simulator = ApimSimulator.builder().backends(2).start();

    Answer first = post(TURN, null);
    Answer second = post(TURN, null);
    Answer unknownPath = send(new Request.Builder().url(simulator.url() + "/nothing/here"));

    String uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
    for (Answer answer : List.of(first, second, unknownPath)) {
      assertThat(answer.headers.get("x-request-id")).matches(uuid);
      assertThat(answer.headers.get("apim-request-id")).matches(uuid);
    }
    assertThat(first.headers.get("x-request-id")).isNotEqualTo(second.headers.get("x-request-id"));
    assertThat(first.headers.get("x-ms-region")).isEqualTo("East US");
    assertThat(first.headers.get("x-backend-region")).isEqualTo("East US");
    assertThat(second.headers.get("x-backend-region")).isEqualTo("West US");
    assertThat(unknownPath.headers.get("x-backend-region")).isNull();
  }

  @Test
  void unknownPath_answered404ByGateway_withoutForwarding() throws IOException {
    simulator = ApimSimulator.builder().backends(1).start();

    Answer answer = send(request(TURN).url(simulator.url() + "/openai/v1/chat/completions"));
    Answer noApiVersion = send(request(TURN).url(simulator.url() + "/openai/responses"));

    assertThat(answer.status).isEqualTo(404);
    assertThat(answer.json.get("statusCode").asInt()).isEqualTo(404);
    assertThat(answer.json.get("message").asText()).isEqualTo("Resource not found");
    assertThat(noApiVersion.status).isEqualTo(404);
    assertThat(simulator.backend("backend-1").stats().requests()).isZero();
  }

  @Test
  void responsesSubPaths_onlyKnownOnesForwarded() throws IOException {
    simulator = ApimSimulator.builder().backends(1).start();
    String base = simulator.url() + "/openai/v1/responses/";

    List<Integer> unknown = new ArrayList<>();
    for (String path : List.of("resp_1/cancel/now", "resp_1/other", "other", "resp_1//cancel")) {
      unknown.add(send(request(TURN).url(base + path)).status);
    }
    unknown.add(send(new Request.Builder().get().url(base + "resp_1/cancel")).status);
    unknown.add(send(new Request.Builder().post(RequestBody.create("", JSON))
        .url(base + "resp_1/input_items")).status);
    int cancel = send(new Request.Builder().post(RequestBody.create("", JSON)).url(base + "resp_1/cancel")).status;
    int inputItems = send(new Request.Builder().get().url(base + "resp_1/input_items?limit=5")).status;
    int compact = send(request("{\"model\":\"gpt-4.1\",\"input\":\"x\"}").url(base + "compact")).status;
    int count = send(request("{\"input\":\"x\"}").url(base + "input_tokens")).status;

    assertThat(unknown).containsOnly(404);
    assertThat(List.of(cancel, inputItems, compact, count)).containsExactly(404, 404, 200, 200);
    assertThat(simulator.backend("backend-1").stats().requests()).as("the last four were forwarded")
        .isEqualTo(4);
    assertThat(simulator.backend("backend-1").stats().notFoundErrors()).isEqualTo(2);
  }

  @Test
  void loggedRequest_earlierConstructors_leaveTheNewFactsEmpty() {
    LoggedRequest first = new LoggedRequest(1, "GET", "/", null, "b", 200, null, null);
    LoggedRequest second = new LoggedRequest(1, "POST", "/", null, "b", 200, null, null, "resp_1", "resp_2");

    for (LoggedRequest request : List.of(first, second)) {
      assertThat(request.encryptedInputItems()).isZero();
      assertThat(request.carriedEncryptedContent()).isFalse();
      assertThat(request.errorCode()).isNull();
      assertThat(request.refusedEncryptedContent()).isFalse();
      assertThat(request.responseStatus()).isNull();
      assertThat(request.backgroundPoll()).isFalse();
    }
    assertThat(second.previousResponseId()).isEqualTo("resp_1");
    assertThat(new LoggedRequest(2, "POST", "/", null, "b", 400, null, null, null, null, 1,
        "invalid_encrypted_content", null, false).toString())
        .contains("encryptedInputItems=1", "errorCode=invalid_encrypted_content");
  }

  @Test
  void noBackendAvailable_answers503InApimShape() throws IOException {
    simulator = ApimSimulator.builder().backends(2).start();
    simulator.backends().forEach(SimulatedBackend::kill);

    Answer answer = post(TURN, null);

    assertThat(answer.status).isEqualTo(503);
    assertThat(answer.json.get("statusCode").asInt()).isEqualTo(503);
    assertThat(answer.setCookies).isEmpty();
  }

  @Test
  void failNext_withRetryAfter_answersRateLimitedThenRecovers() throws IOException {
    simulator = ApimSimulator.builder().backends(1).start();
    simulator.backend("backend-1").failNext(2, 429, Duration.ofMillis(1500));

    Answer first = post(TURN, null);
    Answer second = post(TURN, null);
    Answer third = post(TURN, null);

    for (Answer limited : List.of(first, second)) {
      assertThat(limited.status).isEqualTo(429);
      assertThat(limited.headers.get("retry-after")).isEqualTo("2");
      assertThat(limited.headers.get("retry-after-ms")).isEqualTo("1500");
      assertThat(limited.headers.get("x-ratelimit-remaining-requests")).isEqualTo("0");
      assertThat(limited.json.at("/error/code").asText()).isEqualTo("429");
      assertThat(limited.json.at("/error/message").asText()).contains("exceeded token rate limit");
    }
    assertThat(third.status).isEqualTo(200);
    assertThat(simulator.backend("backend-1").stats())
        .isEqualTo(new BackendStats(3, 1, 0));
  }

  @Test
  void failNext_serverError_answersOpenAiErrorShape() throws IOException {
    simulator = ApimSimulator.builder().backends(1).start();
    simulator.backend("backend-1").failNext(1, 500);

    Answer failed = post(TURN, null);

    assertThat(failed.status).isEqualTo(500);
    assertThat(failed.json.at("/error/type").asText()).isEqualTo("server_error");
    assertThat(failed.headers.get("retry-after")).isNull();
    assertThat(post(TURN, null).status).isEqualTo(200);
  }

  @Test
  void latency_added_delaysEveryAnswerOfThatBackend() throws IOException {
    simulator = ApimSimulator.builder().backends(1).start();
    simulator.backend("backend-1").latency(Duration.ofMillis(300));

    long start = System.nanoTime();
    post(TURN, null);
    long elapsedMillis = (System.nanoTime() - start) / 1_000_000;

    assertThat(elapsedMillis).isGreaterThanOrEqualTo(300);
  }

  @Test
  void cutNextStreamAfter_dropsConnectionAfterThatManyEvents_onceOnly() throws IOException {
    simulator = ApimSimulator.builder().backends(1).start();
    simulator.backend("backend-1").cutNextStreamAfter(3);
    String streaming = "{\"model\":\"gpt-4.1\",\"input\":\"tell me a story\",\"stream\":true}";

    List<String> events = new ArrayList<>();
    IOException cut = null;
    try (Response response = client.newCall(request(streaming).build()).execute()) {
      BufferedSource source = response.body().source();
      for (String line; (line = source.readUtf8Line()) != null; ) {
        if (line.startsWith("event: ")) {
          events.add(line.substring(7));
        }
      }
    } catch (IOException e) {
      cut = e;
    }
    List<String> whole = streamedEventTypes(streaming);

    assertThat(cut).as("the stream must end with an I/O error, not a clean end").isNotNull();
    assertThat(events).containsExactly(
        "response.created", "response.in_progress", "response.output_item.added");
    assertThat(whole).startsWith("response.created").endsWith("response.completed");
  }

  @Test
  void stats_andRequestLog_recordRoutingPerRequest() throws IOException {
    simulator = ApimSimulator.builder().backends(2).recordRequestBodies(true).start();
    Answer first = post(TURN, null);
    String cookie = cookieValue(first);
    post(continuing(first), cookie);
    post("{\"model\":\"gpt-4.1\",\"input\":\"x\",\"previous_response_id\":\"resp_gone\"}", cookie);

    List<LoggedRequest> log = simulator.requestLog();

    assertThat(log).extracting(LoggedRequest::sequence).containsExactly(1L, 2L, 3L);
    assertThat(log).extracting(LoggedRequest::method).containsOnly("POST");
    assertThat(log).extracting(LoggedRequest::path).containsOnly("/openai/v1/responses");
    assertThat(log).extracting(LoggedRequest::hasAffinityCookie).containsExactly(false, true, true);
    assertThat(log).extracting(LoggedRequest::backend).containsOnly(first.backend);
    assertThat(log).extracting(LoggedRequest::status).containsExactly(200, 200, 400);
    assertThat(log.get(0).issuedCookie()).isEqualTo(cookie);
    assertThat(log.get(1).issuedCookie()).isNull();
    assertThat(log.get(0).body()).isEqualTo(TURN);
    assertThat(simulator.backend(first.backend).stats()).isEqualTo(new BackendStats(3, 2, 1));
    assertThat(log.get(0).toString()).doesNotContain(cookie).contains("#");

    simulator.clearRequestLog();
    assertThat(simulator.requestLog()).isEmpty();
  }

  @Test
  void requestLog_withoutBodies_recordsWhichChainEachRequestContinuedAndWhatItCreated() throws IOException {
    simulator = ApimSimulator.builder().backends(2).start();
    Answer first = post(TURN, null);
    String firstId = first.json.get("id").asText();
    String cookie = cookieValue(first);
    Answer second = post(continuing(first), cookie);
    simulator.backend(first.backend).failNext(1, 429, Duration.ofMillis(10));
    post(continuing(first), cookie);                                      // injected failure
    post("{\"model\":\"gpt-4.1\",\"input\":\"x\",\"previous_response_id\":\"resp_gone\"}", null);
    post("{\"model\":\"gpt-4.1\",\"input\":\"x\",\"previous_response_id\":7}", null);
    post("not json", null);
    simulator.backend(first.backend).cutNextStreamAfter(2);
    String streamed = "{\"model\":\"gpt-4.1\",\"input\":\"go on\",\"stream\":true,"
        + "\"previous_response_id\":\"" + firstId + "\"}";
    assertThatThrownBy(() -> streamedEventTypes(streamed, cookie)).isInstanceOf(IOException.class);

    List<LoggedRequest> log = simulator.requestLog();

    assertThat(log).extracting(LoggedRequest::previousResponseId)
        .containsExactly(null, firstId, firstId, "resp_gone", null, null, firstId);
    assertThat(log.get(0).responseId()).isEqualTo(firstId);
    assertThat(log.get(1).responseId()).isEqualTo(second.json.get("id").asText());
    assertThat(log.subList(2, 6)).extracting(LoggedRequest::responseId).containsOnlyNulls();
    assertThat(log.get(6).responseId()).as("a cut stream's response was made and stored").startsWith("resp_");
    assertThat(log.get(0).toString()).contains(firstId);
  }

  @Test
  void backendCookie_isTheIssuedCookie_elseTheHonouredOne_elseNone() throws IOException {
    simulator = ApimSimulator.builder().backends(2).start();
    Answer first = post(TURN, null);
    String cookie = cookieValue(first);
    post(continuing(first), cookie);
    simulator.backend(first.backend).kill();
    Answer rerouted = post(continuing(first), cookie);
    simulator.backends().forEach(SimulatedBackend::kill);
    post(TURN, cookie);

    List<LoggedRequest> log = simulator.requestLog();

    assertThat(log.get(0).backendCookie()).isEqualTo(cookie);
    assertThat(log.get(1).backendCookie()).isEqualTo(cookie);
    assertThat(log.get(2).backendCookie()).isEqualTo(cookieValue(rerouted)).isNotEqualTo(cookie);
    assertThat(log.get(3).wasRouted()).isFalse();
    assertThat(log.get(3).backendCookie()).isNull();
    assertThat(new LoggedRequest(1, "GET", "/", null, "b", 200, null, null).responseId()).isNull();
  }

  @Test
  void requestLog_withoutRecordRequestBodies_keepsNoBodies_andKeepsOnlyTheLimit() throws IOException {
    simulator = ApimSimulator.builder().backends(1).requestLogLimit(3).start();

    for (int i = 0; i < 5; i++) {
      post(TURN, null);
    }

    assertThat(simulator.requestLog()).extracting(LoggedRequest::sequence).containsExactly(3L, 4L, 5L);
    assertThat(simulator.requestLog()).extracting(LoggedRequest::body).containsOnlyNulls();
  }

  @Test
  void oversizedBody_answered413_withoutForwarding() throws IOException {
    simulator = ApimSimulator.builder().backends(1).start();
    byte[] huge = new byte[Gateway.MAX_BODY_BYTES + 1];

    Answer answer = send(new Request.Builder().url(simulator.openAiBaseUrl() + "/responses")
        .post(RequestBody.create(huge, JSON)));

    assertThat(answer.status).isEqualTo(413);
    assertThat(simulator.backend("backend-1").stats().requests()).isZero();
    assertThat(post(TURN, null).status).isEqualTo(200);
  }

  @Test
  void builder_invalidPools_failWithInstructions() {
    assertThatThrownBy(() -> ApimSimulator.builder().start())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("backends(3)");
    assertThatThrownBy(() -> ApimSimulator.builder()
            .backend(BackendSpec.of("a", "East US")).backend(BackendSpec.of("a", "West US")).start())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("'a'");
    assertThatThrownBy(() -> ApimSimulator.builder().backends(31))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("30");
    assertThatThrownBy(() -> ApimSimulator.builder().cookieName("bad name"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> BackendSpec.of("x", "East US").weight(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> CircuitBreakerRule.builder().build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("statusRange");
  }

  @Test
  void backend_unknownName_failsNamingThePool() {
    simulator = ApimSimulator.builder().backends(2).start();

    assertThatThrownBy(() -> simulator.backend("nope"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("backend-1").hasMessageContaining("backend-2");
  }

  // --- helpers ---

  private static final class Answer {
    int status;
    String backend;
    Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    List<String> setCookies;
    JsonNode json;
  }

  private Request.Builder request(String json) {
    return new Request.Builder().url(simulator.openAiBaseUrl() + "/responses")
        .post(RequestBody.create(json, JSON));
  }

  private Answer post(String json, String cookie) throws IOException {
    Request.Builder request = request(json);
    if (cookie != null) {
      request.header("Cookie", simulator.cookieName() + "=" + cookie);
    }
    return send(request);
  }

  private Answer send(Request.Builder request) throws IOException {
    int logged = simulator.requestLog().size();
    try (Response response = client.newCall(request.build()).execute()) {
      Answer answer = new Answer();
      answer.status = response.code();
      response.headers().names().forEach(name -> answer.headers.put(name, response.header(name)));
      answer.setCookies = response.headers("Set-Cookie");
      String body = response.body().string();
      answer.json = body.isEmpty() ? null : Json.MAPPER.readTree(body);
      List<LoggedRequest> log = simulator.requestLog();
      answer.backend = log.size() > logged ? log.get(log.size() - 1).backend() : null;
      return answer;
    }
  }

  private List<String> streamedEventTypes(String json) throws IOException {
    return streamedEventTypes(json, null);
  }

  private List<String> streamedEventTypes(String json, String cookie) throws IOException {
    List<String> events = new ArrayList<>();
    Request.Builder request = request(json);
    if (cookie != null) {
      request.header("Cookie", simulator.cookieName() + "=" + cookie);
    }
    try (Response response = client.newCall(request.build()).execute()) {
      BufferedSource source = response.body().source();
      for (String line; (line = source.readUtf8Line()) != null; ) {
        if (line.startsWith("event: ")) {
          events.add(line.substring(7));
        }
      }
    }
    return events;
  }

  private static String continuing(Answer previous) {
    return "{\"model\":\"gpt-4.1\",\"input\":\"and then?\",\"previous_response_id\":\""
        + previous.json.get("id").asText() + "\"}";
  }

  private static SimulatedAnswer answerText(Answer answer) {
    return SimulatedAnswer.parse(answer.json.at("/output/0/content/0/text").asText());
  }

  private String cookieValue(Answer answer) {
    assertThat(answer.setCookies).as("Set-Cookie of %s", answer.backend).hasSize(1);
    return Cookie.parse(HttpUrl.get(simulator.url()), answer.setCookies.get(0)).value();
  }

  private static Map<String, Integer> countByBackend(List<String> served) {
    Map<String, Integer> counts = new TreeMap<>();
    served.forEach(name -> counts.merge(name, 1, Integer::sum));
    return counts;
  }
}
