package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputItem;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.MutableClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 18, point 4: a lost backend is learned once. 30 chains over 3 backends; one backend is
 * lost; the next turn of every chain costs one failed request in all, not one per chain pinned to
 * the lost backend: the first such request teaches the process, the others replay at once.
 */
@Timeout(60)
final class LostBackendLearnedOnceTest {
  private static final String LOST = "backend-2";
  private static final int CHAINS = 30;

  private ApimSimulator simulator;
  private OpenAIClient client;

  @AfterEach
  void close() {
    if (client != null) {
      client.close();
    }
    simulator.close();
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(value = PinnedBackendMode.class, names = {"REROUTE", "STRICT"})
  void backendLost_underTenChains_oneFailedRequest_allThirtyGoOnWhole(PinnedBackendMode mode) {
    simulator = ApimSimulator.builder().backends(3).pinnedBackendMode(mode).start();
    // A clock standing still: no probe of the lost pin falls due, however slow the machine.
    AffinityInterceptor interceptor = AffinityInterceptor.builder().retryPause(Duration.ofMillis(1))
        .clock(new MutableClock()).build();
    client = OpenAIOkHttpClient.builder().baseUrl(simulator.openAiBaseUrl()).apiKey("test-key").maxRetries(0)
        .addInterceptor(interceptor).build();
    String[] last = new String[CHAINS];
    int onLost = 0;
    for (int c = 0; c < CHAINS; c++) {
      Response first = client.responses().create(ResponseCreateParams.builder().model("gpt-4.1")
          .input("chain " + c + ", turn 1").build());
      last[c] = first.id();
      onLost += LOST.equals(SimulatedAnswer.parse(text(first)).backend()) ? 1 : 0;
    }
    int before = simulator.requestLog().size();
    simulator.backend(LOST).kill();

    for (int c = 0; c < CHAINS; c++) {
      Response next = client.responses().create(ResponseCreateParams.builder().model("gpt-4.1")
          .input("chain " + c + ", turn 2").previousResponseId(last[c]).build());
      assertThat(SimulatedAnswer.parse(text(next)).userMessages()).as("chain %d whole", c).isEqualTo(2);
    }

    List<LoggedRequest> after = simulator.requestLog().subList(before, simulator.requestLog().size());
    assertThat(onLost).isEqualTo(CHAINS / 3);
    assertThat(after).filteredOn(request -> request.status() >= 400)
        .as("failed requests for a backend lost under %d chains", onLost).hasSize(1);
    assertThat(after).as("one request per chain, one more for the first that met the loss").hasSize(CHAINS + 1);
    assertThat(interceptor.repairStats().breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).as("replayed at once")
        .isEqualTo(mode == PinnedBackendMode.STRICT ? onLost : onLost - 1L);
    assertThat(interceptor.repairStats().repairsSucceeded()).isEqualTo(onLost);
  }

  private static String text(Response response) {
    return response.output().stream().filter(ResponseOutputItem::isMessage).findFirst().orElseThrow()
        .asMessage().content().get(0).asOutputText().text();
  }
}
