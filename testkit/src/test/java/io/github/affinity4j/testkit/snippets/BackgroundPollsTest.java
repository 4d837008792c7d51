package io.github.affinity4j.testkit.snippets;

// snippet: background-polls
import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.NotFoundException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStatus;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

final class BackgroundPollsTest {
  @Test
  void plainSdk_backgroundPollsWithoutCookie_everyOtherOneMissesTheJob() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      OpenAIClient client = OpenAIOkHttpClient.builder()
          .baseUrl(apim.openAiBaseUrl()).apiKey("test").maxRetries(0).build();
      Response queued = client.responses().create(ResponseCreateParams.builder()
          .model("gpt-4.1").input("Summarize the report").background(true).build());

      // The SDK keeps no cookie, so every other poll lands on the backend that does not hold the job.
      List<String> seen = new ArrayList<>();
      for (int poll = 0; poll < 4; poll++) {
        try {
          seen.add(client.responses().retrieve(queued.id()).status().orElseThrow().asString());
        } catch (NotFoundException e) {
          seen.add("404");
        }
      }
      client.close();

      assertThat(queued.status()).hasValue(ResponseStatus.QUEUED);
      assertThat(seen).containsExactly("404", "in_progress", "404", "completed");
      assertThat(apim.requestLog()).filteredOn(LoggedRequest::backgroundPoll).hasSize(2);
    }
  }
}
// snippet: end
