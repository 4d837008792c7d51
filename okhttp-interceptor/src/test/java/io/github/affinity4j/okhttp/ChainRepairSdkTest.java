package io.github.affinity4j.okhttp;

import static java.util.stream.Collectors.counting;
import static java.util.stream.Collectors.groupingBy;
import static java.util.stream.Collectors.toList;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.ObjectMappers;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.InternalServerException;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.Reasoning;
import com.openai.models.ReasoningEffort;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.CircuitBreakerRule;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.MutableClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 4's acceptance: chains broken by a lost backend are repaired once each, by the real SDK
 * (sync, async, streaming) through {@link AffinityInterceptor}, against the simulator. Every
 * count of repairs is checked twice: by the interceptor's listener and stats, and by the
 * simulator's request log (a replay is a continued turn sent without {@code previous_response_id}).
 */
@Timeout(120)
final class ChainRepairSdkTest {
  private static final String MODEL = "gpt-4.1";
  private static final String LOST = "backend-2";
  private static final Pattern MARKER = Pattern.compile("conversation (\\d+), turn (\\d+)");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<OpenAIClient> clients = new ArrayList<>();
  private final RecordingListener listener = new RecordingListener();
  private ExecutorService threads;
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (threads != null) {
      threads.shutdownNow();
    }
    if (simulator != null) {
      simulator.close();
    }
  }

  // --- 1, 2: a backend lost mid-conversation ---

  @Test
  void backendKilled_reroute_eachConversationOnItRepairedOnceAndNoOtherReplayed() {
    simulator = simulator().start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 0);

    Run run = run(100, 8, sync(client, 4), outage(() -> simulator.backend(LOST).kill(),
        () -> simulator.backend(LOST).revive()));

    Set<Integer> victims = assertRepairedOnceEach(run, 5, interceptor.repairStats());
    RepairStats stats = interceptor.repairStats();
    // The error came with the gateway's new cookie: it re-routed, so a retry on the stale pin
    // would be re-routed again. The replay goes at once; and the backend is learned lost, so the
    // other conversations on it replay without a doomed request (at most one per thread, sent
    // before the first answer taught the process).
    long metTheLoss = stats.breaks(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertThat(metTheLoss).isBetween(1L, 4L);
    assertThat(stats.breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).isEqualTo(victims.size() - metTheLoss);
    assertThat(stats.retries()).isZero();
    assertThat(requests(5)).hasSize(100 + (int) metTheLoss);
    System.out.printf("REROUTE, backend killed: %d of 100 conversations repaired; %s%n", victims.size(),
        stats);
  }

  @Test
  void backendKilled_strict_eachConversationOnItRepairedOnceByReplayAlone() {
    simulator = simulator().pinnedBackendMode(PinnedBackendMode.STRICT).start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 0);

    Run run = run(100, 8, sync(client, 4), outage(() -> simulator.backend(LOST).kill(),
        () -> simulator.backend(LOST).revive()));

    Set<Integer> victims = assertRepairedOnceEach(run, 5, interceptor.repairStats());
    RepairStats stats = interceptor.repairStats();
    assertThat(stats.breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).isEqualTo(victims.size());
    assertThat(stats.retries()).as("waiting brings no backend back: no retry on the pin").isZero();
    // Learned lost from the first 503: the other conversations on it replay at once.
    List<Sent> refused = requests(5).stream().filter(r -> r.request.status() == 503).collect(toList());
    assertThat(refused).hasSizeBetween(1, 4).allSatisfy(r -> assertThat(r.request.wasRouted()).isFalse());
    assertThat(requests(5)).hasSize(100 + refused.size());
    System.out.printf("STRICT, backend killed: %d of 100 conversations repaired; %s%n", victims.size(),
        stats);
  }

  /**
   * A plain 500 from the pinned backend is not a chain break (ChainBreaks: only 502, 503, 504 and
   * not-found are): the backend answered and still holds the chain, so the interceptor passes the
   * 500 on and the SDK retries it. Once the gateway's breaker opens, the next attempt is re-routed
   * (not found) or refused (503), and that is repaired.
   */
  @ParameterizedTest
  @EnumSource(PinnedBackendMode.class)
  void breakerTrippedBy500s_sdkRetriesThe500s_eachConversationOnItRepairedOnce(PinnedBackendMode mode) {
    TestClock clock = new TestClock();
    simulator = simulator().pinnedBackendMode(mode).clock(clock)
        .circuitBreaker(CircuitBreakerRule.builder().count(3).statusRange(500, 599)
            .interval(Duration.ofMinutes(1)).tripDuration(Duration.ofMinutes(1)).build())
        .start();
    AffinityInterceptor interceptor = interceptor().build();
    // Three 500s trip the breaker; the SDK's fourth attempt meets the open breaker.
    OpenAIClient client = client(interceptor, 3);

    // One thread: a turn served by backend-2 while its third 500 is being counted would not break.
    Run run = run(60, 8, sync(client, 1), outage(
        () -> simulator.backend(LOST).failNext(3, 500, Duration.ofMillis(1)),
        () -> clock.advance(Duration.ofMinutes(2))));

    Set<Integer> victims = assertRepairedOnceEach(run, 5, interceptor.repairStats());
    RepairStats stats = interceptor.repairStats();
    // The SDK sent the first victim's turn 5 four times: three 500s, then the repaired attempt.
    assertThat(requests(5)).filteredOn(r -> r.request.status() == 500)
        .hasSize(3)
        .allSatisfy(r -> {
          assertThat(r.conversation).isEqualTo(victims.stream().min(Integer::compare).orElseThrow());
          assertThat(r.request.backend()).isEqualTo(LOST);
          assertThat(r.continues).isTrue();
        });
    assertThat(stats.breaks()).as("the 500s are not breaks").isEqualTo(victims.size());
    // The first victim's break teaches the process; the others replay at once (BACKEND_UNAVAILABLE).
    if (mode == PinnedBackendMode.STRICT) {
      assertThat(stats.breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).isEqualTo(victims.size());
    } else {
      assertThat(stats.breaks(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND)).isEqualTo(1);
      assertThat(stats.breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).isEqualTo(victims.size() - 1L);
    }
    assertThat(simulator.backend(LOST).isCircuitOpen()).isFalse();
    System.out.printf("%s, breaker tripped by 500s: %d of 60 conversations repaired; %s%n", mode,
        victims.size(), stats);
  }

  // --- 3: no affinity at all ---

  @Test
  void roundRobinWithoutAffinity_everyTurnSurvives_atMostOneRepairPerContinuedTurn() {
    simulator = simulator().sessionAffinity(false).start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 0);
    int conversations = 61;
    int turns = 8;

    run(conversations, turns, sync(client, 4), turn -> { });

    RepairStats stats = interceptor.repairStats();
    int continued = conversations * (turns - 1);
    int sent = simulator.requestLog().size();
    System.out.printf("Affinity off, round-robin over 3: %d repairs (%d by the retry reaching"
            + " the chain's backend, %d by replay) for %d continued turns; %d requests for %d turns%n",
        stats.repairsSucceeded(), stats.repairsSucceeded() - stats.replays(), stats.replays(), continued,
        sent, conversations * turns);
    assertThat(stats.repairsFailed()).isZero();
    assertThat(stats.repairsSucceeded()).isEqualTo(stats.breaks()).isEqualTo(listener.repaired.size());
    // Round-robin sends an unpinned turn to the chain's backend about one time in three, so most
    // continued turns break; the engine repairs each at most once, with at most a retry and a replay.
    assertThat(stats.breaks()).isPositive().isLessThanOrEqualTo(continued);
    assertThat(stats.retries()).isLessThanOrEqualTo(stats.breaks());
    assertThat(stats.replays()).isLessThanOrEqualTo(stats.breaks());
    assertThat(sent).isEqualTo(conversations * turns + stats.retries() + stats.replays());
    assertThat(requests(0).stream().filter(r -> !r.continues && r.turn > 1).count())
        .isEqualTo(stats.replays());
  }

  // --- 4: tool calls and reasoning ---

  @Test
  void functionCallAndReasoning_backendLost_replayIsWholePairedAndFreeOfForeignIds() {
    simulator = simulator().start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 0);

    // Turn 1 has reasoning without encrypted_content: it lives on the lost backend alone.
    Response first = client.responses().create(toolParams(false)
        .input("What does get_weather say for Paris?").build());
    ResponseOutputItem call = first.output().stream().filter(ResponseOutputItem::isFunctionCall)
        .findFirst().orElseThrow();
    Response second = client.responses().create(toolParams(true).previousResponseId(first.id())
        .inputOfResponse(List.of(ResponseInputItem.ofFunctionCallOutput(
            ResponseInputItem.FunctionCallOutput.builder()
                .callId(call.asFunctionCall().callId()).output("18 C and sunny").build())))
        .build());
    assertThat(SimulatedAnswer.parse(text(second)).toolOutput()).isEqualTo("18 C and sunny");
    Response third = client.responses().create(toolParams(true).previousResponseId(second.id())
        .input("And in Lyon?").build());
    String home = SimulatedAnswer.parse(text(third)).backend();
    Set<String> foreignIds = new HashSet<>();
    for (Response response : List.of(first, second, third)) {
      foreignIds.add(response.id());
      response.output().forEach(item -> foreignIds.add(itemId(item)));
    }
    simulator.backend(home).kill();
    simulator.clearRequestLog();

    Response fourth = client.responses().create(toolParams(true).previousResponseId(third.id())
        .input("Summarize.").build());

    SimulatedAnswer answer = SimulatedAnswer.parse(text(fourth));
    assertThat(answer.userMessages()).isEqualTo(3);
    assertThat(answer.backend()).isNotEqualTo(home);
    List<LoggedRequest> log = simulator.requestLog();
    assertThat(log).extracting(LoggedRequest::status).containsExactly(400, 200);
    LoggedRequest replay = log.get(1);
    assertThat(replay.hasAffinityCookie()).isFalse();
    assertThat(log.get(0).hasAffinityCookie()).isTrue();
    ObjectNode original = (ObjectNode) json(log.get(0).body());
    ObjectNode replayed = (ObjectNode) json(replay.body());

    assertThat(replayed.has("previous_response_id")).isFalse();
    assertThat(replayed.get("model").asText()).isEqualTo(MODEL);
    assertThat(replayed.get("instructions").asText()).isEqualTo("Answer in one line.");
    assertThat(replayed.get("tools").get(0).get("name").asText()).isEqualTo("get_weather");
    assertThat(replayed.get("include").get(0).asText()).isEqualTo("reasoning.encrypted_content");
    assertThat(without(replayed, "input")).isEqualTo(without(original, "input", "previous_response_id"));
    for (String id : foreignIds) {
      assertThat(replay.body()).as("replay carries no id the lost backend issued").doesNotContain(id);
    }
    List<JsonNode> input = new ArrayList<>();
    replayed.get("input").forEach(input::add);
    assertThat(input).allSatisfy(item -> assertThat(item.has("id")).as("item %s", item).isFalse());
    assertThat(input).extracting(item -> item.path("type").asText() + "/" + item.path("role").asText(""))
        .as("every reasoning item left out: encrypted reasoning is bound to the lost backend")
        .containsExactly("message/user", "function_call/", "function_call_output/",
            "message/assistant", "message/user", "message/assistant", "message/user");
    assertThat(input.get(2).get("call_id")).isEqualTo(input.get(1).get("call_id"));
    assertThat(input.get(1).get("call_id").asText()).isEqualTo(call.asFunctionCall().callId());
    assertThat(replay.body()).doesNotContain("\"encrypted_content\"");
    assertThat(listener.repaired).singleElement().satisfies(repair -> {
      assertThat(repair.chain().id()).isEqualTo(third.id());
      assertThat(repair.replayed()).isTrue();
      assertThat(repair.itemsReplayed()).isEqualTo(6); // nine journaled, the three reasoning items left out
      assertThat(repair.reasoningLeftOut()).isEqualTo(3);
    });

    // The repaired chain goes on where the replay went, with nothing lost.
    Response fifth = client.responses().create(toolParams(true).previousResponseId(fourth.id())
        .input("Thanks.").build());
    assertThat(SimulatedAnswer.parse(text(fifth)).userMessages()).isEqualTo(4);
    assertThat(SimulatedAnswer.parse(text(fifth)).backend()).isEqualTo(answer.backend());
    assertThat(interceptor.repairStats().replays()).isEqualTo(1);
  }

  // --- 5: streaming ---

  @Test
  void streamingTurn_chainBroken_repairedBeforeFirstEventStreamWholeAndJournaled() {
    simulator = simulator().start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 0);
    Response first = client.responses().create(params(0, 1, null));
    String home = SimulatedAnswer.parse(text(first)).backend();
    simulator.backend(home).kill();
    simulator.clearRequestLog();

    List<JsonNode> events = new ArrayList<>();
    StringBuilder deltas = new StringBuilder();
    int repairsAtFirstEvent = -1;
    try (StreamResponse<ResponseStreamEvent> stream =
        client.responses().createStreaming(params(0, 2, first.id()))) {
      for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) stream.stream()::iterator) {
        if (events.isEmpty()) {
          repairsAtFirstEvent = listener.repaired.size();
        }
        events.add(ObjectMappers.jsonMapper().valueToTree(event._json().orElseThrow()));
        event.outputTextDelta().ifPresent(delta -> deltas.append(delta.delta()));
      }
    }

    assertThat(repairsAtFirstEvent).isEqualTo(1);
    assertThat(simulator.requestLog()).extracting(LoggedRequest::status).containsExactly(400, 200);
    assertThat(events.get(0).get("type").asText()).isEqualTo("response.created");
    assertThat(events.get(events.size() - 1).get("type").asText()).isEqualTo("response.completed");
    assertThat(events).extracting(event -> event.get("sequence_number").asInt())
        .containsExactlyElementsOf(IntStream.range(0, events.size()).boxed().collect(toList()));
    JsonNode completed = events.get(events.size() - 1).get("response");
    String completedText = completed.get("output").get(0).get("content").get(0).get("text").asText();
    assertThat(deltas.toString()).isEqualTo(completedText);
    SimulatedAnswer answer = SimulatedAnswer.parse(deltas.toString());
    assertThat(answer.userMessages()).isEqualTo(2);
    assertThat(answer.backend()).isNotEqualTo(home);

    // The streamed turn took over the chain and was journaled, linked to the history it repaired:
    // lose its backend too, and the next turn's replay still carries the whole conversation.
    simulator.backend(home).revive();
    simulator.backend(answer.backend()).kill();
    Response third = client.responses().create(params(0, 3, completed.get("id").asText()));
    assertThat(SimulatedAnswer.parse(text(third)).userMessages()).isEqualTo(3);
    assertThat(listener.repaired).hasSize(2).allSatisfy(repair -> assertThat(repair.replayed()).isTrue());
    assertThat(listener.repaired).last()
        .satisfies(repair -> assertThat(repair.itemsReplayed()).isEqualTo(4));
  }

  // --- 6, 7: no repair ---

  @Test
  void failPolicy_chainBroken_errorNamesChainAndCauseAndNothingIsReplayed() {
    simulator = simulator().start();
    AffinityInterceptor interceptor = interceptor().repairPolicy(RepairPolicy.FAIL).build();
    OpenAIClient client = client(interceptor, 0);
    Response first = client.responses().create(params(0, 1, null));
    simulator.backend(SimulatedAnswer.parse(text(first)).backend()).kill();
    simulator.clearRequestLog();

    BadRequestException error = catchThrowableOfType(BadRequestException.class,
        () -> client.responses().create(params(0, 2, first.id())));

    assertThat(error.code()).contains("previous_response_not_found");
    assertThat(error.headers().values(ChainNote.HEADER)).containsExactly("REPAIR_FAILED response:" + first.id());
    assertThat(error.getMessage()).contains("response:" + first.id());
    assertThat(simulator.requestLog()).singleElement().satisfies(request -> {
      assertThat(request.status()).isEqualTo(400);
      assertThat(request.hasAffinityCookie()).isTrue();
    });
    assertThat(listener.failed).singleElement().satisfies(failure -> {
      assertThat(failure.chain()).hasToString("response:" + first.id());
      assertThat(failure.cause().kind()).isEqualTo(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    });
    assertThat(interceptor.repairStats()).satisfies(stats -> {
      assertThat(stats.breaks()).isEqualTo(1);
      assertThat(stats.breaks(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND)).isEqualTo(1);
      assertThat(stats.repairsFailed()).isEqualTo(1);
      assertThat(stats.retries() + stats.replays()).isZero();
    });
  }

  @ParameterizedTest
  @EnumSource(PinnedBackendMode.class)
  void historyMissing_chainBroken_clearErrorAfterOneExtraRequestAtMost(PinnedBackendMode mode) {
    simulator = simulator().pinnedBackendMode(mode).start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 0);
    Response first = client.responses().create(params(0, 1, null));
    Response second = client.responses().create(params(0, 2, first.id()));
    simulator.backend(SimulatedAnswer.parse(text(second)).backend()).kill();
    interceptor.journal().clear();
    simulator.clearRequestLog();

    OpenAIServiceException error = catchThrowableOfType(OpenAIServiceException.class,
        () -> client.responses().create(params(0, 3, second.id())));

    assertThat(error.headers().values(ChainNote.HEADER)).containsExactly("REPAIR_FAILED response:" + second.id());
    assertThat(error.getMessage()).contains("response:" + second.id());
    List<LoggedRequest> log = simulator.requestLog();
    if (mode == PinnedBackendMode.REROUTE) {
      assertThat(error).isInstanceOf(BadRequestException.class);
      assertThat(error.code()).contains("previous_response_not_found");
      // Re-routed (a new cookie came with the error): no retry on the pin, and no replay to send.
      assertThat(log).extracting(LoggedRequest::status).containsExactly(400);
    } else {
      assertThat(error).isInstanceOf(InternalServerException.class);
      assertThat(error.statusCode()).isEqualTo(503);
      assertThat(log).extracting(LoggedRequest::status).containsExactly(503);
    }
    assertThat(log).allSatisfy(request ->
        assertThat(json(request.body()).has("previous_response_id")).as("not a replay").isTrue());
    ChainBreak.Kind kind = mode == PinnedBackendMode.REROUTE ? ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND
        : ChainBreak.Kind.BACKEND_UNAVAILABLE;
    assertThat(listener.failed).singleElement().satisfies(failure -> {
      assertThat(failure.chain()).hasToString("response:" + second.id());
      assertThat(failure.cause().kind()).isEqualTo(kind);
    });
    assertThat(interceptor.repairStats()).satisfies(stats -> {
      assertThat(stats.breaks(kind)).isEqualTo(1);
      assertThat(stats.repairsFailed()).as("no history to replay: failed").isEqualTo(1);
      assertThat(stats.replays()).isZero();
    });
  }

  // --- 8: async ---

  @Test
  void asyncClient_backendKilled_eachConversationOnItRepairedOnceAsWithSync() {
    simulator = simulator().start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 0);

    Run run = run(60, 8, params -> client.async().responses().create(params), outage(
        () -> simulator.backend(LOST).kill(), () -> simulator.backend(LOST).revive()));

    Set<Integer> victims = assertRepairedOnceEach(run, 5, interceptor.repairStats());
    long failed = requests(5).stream().filter(r -> r.request.status() >= 400).count();
    assertThat(failed).as("requests sent before the loss was learned").isBetween(1L, (long) victims.size());
    assertThat(requests(5)).hasSize(60 + (int) failed);
  }

  // --- 9: SDK retries on ---

  @Test
  void sdkRetriesOn_backendKilled_firstAttemptRepairsAndNoTurnSendsMoreThanThree() {
    simulator = simulator().start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 2);

    Run run = run(60, 8, sync(client, 4), outage(() -> simulator.backend(LOST).kill(),
        () -> simulator.backend(LOST).revive()));

    Set<Integer> victims = assertRepairedOnceEach(run, 5, interceptor.repairStats());
    Map<List<Integer>, List<Sent>> byTurn = requests(0).stream()
        .collect(groupingBy(r -> List.of(r.conversation, r.turn)));
    assertThat(byTurn).hasSize(60 * 8);
    byTurn.forEach((turn, sent) -> {
      if (turn.get(1) == 5 && victims.contains(turn.get(0)) && sent.size() == 2) {
        // original (re-routed), then the replay: both inside the SDK's first attempt
        assertThat(sent).extracting(r -> r.request.status()).as("turn %s", turn)
            .containsExactly(400, 200);
      } else if (turn.get(1) == 5 && victims.contains(turn.get(0))) {
        // the backend already learned lost: the replay alone
        assertThat(sent).singleElement().satisfies(r -> assertThat(r.request.hasAffinityCookie()).isFalse());
      } else {
        assertThat(sent).as("turn %s", turn).hasSize(1);
      }
    });
  }

  @Test
  void sdkRetriesOn_replayFails_eachSdkAttemptRepairsOnceAtMost() {
    simulator = simulator().pinnedBackendMode(PinnedBackendMode.STRICT).start();
    AffinityInterceptor interceptor = interceptor().build();
    OpenAIClient client = client(interceptor, 2);
    Response first = client.responses().create(params(0, 1, null));
    String home = SimulatedAnswer.parse(text(first)).backend();
    simulator.backend(home).kill();
    simulator.backends().stream().filter(b -> !b.name().equals(home))
        .forEach(b -> b.failNext(1, 500, Duration.ofMillis(1)));
    simulator.clearRequestLog();

    Response second = client.responses().create(params(0, 2, first.id()));

    assertThat(SimulatedAnswer.parse(text(second)).userMessages()).isEqualTo(2);
    // The SDK's first attempt: the pinned request (503), then one replay; a failed replay goes back
    // to the SDK. Its next attempts know the backend lost: each a replay at once, without the pin.
    List<LoggedRequest> log = simulator.requestLog();
    assertThat(log).extracting(LoggedRequest::status).containsExactly(503, 500, 500, 200);
    assertThat(log).extracting(LoggedRequest::hasAffinityCookie).containsExactly(true, false, false, false);
    assertThat(listener.started).hasSize(3);
    // The failed replays are the log's 500s: each SDK attempt but the last gave up after its replay.
    assertThat(listener.failed).hasSize(2).allSatisfy(failure -> {
      assertThat(failure.chain()).hasToString("response:" + first.id());
      assertThat(failure.cause().kind()).isEqualTo(ChainBreak.Kind.BACKEND_UNAVAILABLE);
    });
    assertThat(interceptor.repairStats()).satisfies(stats -> {
      assertThat(stats.replays()).isEqualTo(3);
      assertThat(stats.repairsFailed()).isEqualTo(2);
    });
    assertThat(listener.repaired).hasSize(1);
  }

  // --- workload ---

  /** What a workload got: every answer, and which conversation each response id belongs to. */
  private static final class Run {
    final SimulatedAnswer[][] answers;
    final String[][] ids;
    final Map<String, Integer> conversationOf = new ConcurrentHashMap<>();

    Run(int conversations, int turns) {
      answers = new SimulatedAnswer[conversations][turns];
      ids = new String[conversations][turns];
    }

    /** The backend that answered conversation {@code c} at {@code turn} (1-based). */
    String backend(int c, int turn) {
      return answers[c][turn - 1].backend();
    }
  }

  /**
   * Runs every conversation's turn 1, then every turn 2, and so on; {@code afterTurn} runs between
   * turns. Every answer must show the whole conversation.
   */
  private static Run run(int conversations, int turns,
      Function<ResponseCreateParams, CompletableFuture<Response>> sender, IntConsumer afterTurn) {
    Run run = new Run(conversations, turns);
    for (int turn = 1; turn <= turns; turn++) {
      List<CompletableFuture<Response>> sent = new ArrayList<>();
      for (int c = 0; c < conversations; c++) {
        sent.add(sender.apply(params(c, turn, turn == 1 ? null : run.ids[c][turn - 2])));
      }
      for (int c = 0; c < conversations; c++) {
        Response response = sent.get(c).join();
        SimulatedAnswer answer = SimulatedAnswer.parse(text(response));
        assertThat(answer.userMessages()).as("context of conversation %d, turn %d", c, turn)
            .isEqualTo(turn);
        run.answers[c][turn - 1] = answer;
        run.ids[c][turn - 1] = response.id();
        run.conversationOf.put(response.id(), c);
      }
      afterTurn.accept(turn);
    }
    return run;
  }

  /** The outage starts after turn 4 and ends after turn 6. */
  private static IntConsumer outage(Runnable start, Runnable end) {
    return turn -> {
      if (turn == 4) {
        start.run();
      } else if (turn == 6) {
        end.run();
      }
    };
  }

  private Function<ResponseCreateParams, CompletableFuture<Response>> sync(OpenAIClient client,
      int threadCount) {
    threads = Executors.newFixedThreadPool(threadCount);
    return params -> CompletableFuture.supplyAsync(() -> client.responses().create(params), threads);
  }

  /**
   * Checks that the conversations {@link #LOST} served before {@code brokenTurn} were repaired
   * exactly once each, at that turn, and moved for good; that no other conversation was replayed
   * or moved; and that the only requests without {@code previous_response_id} are the turn 1s and
   * those replays. Returns the repaired conversations.
   */
  private Set<Integer> assertRepairedOnceEach(Run run, int brokenTurn, RepairStats stats) {
    int conversations = run.answers.length;
    int turns = run.answers[0].length;
    Set<Integer> victims = new HashSet<>();
    for (int c = 0; c < conversations; c++) {
      if (run.backend(c, brokenTurn - 1).equals(LOST)) {
        victims.add(c);
      }
    }
    // Round-robin spreads the first turns evenly over the three backends.
    assertThat(victims).hasSizeBetween(conversations / 3, conversations / 3 + 1);

    Map<Integer, Long> repairs = listener.repaired.stream()
        .collect(groupingBy(repair -> run.conversationOf.get(repair.chain().id()), counting()));
    assertThat(repairs.keySet()).as("conversations repaired").isEqualTo(victims);
    assertThat(repairs.values()).as("repairs per conversation").containsOnly(1L);
    assertThat(listener.repaired).allSatisfy(repair -> {
      assertThat(repair.replayed()).isTrue();
      assertThat(repair.itemsReplayed()).isEqualTo(2 * (brokenTurn - 1));
      int c = run.conversationOf.get(repair.chain().id());
      assertThat(repair.chain().id()).isEqualTo(run.ids[c][brokenTurn - 2]);
    });
    assertThat(listener.started).hasSize(victims.size());
    assertThat(listener.failed).isEmpty();
    assertThat(stats.repairsSucceeded()).isEqualTo(victims.size());
    assertThat(stats.replays()).isEqualTo(victims.size());
    assertThat(stats.repairsFailed()).isZero();

    List<Sent> unchained = requests(0).stream().filter(r -> !r.continues).collect(toList());
    assertThat(unchained).filteredOn(r -> r.turn == 1).hasSize(conversations);
    List<Sent> replays = unchained.stream().filter(r -> r.turn > 1).collect(toList());
    assertThat(replays).allSatisfy(r -> {
      assertThat(r.turn).isEqualTo(brokenTurn);
      assertThat(r.request.status()).isEqualTo(200);
      assertThat(r.request.hasAffinityCookie()).isFalse();
    });
    assertThat(replays.stream().collect(groupingBy(r -> r.conversation, counting())))
        .as("replays per conversation in the request log")
        .isEqualTo(victims.stream().collect(groupingBy(c -> c, counting())));

    for (int c = 0; c < conversations; c++) {
      for (int turn = 2; turn <= turns; turn++) {
        String backend = run.backend(c, turn);
        if (!victims.contains(c) || turn < brokenTurn) {
          assertThat(backend).as("conversation %d, turn %d", c, turn).isEqualTo(run.backend(c, 1));
        } else if (turn == brokenTurn) {
          assertThat(backend).as("conversation %d, turn %d", c, turn).isNotEqualTo(LOST);
        } else {
          assertThat(backend).as("conversation %d, turn %d", c, turn).isEqualTo(run.backend(c, brokenTurn));
        }
      }
    }
    return victims;
  }

  /** One request of the log, read: which turn of which conversation, and whether it continued a chain. */
  private static final class Sent {
    final LoggedRequest request;
    final int conversation;
    final int turn;
    final boolean continues;

    Sent(LoggedRequest request) {
      this.request = request;
      JsonNode body = json(request.body());
      JsonNode input = body.get("input");
      JsonNode last = input.isArray() ? input.get(input.size() - 1).get("content") : input;
      Matcher matcher = MARKER.matcher(last.asText());
      assertThat(matcher.matches()).as("marker in %s", request).isTrue();
      this.conversation = Integer.parseInt(matcher.group(1));
      this.turn = Integer.parseInt(matcher.group(2));
      this.continues = body.has("previous_response_id");
    }
  }

  /** The logged requests of {@code turn}, or of every turn for 0. */
  private List<Sent> requests(int turn) {
    return simulator.requestLog().stream().map(Sent::new).filter(r -> turn == 0 || r.turn == turn)
        .collect(toList());
  }

  // --- listener, clients, params ---

  /** Records repair events, keyed by the chain they concern. */
  private static final class RecordingListener extends AffinityListener {
    final Queue<ChainKey> started = new ConcurrentLinkedQueue<>();
    final Queue<ChainRepair> repaired = new ConcurrentLinkedQueue<>();
    final Queue<Failure> failed = new ConcurrentLinkedQueue<>();

    @Override
    public void repairStarted(ChainKey chain, ChainBreak cause) {
      started.add(chain);
    }

    @Override
    public void repaired(ChainRepair repair) {
      repaired.add(repair);
    }

    @Override
    public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
      failed.add(new Failure(chain, cause));
    }
  }

  /** A repair that failed: the chain and the break, not the listener's words. */
  private record Failure(ChainKey chain, ChainBreak cause) {}

  private AffinityInterceptor.Builder interceptor() {
    // A clock standing still: no probe of a pin seen lost falls due, however slow the machine.
    return AffinityInterceptor.builder().listener(listener).retryPause(Duration.ofMillis(1))
        .clock(new MutableClock());
  }

  private static ApimSimulator.Builder simulator() {
    return ApimSimulator.builder().backends(3).recordRequestBodies(true);
  }

  private OpenAIClient client(AffinityInterceptor interceptor, int maxRetries) {
    OpenAIClient client = OpenAIOkHttpClient.builder()
        .baseUrl(simulator.openAiBaseUrl())
        .apiKey("test-key")
        .maxRetries(maxRetries)
        .addInterceptor(interceptor)
        .build();
    clients.add(client);
    return client;
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

  /** A turn with a function tool and reasoning; encrypted reasoning only if asked for. */
  private static ResponseCreateParams.Builder toolParams(boolean encryptedReasoning) {
    ResponseCreateParams.Builder params = ResponseCreateParams.builder()
        .model(MODEL)
        .instructions("Answer in one line.")
        .addTool(FunctionTool.builder()
            .name("get_weather")
            .parameters(FunctionTool.Parameters.builder()
                .putAdditionalProperty("type", JsonValue.from("object"))
                .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"))))
                .build())
            .strict(false)
            .build())
        .reasoning(Reasoning.builder().effort(ReasoningEffort.LOW).build());
    if (encryptedReasoning) {
      params.addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT);
    }
    return params;
  }

  /** The text of the response's message (after any reasoning item). */
  private static String text(Response response) {
    return response.output().stream().filter(ResponseOutputItem::isMessage).findFirst().orElseThrow()
        .asMessage().content().get(0).asOutputText().text();
  }

  private static String itemId(ResponseOutputItem item) {
    return ObjectMappers.jsonMapper().valueToTree(item).get("id").asText();
  }

  private static JsonNode json(String body) {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static ObjectNode without(ObjectNode node, String... fields) {
    ObjectNode copy = node.deepCopy();
    copy.remove(List.of(fields));
    return copy;
  }

  /** A clock the test moves: the simulator's breaker windows run on it. */
  private static final class TestClock extends Clock {
    private volatile Instant now = Instant.parse("2025-06-01T12:00:00Z");

    void advance(Duration duration) {
      now = now.plus(duration);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }
  }
}
