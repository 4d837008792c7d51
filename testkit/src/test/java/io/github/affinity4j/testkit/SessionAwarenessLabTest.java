package io.github.affinity4j.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.errors.BadRequestException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputItem;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The reference session-awareness lab's scenario: a round-robin pool of three stateful Responses
 * API backends behind a gateway with cookie-based session affinity. A multi-turn conversation
 * chained by {@code previous_response_id} only works when the client sends the affinity cookie
 * back.
 */
@Timeout(30)
final class SessionAwarenessLabTest {
  private static final String MODEL = "gpt-4.1";

  private ApimSimulator sim;
  private OpenAIClient client;

  @BeforeEach
  void start() {
    sim = ApimSimulator.builder().backends(3).sessionAffinity(true).start();
    // The SDK's HTTP client keeps no cookies: exactly the client the lab starts with.
    client = OpenAIOkHttpClient.builder()
        .baseUrl(sim.openAiBaseUrl())
        .apiKey("test-key")
        .maxRetries(0)
        .timeout(Duration.ofSeconds(10))
        .build();
  }

  @AfterEach
  void close() {
    client.close();
    sim.close();
  }

  @Test
  void secondTurn_withoutCookie_failsWithPreviousResponseNotFound() {
    Response first = client.responses().create(turn(1).build());

    assertThatThrownBy(() -> client.responses().create(
            turn(2).previousResponseId(first.id()).build()))
        .isInstanceOfSatisfying(BadRequestException.class, e -> {
          assertThat(e.code()).hasValue("previous_response_not_found");
          assertThat(e.param()).hasValue("previous_response_id");
        });
    assertThat(answer(first).userMessages()).isEqualTo(1);
    assertThat(sim.requestLog()).extracting(LoggedRequest::backend)
        .containsExactly("backend-1", "backend-2");
    assertThat(sim.requestLog()).noneMatch(LoggedRequest::hasAffinityCookie);
  }

  @Test
  void fiveTurns_withCookieSentBack_stayOnOneBackendWithFullContext() {
    String cookie;
    String region;
    String previous;
    try (HttpResponseFor<Response> raw = client.responses().withRawResponse().create(turn(1).build())) {
      List<String> setCookies = raw.headers().values("Set-Cookie");
      assertThat(setCookies).hasSize(1);
      cookie = setCookies.get(0).split(";", 2)[0];
      region = raw.headers().values("x-backend-region").get(0);
      Response first = raw.parse();
      assertThat(answer(first).userMessages()).isEqualTo(1);
      previous = first.id();
    }
    assertThat(cookie).startsWith(sim.cookieName() + "=");

    List<String> regions = new ArrayList<>(List.of(region));
    for (int turn = 2; turn <= 5; turn++) {
      try (HttpResponseFor<Response> raw = client.responses().withRawResponse().create(turn(turn)
          .previousResponseId(previous)
          .putAdditionalHeader("Cookie", cookie)
          .build())) {
        Response response = raw.parse();
        SimulatedAnswer answer = answer(response);

        assertThat(answer.userMessages()).as("turn %d", turn).isEqualTo(turn);
        assertThat(answer.lastUserMessage()).isEqualTo("turn " + turn);
        assertThat(raw.headers().values("Set-Cookie")).as("turn %d", turn).isEmpty();
        regions.add(raw.headers().values("x-backend-region").get(0));
        previous = response.id();
      }
    }

    List<LoggedRequest> log = sim.requestLog();
    assertThat(regions).hasSize(5).containsOnly(region);
    assertThat(log).hasSize(5).extracting(LoggedRequest::status).containsOnly(200);
    assertThat(log).extracting(LoggedRequest::backend).containsOnly(log.get(0).backend());
    assertThat(sim.backend(log.get(0).backend()).region()).isEqualTo(region);
    assertThat(log.subList(1, 5)).allMatch(LoggedRequest::hasAffinityCookie);
    assertThat(sim.pinnedBackend(cookie.substring(cookie.indexOf('=') + 1)))
        .hasValueSatisfying(backend -> assertThat(backend.name()).isEqualTo(log.get(0).backend()));
  }

  private static ResponseCreateParams.Builder turn(int turn) {
    return ResponseCreateParams.builder().model(MODEL).input("turn " + turn);
  }

  private static SimulatedAnswer answer(Response response) {
    List<ResponseOutputItem> output = response.validate().output();
    return SimulatedAnswer.parse(
        output.get(output.size() - 1).asMessage().content().get(0).asOutputText().text());
  }
}
