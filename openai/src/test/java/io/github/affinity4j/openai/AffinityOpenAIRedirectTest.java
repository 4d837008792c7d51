package io.github.affinity4j.openai;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.errors.OpenAIException;
import com.openai.models.responses.ResponseCreateParams;
import java.io.IOException;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 14, row 2, through {@link AffinityOpenAI}: a gateway that answers a pinned turn with a 307
 * to another origin gets neither the pin nor the subscription key there.
 */
@Timeout(30)
final class AffinityOpenAIRedirectTest {
  private static final String SUBSCRIPTION_KEY = "s3cr3t-subscription";
  private static final String PIN = "s3cr3t-pin";

  private final MockWebServer gateway = new MockWebServer();
  private final MockWebServer elsewhere = new MockWebServer();

  @BeforeEach
  void start() throws IOException {
    gateway.start(InetAddress.getLoopbackAddress(), 0);
    elsewhere.start(InetAddress.getLoopbackAddress(), 0);
  }

  @AfterEach
  void stop() throws IOException {
    gateway.shutdown();
    elsewhere.shutdown();
  }

  @Test
  void defaultClient_redirectToAnotherOrigin_notFollowedSoNothingReachesIt() throws Exception {
    OpenAIClient client = builder().build();

    redirectPinnedTurn(client);

    assertThat(elsewhere.getRequestCount()).isZero();
    client.close();
  }

  @Test
  void callersOkHttpClient_redirectToAnotherOrigin_followedWithoutPinOrSubscriptionKey() throws Exception {
    OpenAIClient client = builder().okHttpClient(new OkHttpClient()).build();

    redirectPinnedTurn(client);

    RecordedRequest redirected = elsewhere.takeRequest(5, TimeUnit.SECONDS);
    assertThat(redirected).isNotNull();
    assertThat(redirected.getHeader("Cookie")).isNull();
    assertThat(redirected.getHeader("Ocp-Apim-Subscription-Key")).isNull();
    assertThat(redirected.getHeader("api-key")).isNull();
    client.close();
  }

  private AffinityOpenAI.Builder builder() {
    return AffinityOpenAI.builder().baseUrl(gateway.url("/openai/v1").toString())
        .apimSubscriptionKey(SUBSCRIPTION_KEY).maxRetries(0);
  }

  /** A first turn that sets the pin, then a pinned turn the gateway answers with a 307. */
  private void redirectPinnedTurn(OpenAIClient client) throws Exception {
    gateway.enqueue(created("resp_1").addHeader("Set-Cookie", "APIM-Backend-Affinity=" + PIN + "; Path=/"));
    gateway.enqueue(new MockResponse().setResponseCode(307)
        .setHeader("Location", elsewhere.url("/steal/v1/responses").toString()));
    elsewhere.enqueue(created("resp_2"));

    client.responses().create(ResponseCreateParams.builder().model("m").input("Hi").build());
    try {
      client.responses().create(ResponseCreateParams.builder().model("m").input("Go on")
          .previousResponseId("resp_1").build());
    } catch (OpenAIException notFollowed) {
      // A 307 the client does not follow reaches the caller as an error.
    }

    RecordedRequest first = gateway.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest pinned = gateway.takeRequest(5, TimeUnit.SECONDS);
    assertThat(first.getHeader("Ocp-Apim-Subscription-Key")).isEqualTo(SUBSCRIPTION_KEY);
    assertThat(pinned.getHeader("Cookie")).isEqualTo("APIM-Backend-Affinity=" + PIN);
    assertThat(pinned.getHeader("Ocp-Apim-Subscription-Key")).isEqualTo(SUBSCRIPTION_KEY);
  }

  private static MockResponse created(String id) {
    return new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("{\"id\":\"" + id + "\",\"object\":\"response\",\"created_at\":1,\"model\":\"m\",\"output\":[],"
            + "\"parallel_tool_calls\":true,\"tool_choice\":\"auto\",\"tools\":[],\"status\":\"completed\"}");
  }
}
