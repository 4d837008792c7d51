package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two instances of an application, each its own OkHttp client with its own
 * {@link AffinityInterceptor}, sharing nothing but Redis, alternate the turns of the same
 * conversations on a 3-backend {@link ApimSimulator}: the acceptance. And Redis stopped mid-run
 * (issue 14, row 10): one instance keeps its chains through the outage from its local fallback;
 * without it, requests still flow and repairs fail saying why.
 */
@RequiresRedisServer
@Timeout(180)
final class SharedStateAcceptanceTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private final String prefix = "acceptance-" + UUID.randomUUID() + ":";
  private final List<AppInstance> instances = new ArrayList<>();
  private RedisServer redis;
  private ApimSimulator apim;
  private HttpUrl responses;

  @BeforeEach
  void start() {
    redis = RedisServer.launch();
    apim = ApimSimulator.builder().backends(3).start();
    responses = HttpUrl.get(apim.openAiBaseUrl() + "/responses");
  }

  @AfterEach
  void stop() throws IOException {
    for (AppInstance instance : instances) {
      instance.close();
    }
    if (apim != null) {
      apim.close();
    }
    if (redis != null) {
      redis.close();
    }
  }

  @Test
  void twoInstances_alternateTurnsOf100Conversations_fullContextAndKillRepairedByWhicheverMeetsIt()
      throws Exception {
    AppInstance a = instance("a");
    AppInstance b = instance("b");
    int conversations = 100;
    int turns = 6;
    String[] last = new String[conversations];
    String[] home = new String[conversations];
    Map<String, Integer> firstTurns = new HashMap<>();
    String killed = "backend-2";

    for (int turn = 1; turn <= turns; turn++) {
      if (turn == 4) {
        assertThat(a.repairs.get() + b.repairs.get()).as("no repair needed while every backend is up").isZero();
        apim.backend(killed).kill();
      }
      for (int c = 0; c < conversations; c++) {
        AppInstance instance = (c + turn) % 2 == 0 ? a : b; // the next turn lands on the other instance
        AppInstance.Reply reply = AppInstance.send(instance, "conversation " + c + ", turn " + turn, last[c]);
        assertThat(reply.status()).as("conversation %d turn %d: %s", c, turn, reply.body()).isEqualTo(200);
        SimulatedAnswer answer = reply.answer();
        assertThat(answer.userMessages()).as("conversation %d turn %d sees its whole history", c, turn)
            .isEqualTo(turn);
        if (turn == 1) {
          home[c] = answer.backend();
          firstTurns.merge(answer.backend(), 1, Integer::sum);
        } else if (turn < 4 || !home[c].equals(killed)) {
          assertThat(answer.backend()).as("conversation %d stays on its backend", c).isEqualTo(home[c]);
        }
        last[c] = reply.id();
      }
    }

    System.out.printf("Two instances, %d conversations x %d turns: first turns %s, repairs a=%d b=%d%n",
        conversations, turns, firstTurns, a.repairs.get(), b.repairs.get());
    assertThat(firstTurns).as("new conversations still spread").containsOnlyKeys("backend-1", "backend-2",
        "backend-3");
    long onKilled = firstTurns.get(killed);
    assertThat(a.repairs.get() + b.repairs.get()).as("each conversation on the killed backend repaired once")
        .isEqualTo(onKilled);
    assertThat(a.repairs.get()).as("instance a met some").isPositive();
    assertThat(b.repairs.get()).as("instance b met some").isPositive();
    assertThat(a.failures).isEmpty();
    assertThat(b.failures).isEmpty();
    assertThat(a.interceptor.stats().pinsApplied() + b.interceptor.stats().pinsApplied())
        .as("every continued turn found its pin, set by the other instance").isEqualTo(conversations * (turns - 1L));
  }

  @Test
  void redisStoppedMidRun_oneInstanceKeepsItsChainsPinnedAndRepairsThemFromItsLocalFallback() throws Exception {
    AppInstance a = instance("a", true);
    int conversations = 30;
    String[] last = new String[conversations];
    String[] home = new String[conversations];
    for (int turn = 1; turn <= 2; turn++) {
      for (int c = 0; c < conversations; c++) {
        AppInstance.Reply reply = AppInstance.send(a, "turn " + turn, last[c]);
        assertThat(reply.status()).isEqualTo(200);
        home[c] = turn == 1 ? reply.answer().backend() : home[c];
        last[c] = reply.id();
      }
    }
    assertThat(a.connector.awaitWrites(java.time.Duration.ofSeconds(10))).isTrue(); // turns 1 and 2 in Redis

    redis.stop();
    long pinned = a.interceptor.stats().pinsApplied();
    for (int c = 0; c < conversations; c++) {
      AppInstance.Reply reply = AppInstance.send(a, "turn 3, Redis down", last[c]);
      assertThat(reply.status()).as("conversation %d: %s", c, reply.body()).isEqualTo(200);
      assertThat(reply.answer().backend()).as("conversation %d keeps its backend", c).isEqualTo(home[c]);
      assertThat(reply.answer().userMessages()).isEqualTo(3);
      last[c] = reply.id();
    }
    assertThat(a.interceptor.stats().pinsApplied() - pinned).as("every pinned turn found its pin locally")
        .isEqualTo(conversations);
    String killed = home[0];
    apim.backend(killed).kill();
    for (int c = 0; c < conversations; c++) {
      AppInstance.Reply reply = AppInstance.send(a, "turn 4, Redis down, a backend lost", last[c]);
      assertThat(reply.status()).as("conversation %d: %s", c, reply.body()).isEqualTo(200);
      assertThat(reply.answer().userMessages()).as("conversation %d sees its whole history", c).isEqualTo(4);
      if (!home[c].equals(killed)) {
        assertThat(reply.answer().backend()).isEqualTo(home[c]);
      }
      last[c] = reply.id();
    }
    long onKilled = java.util.Arrays.stream(home).filter(killed::equals).count();
    System.out.printf("Redis down: %d conversations kept their backends; the %d on %s were repaired from the"
        + " local fallback%n", conversations, onKilled, killed);
    assertThat(a.repairs.get()).as("each conversation on the lost backend repaired from the local fallback")
        .isEqualTo(onKilled);
    assertThat(a.failures).isEmpty();
    assertThat(a.unavailable.get()).isEqualTo(1);

    redis.start(); // empty: the test server keeps no snapshot
    a.awaitAvailable();
    AppInstance b = instance("b", true); // Redis is the source again: another instance finds a's pins
    for (int c = 0; c < conversations; c++) {
      AppInstance.Reply reply = AppInstance.send(b, "turn 5, Redis back, another instance", last[c]);
      assertThat(reply.status()).as("conversation %d: %s", c, reply.body()).isEqualTo(200);
      assertThat(reply.answer().userMessages()).isEqualTo(5);
    }
    assertThat(b.interceptor.stats().pinsApplied()).as("pins kept during the outage were sent to Redis")
        .isEqualTo(conversations);
  }

  @Test
  void redisStoppedMidRun_withoutLocalFallback_requestsFlowPinlessTurnsFailClearlyNewChainsWorkAfterItReturns()
      throws Exception {
    AppInstance a = instance("a", false);
    AppInstance b = instance("b", false);
    int conversations = 30;
    String[] last = new String[conversations];
    for (int turn = 1; turn <= 2; turn++) {
      for (int c = 0; c < conversations; c++) {
        AppInstance.Reply reply = AppInstance.send((c + turn) % 2 == 0 ? a : b, "turn " + turn, last[c]);
        assertThat(reply.status()).isEqualTo(200);
        last[c] = reply.id();
      }
    }
    assertThat(a.connector.awaitWrites(java.time.Duration.ofSeconds(10))).isTrue(); // turns 1 and 2 in Redis
    assertThat(b.connector.awaitWrites(java.time.Duration.ofSeconds(10))).isTrue();

    redis.stop();
    int ok = 0;
    int failedClearly = 0;
    int secondsFailed = 0;
    for (int c = 0; c < conversations; c++) {
      AppInstance instance = c % 2 == 0 ? a : b;
      AppInstance.Reply reply = AppInstance.send(instance, "turn 3", last[c]); // a pinned turn: needs Redis
      if (reply.status() == 200) {
        assertThat(reply.answer().userMessages()).as("landed on its backend by luck: whole").isEqualTo(3);
        ok++;
      } else {
        assertThat(reply.status()).isEqualTo(400);
        assertRepairFailed(reply, last[c]);
        assertThat(instance.history(last[c])).as("the repair found the journal unreadable, not the history missing")
            .isEqualTo(ChainHistory.Status.UNAVAILABLE);
        failedClearly++;
      }
      AppInstance other = c % 2 == 0 ? b : a;
      AppInstance.Reply fresh = AppInstance.send(other, "a new conversation while Redis is down", null);
      assertThat(fresh.status()).as("requests still go out").isEqualTo(200);
      AppInstance.Reply second = AppInstance.send(other, "and its second turn, on the same instance", fresh.id());
      assertThat(second.status()).isIn(200, 400);
      if (second.status() == 400) {
        assertRepairFailed(second, fresh.id());
        secondsFailed++;
      }
    }
    System.out.printf("Redis down: %d of %d pinned turns landed on their backend anyway, %d failed with the"
        + " clear error; %d new conversations went out%n", ok, conversations, failedClearly, conversations);
    assertThat(ok + failedClearly).isEqualTo(conversations);
    assertThat(failedClearly).as("without pins, most pinned turns miss their backend").isPositive();
    assertThat(a.unavailable.get()).as("one unavailable event per instance and outage").isEqualTo(1);
    assertThat(b.unavailable.get()).isEqualTo(1);
    assertThat(a.repairsFailed() + b.repairsFailed()).as("each turn that failed, one failed repair")
        .isEqualTo(failedClearly + secondsFailed);
    assertThat(a.failures.size() + b.failures.size()).isEqualTo(failedClearly + secondsFailed);

    redis.start(); // empty: the test server keeps no snapshot
    a.awaitAvailable();
    b.awaitAvailable();
    int lostFailed = 0;
    for (int c = 0; c < conversations; c++) {
      AppInstance instance = c % 2 == 0 ? b : a;
      AppInstance.Reply reply = AppInstance.send(instance, "turn 4, after the outage", last[c]);
      if (reply.status() != 200) {
        assertThat(reply.status()).isEqualTo(400);
        assertRepairFailed(reply, last[c]);
        assertThat(instance.history(last[c])).as("Redis answers but lost the history: not in the journal")
            .isEqualTo(ChainHistory.Status.MISSING_LINK);
        lostFailed++;
      }
      // Moves the gateway's round-robin on, so that unpinned turns do not land on their backends in step.
      assertThat(AppInstance.send(c % 2 == 0 ? a : b, "a new conversation after the outage", null).status()).isEqualTo(200);
    }
    System.out.printf("Redis back, empty: %d of %d old chains missed their backend and failed: not in the"
        + " journal%n", lostFailed, conversations);
    assertThat(lostFailed).as("pins were lost with Redis, so most old chains miss their backend").isPositive();
    for (int c = 0; c < 10; c++) {
      String previous = null;
      for (int turn = 1; turn <= 4; turn++) {
        AppInstance.Reply reply = AppInstance.send((c + turn) % 2 == 0 ? a : b, "after the outage, turn " + turn, previous);
        assertThat(reply.status()).as("new chains work again: %s", reply.body()).isEqualTo(200);
        assertThat(reply.answer().userMessages()).isEqualTo(turn);
        previous = reply.id();
      }
    }
  }

  /**
   * The error reply of a repair that failed on chain {@code response:previousId}: named by header
   * {@value ChainNote#HEADER} (the reason and the chain), and its message holds the chain's id.
   */
  private static void assertRepairFailed(AppInstance.Reply reply, String previousId) throws IOException {
    assertThat(reply.note()).as("a failed repair: %s", reply.body())
        .isEqualTo(ChainNote.of(ChainKey.response(previousId), ChainNote.Reason.REPAIR_FAILED, null, "").headerValue());
    assertThat(ChainNote.reasonIn(reply.note())).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
    assertThat(MAPPER.readTree(reply.body()).at("/error/message").asText()).contains(previousId);
  }

  private AppInstance instance(String name) {
    return instance(name, true);
  }

  private AppInstance instance(String name, boolean localFallback) {
    AppInstance instance = new AppInstance(name, redis.connector(), prefix, localFallback, responses);
    instances.add(instance);
    return instance;
  }

}
