package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The README's snippets, compiled and run against the simulator (as Caffeine's
 * {@code Snippets.java}). The text between a {@code README:} line and its {@code end} line is in
 * the README word for word; keep them the same.
 */
@Timeout(60)
final class SnippetsTest {

  @Test
  void readme_conversationsOnAClientYouAlreadyHave_runAsShown() {
    try (ApimSimulator simulator = ApimSimulator.builder().backends(3).start()) {
      OpenAIClient client = OpenAIOkHttpClient.builder()
          .baseUrl(simulator.openAiBaseUrl()).apiKey("test-key").maxRetries(0).build();
      FunctionTool getWeather = FunctionTool.builder()
          .name("get_weather")
          .parameters(FunctionTool.Parameters.builder()
              .putAdditionalProperty("type", JsonValue.from("object"))
              .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"))))
              .build())
          .strict(false)
          .build();
      try {
        // README: conversations on a client you already have
        AffinityConversations conversations = AffinityConversations.builder()
            .client(client)                    // as it is: no interceptor or cookie jar needed
            .defaults(ResponseCreateParams.builder().model("gpt-4.1").addTool(getWeather).build())
            .build();
        Conversation chat = conversations.start();
        Response first = chat.send("Explain photosynthesis in simple terms");
        Response second = chat.send("Summarize that for a college freshman");   // same backend, by its pin

        chat.send("What does get_weather say for Paris?");
        while (!chat.pendingToolCalls().isEmpty()) {                              // function calling
          Map<String, String> outputs = new HashMap<>();
          for (ResponseFunctionToolCall call : chat.pendingToolCalls()) {
            outputs.put(call.callId(), lookUpWeather(call.arguments()));
          }
          chat.submitToolOutputs(outputs);
        }

        try (StreamResponse<ResponseStreamEvent> events = chat.stream("And in Lyon?")) {  // streaming
          events.stream().flatMap(event -> event.outputTextDelta().stream())
              .forEach(delta -> System.out.print(delta.delta()));
        }
        Conversation branch = chat.fork();        // same pin, its own turns from here on
        String id = chat.lastResponseId().orElseThrow();   // later: conversations.resume(id)
        RoutingInfo routing = chat.routing();              // region, request ids, rate limits left
        // end

        SimulatedAnswer answer = SimulatedAnswer.parse(text(second));
        assertThat(answer.userMessages()).isEqualTo(2);
        assertThat(answer.backend()).isEqualTo(SimulatedAnswer.parse(text(first)).backend());
        assertThat(chat.history()).extracting(item -> item.isFunctionCallOutput()).containsOnlyOnce(true);
        List<ResponseInputItem> history = chat.history();
        SimulatedAnswer streamed = SimulatedAnswer.parse(history.get(history.size() - 1).asResponseOutputMessage()
            .content().get(0).asOutputText().text());
        assertThat(streamed.userMessages()).isEqualTo(4);
        assertThat(streamed.lastUserMessage()).isEqualTo("And in Lyon?");
        assertThat(streamed.backend()).isEqualTo(answer.backend());
        assertThat(SimulatedAnswer.parse(text(branch.send("Thanks")))).satisfies(next -> {
          assertThat(next.userMessages()).isEqualTo(5);
          assertThat(next.backend()).isEqualTo(answer.backend());
        });
        assertThat(conversations.resume(id).lastResponseId()).contains(id);
        assertThat(routing.region()).isEqualTo(answer.region());
        assertThat(simulator.requestLog()).hasSize(6).filteredOn(LoggedRequest::hasAffinityCookie).hasSize(5);
      } finally {
        client.close();
      }
    }
  }

  private static String lookUpWeather(String arguments) {
    return "18 C and sunny";
  }
}
