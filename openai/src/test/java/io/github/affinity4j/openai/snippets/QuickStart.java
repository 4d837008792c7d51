package io.github.affinity4j.openai.snippets;

// snippet: quickstart-openai
import com.openai.client.OpenAIClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputText;
import io.github.affinity4j.openai.AffinityOpenAI;
import java.util.stream.Collectors;

final class QuickStart {
  private final OpenAIClient client;

  QuickStart(String baseUrl, String subscriptionKey) {
    this.client = AffinityOpenAI.builder()          // one client for the application: thread-safe
        .baseUrl(baseUrl)                            // https://my-apim.azure-api.net/inference/openai/v1
        .apimSubscriptionKey(subscriptionKey)        // or .apiKey(...), .azureCredential(...)
        .build();
  }

  String twoTurns() {
    Response first = client.responses().create(ResponseCreateParams.builder()
        .model("gpt-4.1").input("Explain photosynthesis in simple terms").build());
    Response second = client.responses().create(ResponseCreateParams.builder()
        .model("gpt-4.1").input("Summarize that for a college freshman")
        .previousResponseId(first.id()).build());   // same backend as first: its pin goes along
    return text(second);
  }

  /** A response's text: the text parts of its output messages. */
  static String text(Response response) {
    return response.output().stream()
        .flatMap(item -> item.message().stream())
        .flatMap(message -> message.content().stream())
        .flatMap(content -> content.outputText().stream())
        .map(ResponseOutputText::text)
        .collect(Collectors.joining());
  }

  void close() {
    client.close();
  }
}
// snippet: end
