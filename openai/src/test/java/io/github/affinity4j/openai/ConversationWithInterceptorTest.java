package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.COOKIE;
import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.cookieCount;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.noteHeaders;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static io.github.affinity4j.openai.ConversationFixtures.text;
import static java.util.stream.Collectors.counting;
import static java.util.stream.Collectors.groupingBy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.openai.client.OpenAIClient;
import com.openai.errors.BadRequestException;
import com.openai.models.responses.Response;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.ConversationFixtures.CookieRecorder;
import io.github.affinity4j.openai.ConversationFixtures.Named;
import io.github.affinity4j.openai.ConversationFixtures.RecordingListener;
import io.github.affinity4j.openai.ConversationFixtures.Sent;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.MutableClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 5's acceptance on a client that also has an {@link AffinityInterceptor}: one pin per
 * request on the wire, and at most one repair per turn, whichever layer makes it. Counted from
 * the simulator's request log, the Cookie headers as sent, and both layers' counters.
 */
@Timeout(120)
final class ConversationWithInterceptorTest {
  private static final String LOST = "backend-2";

  private final List<OpenAIClient> clients = new ArrayList<>();
  private final CookieRecorder wire = new CookieRecorder();
  private final RecordingListener below = new RecordingListener();
  private final RecordingListener above = new RecordingListener();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @Test
  void interceptorClient_backendKilled_reroute_interceptorRepairsOnceAndConversationSendsOnePin() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    AffinityInterceptor interceptor = interceptor(RepairPolicy.RETRY_THEN_REPLAY);
    AffinityConversations conversations = conversations(client(interceptor));

    List<List<SimulatedAnswer>> run = run(conversations, 30, 6);

    Set<Integer> victims = victims(run);
    // No double cookies: one affinity cookie at most on every request, as sent on the wire.
    assertThat(wire.cookies).hasSize(simulator.requestLog().size())
        .allSatisfy(cookie -> assertThat(cookieCount(cookie, COOKIE)).as(cookie).isLessThanOrEqualTo(1));
    // No double repair: the first victim's not-found is the interceptor's to repair (below the
    // SDK), by one replay (the gateway re-routed, so no retry); the conversation saw a success with
    // another cookie, learned the backend lost, and replays the other victims at once itself.
    long repairedBelow = interceptor.repairStats().breaks();
    assertThat(repairedBelow).isEqualTo(1);
    assertThat(interceptor.repairStats().replays()).isEqualTo(repairedBelow);
    assertThat(conversations.repairStats().breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE))
        .isEqualTo(victims.size() - repairedBelow);
    assertThat(below.repaired).hasSize((int) repairedBelow);
    assertThat(above.repaired).hasSize(victims.size() - (int) repairedBelow);
    assertThat(interceptor.repairStats().retries()).isZero();
    assertThat(simulator.requestLog()).hasSize(30 * 6 + (int) repairedBelow);
    assertReplayedOncePerVictim(victims);
  }

  @Test
  void interceptorClient_backendKilled_strict_conversationRepairsOnceAndInterceptorPassesTheReplay() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true)
        .pinnedBackendMode(PinnedBackendMode.STRICT).start();
    AffinityInterceptor interceptor = interceptor(RepairPolicy.RETRY_THEN_REPLAY);
    AffinityConversations conversations = conversations(client(interceptor));

    List<List<SimulatedAnswer>> run = run(conversations, 30, 6);

    Set<Integer> victims = victims(run);
    assertThat(wire.cookies).hasSize(simulator.requestLog().size())
        .allSatisfy(cookie -> assertThat(cookieCount(cookie, COOKIE)).as(cookie).isLessThanOrEqualTo(1));
    // The 503 on the conversation's pin is not a break to the interceptor (the pin is not its
    // own); the conversation repairs it, and the replay starts no chain the interceptor knows.
    assertThat(interceptor.repairStats().breaks()).isZero();
    assertThat(below.started).isEmpty();
    assertThat(conversations.repairStats().breaks(ChainBreak.Kind.BACKEND_UNAVAILABLE)).isEqualTo(victims.size());
    assertThat(conversations.repairStats().replays()).isEqualTo(victims.size());
    assertThat(above.repaired).hasSize(victims.size());
    // The first 503 taught the conversation's engine: the other victims replayed at once.
    assertThat(simulator.requestLog()).filteredOn(request -> request.status() == 503).hasSize(1);
    assertThat(simulator.requestLog()).hasSize(30 * 6 + 1);
    assertReplayedOncePerVictim(victims);
  }

  @Test
  void interceptorGaveUp_conversationPassesTheErrorOnWithoutRepairingAgain() {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    AffinityInterceptor interceptor = interceptor(RepairPolicy.FAIL);
    AffinityConversations conversations = conversations(client(interceptor));
    Conversation chat = conversations.start();
    Response first = chat.send(marker(0, 1));
    simulator.backend(SimulatedAnswer.parse(text(first)).backend()).kill();
    simulator.clearRequestLog();

    Throwable error = catchThrowable(() -> chat.send(marker(0, 2)));

    assertThat(error).as("the interceptor's error, passed on").isInstanceOf(BadRequestException.class)
        .hasMessageContaining(first.id());
    // The interceptor's verdict, in its header: the chain broke and it gave up.
    assertThat(noteHeaders(error)).singleElement().satisfies(header ->
        assertThat(ChainNote.reasonIn(header)).isEqualTo(ChainNote.Reason.REPAIR_FAILED));
    assertThat(Named.of(error)).contains(new Named(ChainNote.Reason.REPAIR_FAILED, "response:" + first.id()));
    // One request: the interceptor's verdict stands; the conversation neither retries nor replays.
    assertThat(simulator.requestLog()).singleElement().satisfies(request -> {
      assertThat(request.status()).isEqualTo(400);
      assertThat(request.hasAffinityCookie()).isTrue();
    });
    assertThat(interceptor.repairStats().repairsFailed()).isEqualTo(1);
    assertThat(conversations.repairStats().breaks()).isZero();
    assertThat(above.started).isEmpty();
  }

  @Test
  void interceptorClient_sharedStoreAndJournal_eachPinAndTurnKeptOnce() {
    simulator = ApimSimulator.builder().backends(3).start();
    AffinityInterceptor interceptor = interceptor(RepairPolicy.RETRY_THEN_REPLAY);
    AffinityConversations conversations = AffinityConversations.builder().client(client(interceptor))
        .defaults(defaults()).store(interceptor.store()).journal(interceptor.journal()).build();
    Conversation chat = conversations.start();

    for (int turn = 1; turn <= 4; turn++) {
      assertThat(SimulatedAnswer.parse(text(chat.send(marker(0, turn)))).userMessages()).isEqualTo(turn);
    }

    assertThat(interceptor.store().estimatedSize()).isEqualTo(4);
    assertThat(interceptor.journal().estimatedSize()).isEqualTo(4);
    assertThat(chat.history()).hasSize(8);
    assertThat(wire.cookies).hasSize(4)
        .allSatisfy(cookie -> assertThat(cookieCount(cookie, COOKIE)).isLessThanOrEqualTo(1));
  }

  // --- workload ---

  private AffinityInterceptor interceptor(RepairPolicy policy) {
    // A clock standing still: no probe of a pin seen lost falls due, however slow the machine.
    return AffinityInterceptor.builder().repairPolicy(policy).retryPause(Duration.ZERO).listener(below)
        .clock(new MutableClock()).build();
  }

  private OpenAIClient client(AffinityInterceptor interceptor) {
    return closeLater(clients, plainClient(simulator.openAiBaseUrl(), wire).addInterceptor(interceptor).build());
  }

  private AffinityConversations conversations(OpenAIClient client) {
    return AffinityConversations.builder().client(client).defaults(defaults()).retryPause(Duration.ZERO)
        .listener(above).clock(new MutableClock()).build();
  }

  /** Every turn 1, then every turn 2, …; {@link #LOST} is killed after turn 3. */
  private List<List<SimulatedAnswer>> run(AffinityConversations conversations, int count, int turns) {
    List<Conversation> chats = new ArrayList<>();
    List<List<SimulatedAnswer>> answers = new ArrayList<>();
    for (int c = 0; c < count; c++) {
      chats.add(conversations.start());
      answers.add(new ArrayList<>());
    }
    for (int turn = 1; turn <= turns; turn++) {
      for (int c = 0; c < count; c++) {
        SimulatedAnswer answer = SimulatedAnswer.parse(text(chats.get(c).send(marker(c, turn))));
        assertThat(answer.userMessages()).as("context of %d, turn %d", c, turn).isEqualTo(turn);
        answers.get(c).add(answer);
      }
      if (turn == 3) {
        simulator.backend(LOST).kill();
      }
    }
    return answers;
  }

  private static Set<Integer> victims(List<List<SimulatedAnswer>> run) {
    Set<Integer> victims = new HashSet<>();
    for (int c = 0; c < run.size(); c++) {
      if (run.get(c).get(0).backend().equals(LOST)) {
        victims.add(c);
      }
    }
    assertThat(victims).hasSize(run.size() / 3);
    return victims;
  }

  /** In the request log: one replay (a turn 4 without previous_response_id, unpinned) per victim. */
  private void assertReplayedOncePerVictim(Set<Integer> victims) {
    List<Sent> replays = Sent.all(simulator.requestLog()).stream()
        .filter(sent -> !sent.continues() && sent.turn() > 1).toList();
    assertThat(replays).allSatisfy(sent -> {
      assertThat(sent.turn()).isEqualTo(4);
      assertThat(sent.request().status()).isEqualTo(200);
      assertThat(sent.request().hasAffinityCookie()).isFalse();
    });
    Map<Integer, Long> perConversation = replays.stream().collect(groupingBy(Sent::conversation, counting()));
    assertThat(perConversation.keySet()).isEqualTo(victims);
    assertThat(perConversation.values()).containsOnly(1L);
    assertThat(simulator.requestLog()).filteredOn(request -> request.status() != 200)
        .extracting(LoggedRequest::hasAffinityCookie).containsOnly(true);
  }
}
