package io.github.affinity4j.examples;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.HttpResponseFor;
import com.openai.errors.BadRequestException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityOpenAI;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The session-awareness scenario on the embedded simulator: a round-robin pool of three
 * Responses API backends behind a gateway with cookie affinity.
 *
 * <ol>
 *   <li>The plain OpenAI SDK keeps no cookies, so the second turn lands on another backend and
 *       fails with {@code previous_response_not_found}.
 *   <li>Sending the gateway's affinity cookie back by hand keeps all five turns on one backend.
 *   <li>affinity4j's {@link AffinityInterceptor} does that per response chain: every conversation
 *       stays on its backend, and new conversations still spread over the pool.
 * </ol>
 */
final class SessionAffinityDemo {
  private static final String MODEL = "gpt-4.1";
  private static final List<String> TURNS = List.of(
      "Explain photosynthesis in simple terms",
      "Summarize that for a college freshman",
      "Now in one sentence",
      "Translate it to French",
      "Thanks! What did I ask first?");

  private final PrintStream out;

  SessionAffinityDemo(PrintStream out) {
    this.out = out;
  }

  int run() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      OpenAIClient client = OpenAIOkHttpClient.builder()
          .baseUrl(apim.openAiBaseUrl())
          .apiKey("demo-key-not-a-secret")
          .maxRetries(0)
          .build();
      try {
        out.println("APIM simulator on " + apim.url() + ": 3 backends, round-robin, cookie "
            + apim.cookieName());
        out.println();
        boolean plainBroke = plainSdk(client);
        out.println();
        boolean cookieKept = cookieSentBack(client, apim.cookieName());
        out.println();
        boolean affinityKept = withAffinity4j(apim);
        out.println();
        boolean expected = plainBroke && cookieKept && affinityKept;
        out.println(expected
            ? "Result: without the cookie the chain breaks at turn 2; with it, all "
                + TURNS.size() + " turns stay on one backend; affinity4j keeps every conversation"
                + " on its own backend and spreads conversations over the pool."
            : "Result: UNEXPECTED, see above.");
        return expected ? 0 : 1;
      } finally {
        client.close();
      }
    }
  }

  /** Returns true when the second turn failed with previous_response_not_found, as expected. */
  private boolean plainSdk(OpenAIClient client) {
    out.println("1) Plain SDK, no cookies");
    HttpResponseFor<Response> first = client.responses().withRawResponse()
        .create(params(TURNS.get(0), null, null));
    print(1, first);
    try {
      HttpResponseFor<Response> second = client.responses().withRawResponse()
          .create(params(TURNS.get(1), first.parse().id(), null));
      print(2, second);
      return false;
    } catch (BadRequestException e) {
      out.printf("   turn 2 -> HTTP %d %s: %s%n", e.statusCode(), e.code().orElse("?"),
          e.getMessage());
      return "previous_response_not_found".equals(e.code().orElse(null));
    }
  }

  /** Returns true when every turn succeeded on one backend with the whole context. */
  private boolean cookieSentBack(OpenAIClient client, String cookieName) {
    out.println("2) Same SDK, affinity cookie captured from Set-Cookie and sent back");
    String cookie = null;
    String previousId = null;
    String firstRegion = null;
    boolean ok = true;
    for (int turn = 1; turn <= TURNS.size(); turn++) {
      HttpResponseFor<Response> raw = client.responses().withRawResponse()
          .create(params(TURNS.get(turn - 1), previousId, cookie));
      for (String setCookie : raw.headers().values("Set-Cookie")) {
        if (setCookie.startsWith(cookieName + "=")) {
          cookie = setCookie.substring(0, setCookie.indexOf(';'));
        }
      }
      SimulatedAnswer answer = print(turn, raw);
      String region = raw.headers().values("x-backend-region").stream().findFirst().orElse("?");
      firstRegion = firstRegion == null ? region : firstRegion;
      ok &= answer.userMessages() == turn && region.equals(firstRegion);
      previousId = raw.parse().id();
    }
    return ok;
  }

  /** Returns true when 6 conversations all survive, each on one backend, over all 3 backends. */
  private boolean withAffinity4j(ApimSimulator apim) {
    out.println("3) affinity4j: AffinityOpenAI.builder() (the SDK with AffinityInterceptor), 6 conversations");
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    OpenAIClient client = AffinityOpenAI.builder()
        .baseUrl(apim.openAiBaseUrl())
        .apiKey("demo-key-not-a-secret")
        .maxRetries(0)
        .interceptor(interceptor)
        .build();
    Map<String, Integer> conversationsPerBackend = new TreeMap<>();
    boolean ok = true;
    try {
      for (int conversation = 1; conversation <= 6; conversation++) {
        String previousId = null;
        StringBuilder route = new StringBuilder();
        String backend = null;
        for (int turn = 1; turn <= TURNS.size(); turn++) {
          Response response = client.responses().create(params(TURNS.get(turn - 1), previousId, null));
          SimulatedAnswer answer = SimulatedAnswer.parse(text(response));
          backend = backend == null ? answer.backend() : backend;
          ok &= answer.userMessages() == turn && answer.backend().equals(backend);
          route.append(turn == 1 ? "" : " ").append(answer.backend().replace("backend-", "b"));
          previousId = response.id();
        }
        conversationsPerBackend.merge(backend, 1, Integer::sum);
        out.printf("   conversation %d: %d turns on %s%n", conversation, TURNS.size(), route);
      }
    } finally {
      client.close();
    }
    out.println("   conversations per backend: " + conversationsPerBackend
        + "; pins applied: " + interceptor.stats().pinsApplied());
    return ok && conversationsPerBackend.size() == 3;
  }

  private static String text(Response response) {
    return response.output().get(0).asMessage().content().get(0).asOutputText().text();
  }

  private SimulatedAnswer print(int turn, HttpResponseFor<Response> raw) {
    SimulatedAnswer answer = SimulatedAnswer.parse(text(raw.parse()));
    out.printf("   turn %d -> %s (%s), %d user message%s in context%n", turn, answer.backend(),
        answer.region(), answer.userMessages(), answer.userMessages() == 1 ? "" : "s");
    return answer;
  }

  private static ResponseCreateParams params(String input, String previousId, String cookie) {
    ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(MODEL).input(input);
    if (previousId != null) {
      params.previousResponseId(previousId);
    }
    if (cookie != null) {
      params.putAdditionalHeader("Cookie", cookie);
    }
    return params.build();
  }
}
