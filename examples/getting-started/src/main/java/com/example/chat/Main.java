package com.example.chat;

import com.openai.client.OpenAIClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputText;
import io.github.affinity4j.openai.AffinityOpenAI;
import java.util.stream.Collectors;

/**
 * The README's first quick start as a program: two turns of one conversation through a gateway.
 * {@code MainTest} runs it against the embedded APIM simulator; against a real gateway:
 * {@code java -cp … com.example.chat.Main https://my-apim.azure-api.net/inference/openai/v1}
 * with the subscription key in {@code APIM_SUBSCRIPTION_KEY}.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    if (args.length != 1 || System.getenv("APIM_SUBSCRIPTION_KEY") == null) {
      System.err.println("usage: APIM_SUBSCRIPTION_KEY=… java com.example.chat.Main <gateway base URL>");
      System.exit(2);
    }
    System.out.println(twoTurns(args[0], System.getenv("APIM_SUBSCRIPTION_KEY")));
  }

  /** Asks, then follows up on the answer; returns the second answer's text. */
  static String twoTurns(String baseUrl, String subscriptionKey) {
    OpenAIClient client = AffinityOpenAI.builder()
        .baseUrl(baseUrl)
        .apimSubscriptionKey(subscriptionKey)
        .build();
    try {
      Response first = client.responses().create(ResponseCreateParams.builder()
          .model("gpt-4.1").input("Explain photosynthesis in simple terms").build());
      Response second = client.responses().create(ResponseCreateParams.builder()
          .model("gpt-4.1").input("Summarize that for a college freshman")
          .previousResponseId(first.id()).build());   // same backend as first: its pin goes along
      return text(second);
    } finally {
      client.close();
    }
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
}
