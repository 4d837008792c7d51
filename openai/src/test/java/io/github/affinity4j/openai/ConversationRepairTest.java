package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.COOKIE;
import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.json;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static io.github.affinity4j.openai.ConversationFixtures.text;
import static java.util.stream.Collectors.counting;
import static java.util.stream.Collectors.groupingBy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.InternalServerException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseDeleteParams;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.openai.ConversationFixtures.RecordingListener;
import io.github.affinity4j.openai.ConversationFixtures.Sent;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.MutableClock;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import okhttp3.Interceptor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 5's repair acceptance: a backend killed mid-run, conversations on a plain SDK client
 * repaired once each (sync, async, streaming), and counted both by the engine and by the
 * simulator's request log (a replay is a continued turn sent without {@code previous_response_id}).
 */
@Timeout(120)
final class ConversationRepairTest {
  private static final String LOST = "backend-2";

  private final List<OpenAIClient> clients = new ArrayList<>();
  private final RecordingListener listener = new RecordingListener();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @Test
  void send_backendKilledAfterTurnThree_reroute_eachConversationOnItRepairedOnceAndMovedForGood() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    AffinityConversations conversations = conversations(RepairPolicy.RETRY_THEN_REPLAY);

    List<List<SimulatedAnswer>> run = run(conversations, 60, 6, (chat, input) ->
        CompletableFuture.completedFuture(chat.send(input)));

    Set<Integer> victims = assertRepairedOnceEach(run, 4, conversations.repairStats());
    // The gateway re-routed the stale pin (its error set a new cookie), so a retry on that pin
    // would be re-routed again: the not-found is replayed at once.
    // The first victim's re-routed turn teaches the process that the backend is lost: the others
    // replay at once (BACKEND_UNAVAILABLE of status 0), without a doomed request.
    assertThat(conversations.repairStats().retries()).isZero();
    long metTheLoss = conversations.repairStats().breaks(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertThat(metTheLoss).isEqualTo(1);
    assertThat(conversations.repairStats().breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE))
        .isEqualTo(victims.size() - metTheLoss);
    assertThat(simulator.requestLog()).hasSize(60 * 6 + (int) metTheLoss);
  }

  @Test
  void sendAsync_backendKilledAfterTurnThree_strict_eachConversationOnItRepairedOnceByReplay() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true)
        .pinnedBackendMode(PinnedBackendMode.STRICT).start();
    AffinityConversations conversations = conversations(RepairPolicy.RETRY_THEN_REPLAY);

    List<List<SimulatedAnswer>> run = run(conversations, 60, 6, Conversation::sendAsync);

    Set<Integer> victims = assertRepairedOnceEach(run, 4, conversations.repairStats());
    assertThat(conversations.repairStats().breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).isEqualTo(victims.size());
    assertThat(conversations.repairStats().retries()).as("waiting does not bring a backend back").isZero();
    // Requests sent before the first 503 taught the process; the others replayed at once.
    List<LoggedRequest> refused = simulator.requestLog().stream().filter(request -> request.status() == 503)
        .toList();
    assertThat(refused).hasSizeBetween(1, victims.size())
        .allSatisfy(request -> assertThat(request.hasAffinityCookie()).isTrue());
    assertThat(simulator.requestLog()).hasSize(60 * 6 + refused.size());
  }

  @Test
  void sendAsync_notFoundOnThePinNotRerouted_retriedAfterThePauseThenReplayedOnce() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl()).build());
    AffinityConversations conversations = AffinityConversations.builder().client(client)
        .defaults(defaults()).listener(listener).retryPause(Duration.ofMillis(20)).build();
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    // The response is gone from its backend, which is still up: a not-found on the pin, as Azure's
    // intermittent one, and no new cookie, so the engine retries on the pin before replaying.
    client.responses().delete(ResponseDeleteParams.builder().responseId(first.id())
        .putAdditionalHeader("Cookie", COOKIE + "=" + simulator.requestLog().get(0).issuedCookie()).build());
    simulator.clearRequestLog();

    Response second = chat.sendAsync(marker(0, 2)).join();

    assertThat(SimulatedAnswer.parse(text(second)).userMessages()).isEqualTo(2);
    assertThat(simulator.requestLog()).extracting(LoggedRequest::status).containsExactly(400, 400, 200);
    assertThat(simulator.requestLog()).extracting(LoggedRequest::hasAffinityCookie)
        .containsExactly(true, true, false);
    assertThat(conversations.repairStats().retries()).isEqualTo(1);
    assertThat(listener.repaired).singleElement().satisfies(repair -> {
      assertThat(repair.chain().id()).isEqualTo(first.id());
      assertThat(repair.elapsed()).isGreaterThanOrEqualTo(Duration.ofMillis(20));
    });
  }

  @Test
  void stream_chainBroken_repairedBeforeTheFirstEventAndStreamWhole() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    AffinityConversations conversations = conversations(RepairPolicy.RETRY_THEN_REPLAY);
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    String home = SimulatedAnswer.parse(text(first)).backend();
    simulator.backend(home).kill();
    simulator.clearRequestLog();

    StringBuilder deltas = new StringBuilder();
    int repairsAtFirstEvent = -1;
    List<String> types = new ArrayList<>();
    try (StreamResponse<ResponseStreamEvent> stream = chat.stream(marker(0, 2))) {
      for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) stream.stream()::iterator) {
        if (types.isEmpty()) {
          repairsAtFirstEvent = listener.repaired.size();
        }
        types.add(event.isCreated() ? "created" : event.isCompleted() ? "completed" : "other");
        event.outputTextDelta().ifPresent(delta -> deltas.append(delta.delta()));
      }
    }

    assertThat(repairsAtFirstEvent).isEqualTo(1);
    assertThat(types.get(0)).isEqualTo("created");
    assertThat(types.get(types.size() - 1)).isEqualTo("completed");
    SimulatedAnswer answer = SimulatedAnswer.parse(deltas.toString());
    assertThat(answer.userMessages()).isEqualTo(2);
    assertThat(answer.backend()).isNotEqualTo(home);
    List<LoggedRequest> log = simulator.requestLog();
    assertThat(log).extracting(LoggedRequest::status).containsExactly(400, 200);
    assertThat(json(log.get(1).body()).has("previous_response_id")).isFalse();
    assertThat(json(log.get(1).body()).get("stream").asBoolean()).isTrue();
    assertThat(log.get(1).hasAffinityCookie()).isFalse();
    // The streamed replay took over the chain: the next turn continues it, pinned, unrepaired.
    SimulatedAnswer third = SimulatedAnswer.parse(text(chat.send(marker(0, 3))));
    assertThat(third.userMessages()).isEqualTo(3);
    assertThat(third.backend()).isEqualTo(answer.backend());
    assertThat(conversations.repairStats().breaks()).isEqualTo(1);
    assertThat(chat.history()).hasSize(6);
  }

  @Test
  void send_failPolicy_chainBroken_sdkErrorSaysWhichChainAndWhyAndNothingIsReplayed() {
    simulator = ApimSimulator.builder().backends(3).start();
    AffinityConversations conversations = conversations(RepairPolicy.FAIL);
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    simulator.backend(SimulatedAnswer.parse(text(first)).backend()).kill();
    simulator.clearRequestLog();

    BadRequestException error = catchThrowableOfType(BadRequestException.class, () -> chat.send(marker(0, 2)));

    assertThat(error.statusCode()).isEqualTo(400);
    assertThat(error.code()).contains("previous_response_not_found");
    assertThat(ChainNote.find(error)).hasValueSatisfying(note -> {
      assertThat(note.reason()).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
      assertThat(note.chain().toString()).isEqualTo("response:" + first.id());
      assertThat(note.brokenBy()).contains(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    });
    assertThat(error.getMessage()).contains(first.id());
    assertThat(error.getCause()).isInstanceOf(BadRequestException.class);
    assertThat(conversations.repairStats().breaks(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND)).isEqualTo(1);
    assertThat(conversations.repairStats().repairsStarted()).isZero();
    assertThat(conversations.repairStats().repairsFailed()).isEqualTo(1);
    assertThat(simulator.requestLog()).singleElement().satisfies(request -> {
      assertThat(request.status()).isEqualTo(400);
      assertThat(request.hasAffinityCookie()).isTrue();
    });
    assertThat(listener.failed).singleElement().asString().startsWith("response:" + first.id());
    // A failed turn leaves the conversation where it was.
    assertThat(chat.lastResponseId()).contains(first.id());
  }

  @Test
  void send_strict_historyMissing_sdkErrorSaysWhatIsMissingAfterOneRequest() {
    simulator = ApimSimulator.builder().backends(3).pinnedBackendMode(PinnedBackendMode.STRICT).start();
    AffinityConversations conversations = conversations(RepairPolicy.RETRY_THEN_REPLAY);
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    simulator.backend(SimulatedAnswer.parse(text(first)).backend()).kill();
    conversations.journal().clear();
    simulator.clearRequestLog();

    InternalServerException error = catchThrowableOfType(InternalServerException.class,
        () -> chat.send(marker(0, 2)));

    assertThat(error.statusCode()).isEqualTo(503);
    assertThat(ChainNote.find(error)).hasValueSatisfying(note -> {
      assertThat(note.reason()).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
      assertThat(note.chain().toString()).isEqualTo("response:" + first.id());
      assertThat(note.brokenBy()).contains(ChainBreak.Kind.BACKEND_UNAVAILABLE);
    });
    assertThat(error.getMessage()).contains(first.id());
    // The journal lacks the chain: the break is given up on at once, no retry, no replay.
    assertThat(conversations.repairStats().repairsStarted()).isZero();
    assertThat(conversations.repairStats().repairsFailed()).isEqualTo(1);
    assertThat(simulator.requestLog()).extracting(LoggedRequest::status).containsExactly(503);
  }

  @Test
  void send_pinnedBackendUnreachable_retriedOnceThenRepairedByReplayWithoutThePin() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    Dropper dropper = new Dropper();
    AffinityConversations conversations = AffinityConversations.builder()
        .client(closeLater(clients, plainClient(simulator.openAiBaseUrl()).addInterceptor(dropper).build()))
        .defaults(defaults()).retryPause(Duration.ZERO).listener(listener).build();
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    simulator.clearRequestLog();
    dropper.drops.set(Integer.MAX_VALUE);

    Response second = chat.send(marker(0, 2));

    assertThat(SimulatedAnswer.parse(text(second)).userMessages()).isEqualTo(2);
    assertThat(dropper.droppedCookies).as("the request and its one retry on the same pin").hasSize(2)
        .allSatisfy(cookie -> assertThat(cookie).startsWith(ConversationFixtures.COOKIE + "="));
    assertThat(simulator.requestLog()).singleElement().satisfies(replay -> {
      assertThat(replay.hasAffinityCookie()).isFalse();
      assertThat(json(replay.body()).has("previous_response_id")).isFalse();
    });
    assertThat(conversations.repairStats().breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).isEqualTo(1);
    assertThat(listener.repaired).singleElement().satisfies(repair ->
        assertThat(repair.chain().id()).isEqualTo(first.id()));
  }

  @Test
  void send_pooledConnectionClosedOnce_retriedOnTheSamePinNoReplay() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    Dropper dropper = new Dropper();
    AffinityConversations conversations = AffinityConversations.builder()
        .client(closeLater(clients, plainClient(simulator.openAiBaseUrl()).addInterceptor(dropper).build()))
        .defaults(defaults()).retryPause(Duration.ZERO).listener(listener).build();
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    simulator.clearRequestLog();
    dropper.drops.set(1);

    Response second = chat.send(marker(0, 2));

    assertThat(SimulatedAnswer.parse(text(second)).userMessages()).isEqualTo(2);
    assertThat(dropper.droppedCookies).hasSize(1);
    assertThat(simulator.requestLog()).singleElement().satisfies(retry -> {
      assertThat(retry.hasAffinityCookie()).isTrue();
      assertThat(json(retry.body()).get("previous_response_id").asText()).isEqualTo(first.id());
    });
    assertThat(conversations.repairStats().replays()).isZero();
    assertThat(conversations.repairStats().breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).isZero();
    assertThat(listener.repaired).as("a connection retry that works is no repair").isEmpty();
  }

  // --- workload ---

  private AffinityConversations conversations(RepairPolicy policy) {
    return AffinityConversations.builder()
        .client(closeLater(clients, plainClient(simulator.openAiBaseUrl()).build()))
        .defaults(defaults())
        .repairPolicy(policy)
        .retryPause(Duration.ZERO)
        .clock(new MutableClock()) // standing still: no probe of a pin seen lost falls due
        .listener(listener)
        .build();
  }

  /**
   * Runs every conversation's turn 1, then every turn 2, and so on, each turn of all conversations
   * at once; {@link #LOST} is killed after turn 3. Every answer must show the whole conversation.
   */
  private List<List<SimulatedAnswer>> run(AffinityConversations conversations, int count, int turns,
      BiFunction<Conversation, String, CompletableFuture<Response>> sender) {
    List<Conversation> chats = new ArrayList<>();
    List<List<SimulatedAnswer>> answers = new ArrayList<>();
    for (int c = 0; c < count; c++) {
      chats.add(conversations.start());
      answers.add(new ArrayList<>());
    }
    for (int turn = 1; turn <= turns; turn++) {
      List<CompletableFuture<Response>> sent = new ArrayList<>();
      for (int c = 0; c < count; c++) {
        sent.add(sender.apply(chats.get(c), marker(c, turn)));
      }
      for (int c = 0; c < count; c++) {
        SimulatedAnswer answer = SimulatedAnswer.parse(text(sent.get(c).join()));
        assertThat(answer.userMessages()).as("context of %d, turn %d", c, turn).isEqualTo(turn);
        answers.get(c).add(answer);
      }
      if (turn == 3) {
        simulator.backend(LOST).kill();
      }
    }
    return answers;
  }

  /**
   * Checks that the conversations {@link #LOST} served were repaired exactly once each, at
   * {@code brokenTurn}, and stayed where the replay went; that no other was repaired or moved; and
   * that the only requests without {@code previous_response_id} are the turn 1s and those replays.
   */
  private Set<Integer> assertRepairedOnceEach(List<List<SimulatedAnswer>> run, int brokenTurn, RepairStats stats) {
    Set<Integer> victims = new HashSet<>();
    for (int c = 0; c < run.size(); c++) {
      if (run.get(c).get(0).backend().equals(LOST)) {
        victims.add(c);
      }
    }
    assertThat(victims).hasSizeBetween(run.size() / 3, run.size() / 3 + 1);
    assertThat(listener.repaired).hasSize(victims.size()).allSatisfy(repair -> {
      assertThat(repair.replayed()).isTrue();
      assertThat(repair.itemsReplayed()).isEqualTo(2 * (brokenTurn - 1));
    });
    assertThat(listener.started).hasSize(victims.size()).doesNotHaveDuplicates();
    assertThat(listener.failed).isEmpty();
    assertThat(stats.repairsSucceeded()).isEqualTo(victims.size());
    assertThat(stats.replays()).isEqualTo(victims.size());

    List<Sent> replays = Sent.all(simulator.requestLog()).stream()
        .filter(sent -> !sent.continues() && sent.turn() > 1).toList();
    assertThat(replays).allSatisfy(sent -> {
      assertThat(sent.turn()).isEqualTo(brokenTurn);
      assertThat(sent.request().status()).isEqualTo(200);
      assertThat(sent.request().hasAffinityCookie()).isFalse();
    });
    assertThat(replays.stream().collect(groupingBy(Sent::conversation, counting())))
        .as("replays per conversation in the request log")
        .isEqualTo(victims.stream().collect(groupingBy(c -> c, counting())));
    assertThat(replays.stream().map(Sent::conversation).toList()).containsExactlyInAnyOrderElementsOf(victims);

    for (int c = 0; c < run.size(); c++) {
      List<SimulatedAnswer> answers = run.get(c);
      for (int turn = 2; turn <= answers.size(); turn++) {
        String backend = answers.get(turn - 1).backend();
        if (!victims.contains(c)) {
          assertThat(backend).as("conversation %d, turn %d", c, turn).isEqualTo(answers.get(0).backend());
        } else if (turn >= brokenTurn) {
          assertThat(backend).as("conversation %d, turn %d", c, turn)
              .isNotEqualTo(LOST).isEqualTo(answers.get(brokenTurn - 1).backend());
        }
      }
    }
    return victims;
  }

  /** Fails the next request that carries a Cookie, once armed, as a connection reset would. */
  private static final class Dropper implements Interceptor {
    final List<String> droppedCookies = new CopyOnWriteArrayList<>();
    /** How many of the next pinned requests fail to connect. */
    final AtomicInteger drops = new AtomicInteger();

    @Override
    public okhttp3.Response intercept(Chain chain) throws IOException {
      String cookie = chain.request().header("Cookie");
      if (cookie != null && drops.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        droppedCookies.add(cookie);
        throw new IOException("connection reset (test)");
      }
      return chain.proceed(chain.request());
    }
  }
}
