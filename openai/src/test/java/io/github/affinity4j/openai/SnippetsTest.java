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
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputText;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.DocSnippets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The docs' snippets of the conversation wrapper, compiled and run against the simulator (as
 * Caffeine's {@code Snippets.java}); each page shows its snippet word for word ({@link DocSnippets}).
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
        // snippet: conversations
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
        String text = second.output().stream()                             // the answer's text
            .flatMap(item -> item.message().stream())
            .flatMap(message -> message.content().stream())
            .flatMap(content -> content.outputText().stream())
            .map(ResponseOutputText::text)
            .collect(Collectors.joining());
        // snippet: end

        assertThat(text).isEqualTo(text(second));
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

  @Test
  void docs_statelessConversation_resendsItsItemsPinned() {
    try (ApimSimulator simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start()) {
      OpenAIClient client = OpenAIOkHttpClient.builder()
          .baseUrl(simulator.openAiBaseUrl()).apiKey("test-key").maxRetries(0).build();
      try {
        AffinityConversations conversations = AffinityConversations.wrap(client);
        // snippet: stateless
        Conversation agent = conversations.start(ResponseCreateParams.builder()
            .model("o4-mini")
            .store(false)                                                   // stateless
            .addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT)     // reasoning kept between turns
            .build());
        agent.send("Plan the migration in three steps");
        agent.send("Now the second step in detail");                        // resends the first turn's items, pinned
        List<ResponseInputItem> items = agent.history();                    // what it keeps and resends
        // snippet: end

        assertThat(items).hasSize(6).filteredOn(ResponseInputItem::isReasoning).hasSize(2);
        List<LoggedRequest> log = simulator.requestLog();
        assertThat(log).hasSize(2);
        assertThat(log.get(1).hasAffinityCookie()).isTrue();
        assertThat(log.get(1).body()).contains("Plan the migration", "encrypted_content")
            .doesNotContain("previous_response_id");
      } finally {
        client.close();
      }
    }
  }

  @Test
  void docs_backgroundTurn_returnsTheFinishedResponse() {
    try (ApimSimulator simulator = ApimSimulator.builder().backends(3).backgroundCompletesOnPoll(2).start()) {
      OpenAIClient client = OpenAIOkHttpClient.builder()
          .baseUrl(simulator.openAiBaseUrl()).apiKey("test-key").maxRetries(0).build();
      try {
        // snippet: background
        AffinityConversations jobs = AffinityConversations.builder()
            .client(client)
            .defaults(ResponseCreateParams.builder().model("o3").background(true).build())
            .backgroundPollInterval(Duration.ofSeconds(2))
            .build();
        Response report = jobs.start().send("Write the quarterly report");   // returns once it is completed
        // snippet: end

        assertThat(report.status()).contains(ResponseStatus.COMPLETED);
        assertThat(simulator.requestLog()).filteredOn(LoggedRequest::backgroundPoll).as("polls, pinned").hasSize(2);
      } finally {
        client.close();
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"conversations", "stateless", "background"})
  void docsConversationsPage_showsTheCodeTheseTestsRun(String snippet) {
    assertThat(DocSnippets.inPage(DocSnippets.page("docs/conversations.md"), snippet))
        .isEqualTo(DocSnippets.inSource(DocSnippets.testSource(SnippetsTest.class), snippet));
  }

  private static String lookUpWeather(String arguments) {
    return "18 C and sunny";
  }
}
