package io.github.affinity4j.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
final class AffinityOpenAITest {
  private static final String RESPONSE_JSON = "{\"id\":\"resp_1\",\"object\":\"response\","
      + "\"created_at\":1,\"model\":\"gpt-4.1\",\"output\":[],\"parallel_tool_calls\":true,"
      + "\"tool_choice\":\"auto\",\"tools\":[],\"error\":null,\"incomplete_details\":null,"
      + "\"instructions\":null,\"metadata\":{},\"temperature\":1.0,\"top_p\":1.0}";

  @Test
  void build_onSimulatedPool_conversationsSurviveAndSpread() {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      OpenAIClient client = AffinityOpenAI.builder()
          .baseUrl(apim.openAiBaseUrl())
          .apiKey("test-key")
          .maxRetries(0)
          .interceptor(interceptor)
          .build();
      try {
        Map<String, Integer> firstTurns = new HashMap<>();
        for (int c = 0; c < 30; c++) {
          String previousId = null;
          String backend = null;
          for (int turn = 1; turn <= 4; turn++) {
            ResponseCreateParams.Builder params = ResponseCreateParams.builder()
                .model("gpt-4.1").input("turn " + turn);
            if (previousId != null) {
              params.previousResponseId(previousId);
            }
            Response response = client.responses().create(params.build());
            SimulatedAnswer answer = SimulatedAnswer.parse(
                response.output().get(0).asMessage().content().get(0).asOutputText().text());
            assertThat(answer.userMessages()).isEqualTo(turn);
            backend = backend == null ? answer.backend() : backend;
            assertThat(answer.backend()).isEqualTo(backend);
            previousId = response.id();
          }
          firstTurns.merge(backend, 1, Integer::sum);
        }
        assertThat(firstTurns.values()).containsOnly(10);
        assertThat(interceptor.stats().pinsApplied()).isEqualTo(30 * 3);
      } finally {
        client.close();
      }
    }
  }

  @Test
  void apimSubscriptionKeyOnly_sentAsSubscriptionHeaderAndApiKey_noBearer() throws Exception {
    RecordedRequest request = recordOne(AffinityOpenAI.builder().apimSubscriptionKey("sub-123"));

    assertThat(request.getHeader("Ocp-Apim-Subscription-Key")).isEqualTo("sub-123");
    assertThat(request.getHeader("api-key")).isEqualTo("sub-123");
    assertThat(request.getHeader("Authorization")).isNull();
  }

  @Test
  void apiKeyAndSubscriptionKey_bearerPlusSubscriptionHeader() throws Exception {
    RecordedRequest request =
        recordOne(AffinityOpenAI.builder().apiKey("sk-abc").apimSubscriptionKey("sub-123"));

    assertThat(request.getHeader("Authorization")).isEqualTo("Bearer sk-abc");
    assertThat(request.getHeader("Ocp-Apim-Subscription-Key")).isEqualTo("sub-123");
    assertThat(request.getHeader("api-key")).isNull();
  }

  @Test
  void customize_appliesToSdkBuilder() throws Exception {
    RecordedRequest request = recordOne(AffinityOpenAI.builder().apiKey("sk-abc")
        .customize(sdk -> sdk.putHeader("x-team", "blue")));

    assertThat(request.getHeader("x-team")).isEqualTo("blue");
  }

  @Test
  void build_withoutBaseUrl_failsSayingWhatToSet() {
    assertThatThrownBy(() -> AffinityOpenAI.builder().apiKey("k").build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("baseUrl");
    assertThatThrownBy(() -> AffinityOpenAI.builder().maxRetries(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static RecordedRequest recordOne(AffinityOpenAI.Builder builder)
      throws IOException, InterruptedException {
    try (MockWebServer server = new MockWebServer()) {
      server.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody(RESPONSE_JSON));
      server.start();
      OpenAIClient client = builder.baseUrl(server.url("/v1").toString()).maxRetries(0).build();
      try {
        client.responses().create(ResponseCreateParams.builder().model("gpt-4.1").input("hi").build());
      } finally {
        client.close();
      }
      return server.takeRequest(5, TimeUnit.SECONDS);
    }
  }
}
