package io.github.affinity4j.openai.snippets;

// snippet: junit
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.Conversation;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

final class ChatServiceTest {
  private ApimSimulator apim;
  private OpenAIClient client;
  private Conversation chat;

  @BeforeEach
  void start() {
    apim = ApimSimulator.builder().backends(3).start();   // backend-1..3, round-robin, cookie affinity
    client = OpenAIOkHttpClient.builder().baseUrl(apim.openAiBaseUrl()).apiKey("test-key").build();
    chat = AffinityConversations.wrap(client).start(ResponseCreateParams.builder().model("gpt-4.1").build());
  }

  @AfterEach
  void stop() {
    client.close();
    apim.close();
  }

  @Test
  void conversation_keepsItsWholeContext_onOneBackend() {
    chat.send("Hello");
    Response answer = chat.send("What did I say first?");

    String text = answer.output().get(0).asMessage().content().get(0).asOutputText().text();
    assertThat(SimulatedAnswer.parse(text).userMessages()).isEqualTo(2);   // no context lost
    assertThat(apim.requestLog()).extracting(LoggedRequest::backend).containsOnly("backend-1");
  }

  @Test
  void firstTurn_rateLimited_sdkRetriesGoWhereRoundRobinSendsThem() {
    apim.backend("backend-1").failNext(1, 429, Duration.ofMillis(10));   // or kill(), latency(...)
    chat.send("Hello");

    // A first turn carries no pin yet, so the SDK's retry is load-balanced like any new request.
    assertThat(apim.requestLog()).extracting(LoggedRequest::backend, LoggedRequest::status)
        .containsExactly(tuple("backend-1", 429), tuple("backend-2", 200));
  }

  @Test
  void pinnedTurn_rateLimitedTwice_sdkRetriesStayOnItsBackend() {
    chat.send("Hello");                                                  // pinned to backend-1
    apim.backend("backend-1").failNext(2, 429, Duration.ofMillis(10));
    chat.send("And now?");

    assertThat(apim.backend("backend-1").stats().requests()).isEqualTo(4);   // 1 + 429, 429, 200
    assertThat(apim.requestLog()).extracting(LoggedRequest::backend).containsOnly("backend-1");
  }
}
// snippet: end
