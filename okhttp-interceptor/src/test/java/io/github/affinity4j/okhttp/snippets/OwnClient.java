package io.github.affinity4j.okhttp.snippets;

// snippet: quickstart-interceptor
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.okhttp.RoutingLogInterceptor;

final class OwnClient {
  private final AffinityInterceptor affinity = AffinityInterceptor.builder()
      .cookieNames("APIM-Backend-Affinity")     // the cookie your backend pool is configured with
      .build();
  private final OpenAIClient client;

  OwnClient(String baseUrl, String apiKey) {
    this.client = OpenAIOkHttpClient.builder()
        .baseUrl(baseUrl).apiKey(apiKey)
        .addInterceptor(affinity)                      // after interceptors that add credentials
        .addInterceptor(new RoutingLogInterceptor())   // optional: one line per exchange, SLF4J INFO
        .followRedirects(false)                        // a pin never follows a redirect: docs/security.md
        .build();
  }

  Response twoTurns() {
    Response first = client.responses().create(ResponseCreateParams.builder()
        .model("gpt-4.1").input("Explain photosynthesis in simple terms").build());
    return client.responses().create(ResponseCreateParams.builder()
        .model("gpt-4.1").input("Summarize that for a college freshman")
        .previousResponseId(first.id()).build());     // the interceptor adds first's pin
  }

  AffinityStats stats() {
    return affinity.stats();                           // pins applied and missing, chains, moves
  }

  void close() {
    client.close();
  }
}
// snippet: end
