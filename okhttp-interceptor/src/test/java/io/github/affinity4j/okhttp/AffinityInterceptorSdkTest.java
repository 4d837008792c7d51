package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.net.CookieManager;
import java.net.CookiePolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.JavaNetCookieJar;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Issue 3's acceptance: the real SDK, with and without the interceptor, against the simulator. */
@Timeout(120)
final class AffinityInterceptorSdkTest {
  private static final String MODEL = "gpt-4.1";
  private static final Pattern MARKER = Pattern.compile("conversation (\\d+), turn (\\d+)");

  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @Test
  void sameWorkload_onlyPerChainAffinity_keepsEveryConversationAndSpreadsThem() {
    simulator = ApimSimulator.builder().backends(3).start();
    OpenAIClient withInterceptor = client(builder().addInterceptor(AffinityInterceptor.builder().build()));
    OpenAIClient withGlobalJar = client(builder().okHttpClient(new OkHttpClient.Builder()
        .cookieJar(new JavaNetCookieJar(new CookieManager(null, CookiePolicy.ACCEPT_ALL)))
        .build()));
    OpenAIClient plain = client(builder());

    Outcome affinity = runSequentially(withInterceptor, 300, 6);
    Outcome globalJar = runSequentially(withGlobalJar, 300, 6);
    Outcome noCookies = runSequentially(plain, 300, 6);

    // affinity4j: every conversation survives with its whole context, spread over the pool.
    assertThat(affinity.survived).isEqualTo(300);
    assertThat(affinity.contextLost).isZero();
    assertThat(affinity.firstTurnShares().values()).hasSize(3).allSatisfy(share ->
        assertThat(share).isBetween(0.25, 0.42));
    assertThat(affinity.switchedBackend).isZero();
    // A process-wide jar keeps them alive but pins all of them to one backend.
    assertThat(globalJar.survived).isEqualTo(300);
    assertThat(globalJar.firstTurnShares()).hasSize(1);
    // The plain SDK breaks every conversation at turn 2.
    assertThat(noCookies.survived).isZero();
    assertThat(noCookies.brokeAtTurn).containsOnlyKeys(2).containsEntry(2, 300);
    assertThat(noCookies.errorCodes).containsOnly("previous_response_not_found");
  }

  @Test
  void asyncClient_interleavedConversations_allSurviveOnTheirBackends() {
    simulator = ApimSimulator.builder().backends(3).start();
    OpenAIClient client = client(builder().addInterceptor(AffinityInterceptor.builder().build()));
    int conversations = 60;
    int turns = 5;

    List<CompletableFuture<List<SimulatedAnswer>>> running = new ArrayList<>();
    for (int c = 0; c < conversations; c++) {
      running.add(asyncConversation(client, c, turns));
    }
    List<List<SimulatedAnswer>> answers = new ArrayList<>();
    running.forEach(future -> answers.add(future.join()));

    Map<String, Integer> firstTurns = new HashMap<>();
    for (List<SimulatedAnswer> conversation : answers) {
      assertThat(conversation).hasSize(turns);
      for (int turn = 1; turn <= turns; turn++) {
        assertThat(conversation.get(turn - 1).userMessages()).isEqualTo(turn);
        assertThat(conversation.get(turn - 1).backend()).isEqualTo(conversation.get(0).backend());
      }
      firstTurns.merge(conversation.get(0).backend(), 1, Integer::sum);
    }
    assertThat(firstTurns).containsOnlyKeys("backend-1", "backend-2", "backend-3");
    assertThat(firstTurns.values()).allSatisfy(n -> assertThat(n).isEqualTo(conversations / 3));
  }

  @Test
  void streamingTurns_idsBoundFromStream_conversationsSurvive() {
    simulator = ApimSimulator.builder().backends(3).start();
    OpenAIClient client = client(builder().addInterceptor(AffinityInterceptor.builder().build()));

    Map<String, Integer> firstTurns = new HashMap<>();
    for (int c = 0; c < 30; c++) {
      String previousId = null;
      String firstBackend = null;
      for (int turn = 1; turn <= 4; turn++) {
        StringBuilder text = new StringBuilder();
        String completedId = null;
        try (StreamResponse<ResponseStreamEvent> stream =
            client.responses().createStreaming(params(c, turn, previousId))) {
          for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) stream.stream()::iterator) {
            event.outputTextDelta().ifPresent(delta -> text.append(delta.delta()));
            if (event.completed().isPresent()) {
              completedId = event.completed().get().response().id();
            }
          }
        }
        SimulatedAnswer answer = SimulatedAnswer.parse(text.toString());
        assertThat(answer.userMessages()).isEqualTo(turn);
        firstBackend = firstBackend == null ? answer.backend() : firstBackend;
        assertThat(answer.backend()).isEqualTo(firstBackend);
        previousId = completedId;
      }
      firstTurns.merge(firstBackend, 1, Integer::sum);
    }
    assertThat(firstTurns.values()).containsOnly(10);
  }

  @Test
  void sdkRetries_pinnedBackendAnswers429Twice_retriesCarrySamePinAndSucceedThere() {
    simulator = ApimSimulator.builder().backends(3).start();
    OpenAIClient client = client(builder().maxRetries(2)
        .addInterceptor(AffinityInterceptor.builder().build()));
    Response first = client.responses().create(params(0, 1, null));
    LoggedRequest created = last(simulator.requestLog());
    simulator.backend(created.backend()).failNext(2, 429, Duration.ofMillis(10));

    Response second = client.responses().create(params(0, 2, first.id()));

    List<LoggedRequest> log = simulator.requestLog();
    List<LoggedRequest> attempts = log.subList(log.size() - 3, log.size());
    assertThat(attempts).extracting(LoggedRequest::status).containsExactly(429, 429, 200);
    assertThat(attempts).extracting(LoggedRequest::affinityCookie).containsOnly(created.issuedCookie());
    assertThat(attempts).extracting(LoggedRequest::backend).containsOnly(created.backend());
    assertThat(SimulatedAnswer.parse(text(second)).userMessages()).isEqualTo(2);
  }

  @Test
  void manyThreads_interleavedConversations_noRequestCarriesAnotherConversationsPin()
      throws InterruptedException {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    OpenAIClient client = client(builder().addInterceptor(AffinityInterceptor.builder().build()));
    int conversations = 500;
    int turns = 4;
    ExecutorService pool = Executors.newFixedThreadPool(32);
    CountDownLatch start = new CountDownLatch(1);
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    try {
      for (int c = 0; c < conversations; c++) {
        int conversation = c;
        pool.execute(() -> {
          try {
            start.await();
            String previousId = null;
            for (int turn = 1; turn <= turns; turn++) {
              Response response = client.responses().create(params(conversation, turn, previousId));
              assertThat(SimulatedAnswer.parse(text(response)).userMessages()).isEqualTo(turn);
              previousId = response.id();
            }
          } catch (Throwable t) {
            failures.add(t);
          }
        });
      }
      start.countDown();
      pool.shutdown();
      assertThat(pool.awaitTermination(100, TimeUnit.SECONDS))
          .as("conversations finished; threads:%n%s", stackDump()).isTrue();
    } finally {
      pool.shutdownNow();
    }
    assertThat(failures).isEmpty();

    Map<Integer, String> issued = new HashMap<>();
    List<LoggedRequest> log = simulator.requestLog();
    for (LoggedRequest request : log) {
      int[] marker = marker(request);
      if (marker[1] == 1) {
        assertThat(request.hasAffinityCookie()).as("first turn %s", request).isFalse();
        issued.put(marker[0], request.issuedCookie());
      }
    }
    assertThat(issued).hasSize(conversations);
    assertThat(new HashSet<>(issued.values())).hasSize(conversations);
    for (LoggedRequest request : log) {
      int[] marker = marker(request);
      if (marker[1] > 1) {
        assertThat(request.affinityCookie())
            .as("turn %d of conversation %d", marker[1], marker[0])
            .isEqualTo(issued.get(marker[0]));
      }
    }
    assertThat(log).hasSize(conversations * turns);
  }

  // --- workload ---

  /** What one client made of the same workload. */
  private static final class Outcome {
    int survived;
    int contextLost;
    int switchedBackend;
    final Map<Integer, Integer> brokeAtTurn = new HashMap<>();
    final Set<String> errorCodes = new HashSet<>();
    final Map<String, Integer> firstTurns = new HashMap<>();

    Map<String, Double> firstTurnShares() {
      int total = firstTurns.values().stream().mapToInt(Integer::intValue).sum();
      Map<String, Double> shares = new HashMap<>();
      firstTurns.forEach((backend, n) -> shares.put(backend, n / (double) total));
      return shares;
    }
  }

  private static Outcome runSequentially(OpenAIClient client, int conversations, int turns) {
    Outcome outcome = new Outcome();
    for (int c = 0; c < conversations; c++) {
      String previousId = null;
      String firstBackend = null;
      boolean survived = true;
      for (int turn = 1; turn <= turns && survived; turn++) {
        try {
          Response response = client.responses().create(params(c, turn, previousId));
          SimulatedAnswer answer = SimulatedAnswer.parse(text(response));
          if (turn == 1) {
            firstBackend = answer.backend();
            outcome.firstTurns.merge(firstBackend, 1, Integer::sum);
          } else if (!answer.backend().equals(firstBackend)) {
            outcome.switchedBackend++;
          }
          if (answer.userMessages() != turn) {
            outcome.contextLost++;
          }
          previousId = response.id();
        } catch (BadRequestException e) {
          survived = false;
          outcome.brokeAtTurn.merge(turn, 1, Integer::sum);
          outcome.errorCodes.add(e.code().orElse("none"));
        }
      }
      if (survived) {
        outcome.survived++;
      }
    }
    return outcome;
  }

  private static CompletableFuture<List<SimulatedAnswer>> asyncConversation(
      OpenAIClient client, int conversation, int turns) {
    CompletableFuture<List<SimulatedAnswer>> chain = CompletableFuture.completedFuture(new ArrayList<>());
    String[] previousId = {null};
    for (int t = 1; t <= turns; t++) {
      int turn = t;
      chain = chain.thenCompose(answers -> client.async().responses()
          .create(params(conversation, turn, previousId[0]))
          .thenApply(response -> {
            previousId[0] = response.id();
            answers.add(SimulatedAnswer.parse(text(response)));
            return answers;
          }));
    }
    return chain;
  }

  private static ResponseCreateParams params(int conversation, int turn, String previousId) {
    ResponseCreateParams.Builder params = ResponseCreateParams.builder()
        .model(MODEL)
        .input("conversation " + conversation + ", turn " + turn);
    if (previousId != null) {
      params.previousResponseId(previousId);
    }
    return params.build();
  }

  private static String text(Response response) {
    return response.output().get(0).asMessage().content().get(0).asOutputText().text();
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  /** {conversation, turn} from the marker in a logged request's input. */
  private static int[] marker(LoggedRequest request) {
    try {
      JsonNode body = JSON.readTree(request.body());
      Matcher matcher = MARKER.matcher(body.get("input").asText());
      assertThat(matcher.matches()).as("marker in %s", request).isTrue();
      return new int[] {Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2))};
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }

  private OpenAIOkHttpClient.Builder builder() {
    return OpenAIOkHttpClient.builder()
        .baseUrl(simulator.openAiBaseUrl())
        .apiKey("test-key")
        .maxRetries(0);
  }

  private OpenAIClient client(OpenAIOkHttpClient.Builder builder) {
    OpenAIClient client = builder.build();
    clients.add(client);
    return client;
  }

  private static <T> T last(List<T> list) {
    return list.get(list.size() - 1);
  }

  private static String stackDump() {
    StringBuilder dump = new StringBuilder();
    Thread.getAllStackTraces().forEach((thread, stack) -> {
      dump.append(thread.getName()).append('\n');
      for (StackTraceElement frame : stack) {
        dump.append("    at ").append(frame).append('\n');
      }
    });
    return dump.toString();
  }
}
