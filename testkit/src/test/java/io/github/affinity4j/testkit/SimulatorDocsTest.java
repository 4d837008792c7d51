package io.github.affinity4j.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.NotFoundException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Runs the snippet of {@code docs/simulator.md}, and checks the page shows it as it runs here. */
@Timeout(30)
final class SimulatorDocsTest {
  private static final Path PAGE = Path.of("..", "docs", "simulator.md");
  private static final Path SOURCE =
      Path.of("src", "test", "java", "io", "github", "affinity4j", "testkit", "SimulatorDocsTest.java");

  @Test
  void snippet_backgroundPollsWithoutCookie_everyOtherOneMissesTheJob() {
    // snippet:start
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
    // snippet:end
  }

  @Test
  void page_snippet_isTheCodeThisTestRuns() throws IOException {
    String page = Files.readString(PAGE);
    String block = page.substring(page.indexOf("```java\n") + "```java\n".length());
    block = block.substring(0, block.indexOf("```"));
    String source = Files.readString(SOURCE);
    String region = source.substring(source.indexOf("// snippet:start\n") + "// snippet:start\n".length(),
        source.indexOf("    // snippet:end"));

    assertThat(block).isEqualTo(dedent(region, 4));
  }

  private static String dedent(String text, int columns) {
    String indent = " ".repeat(columns);
    return Arrays.stream(text.split("\n", -1))
        .map(line -> line.startsWith(indent) ? line.substring(columns) : line.strip())
        .collect(Collectors.joining("\n"));
  }
}
