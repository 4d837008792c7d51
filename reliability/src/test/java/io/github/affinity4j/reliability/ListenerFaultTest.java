package io.github.affinity4j.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.AffinityOpenAI;
import io.github.affinity4j.openai.Conversation;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A listener of the caller's that throws, or blocks, does not break requests: every turn of a
 * concurrent workload with a backend lost mid-way still succeeds whole, repairs included; and a
 * listener blocked on one conversation's turn holds up that turn only, which completes when the
 * listener returns.
 */
@Tag("concurrency")
@Timeout(value = 10, unit = TimeUnit.MINUTES)
final class ListenerFaultTest {
  /** What the throwing listener throws. */
  enum Thrown {
    /** An unchecked exception, as a Java listener would throw. */
    RUNTIME_EXCEPTION,
    /** A checked exception: Kotlin has no checked exceptions, so a Kotlin listener may throw one. */
    CHECKED_EXCEPTION
  }

  private final SuiteSize size = SuiteSize.current();
  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;
  private BlockingListener blockingListener;

  @AfterEach
  void close() {
    if (blockingListener != null) {
      blockingListener.release.countDown();   // never leave a thread blocked past its test
    }
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @ParameterizedTest
  @EnumSource(Thrown.class)
  void listenerThrowingOnEveryEvent_backendLostMidway_everyTurnStillWhole(Thrown thrown)
      throws InterruptedException {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();
    ThrowingListener listener = new ThrowingListener(thrown);
    AffinityInterceptor interceptor = AffinityInterceptor.builder().listener(listener).build();
    OpenAIClient affinityClient = remember(AffinityOpenAI.builder().baseUrl(simulator.openAiBaseUrl())
        .apiKey("test-key").maxRetries(0).interceptor(interceptor).build());
    OpenAIClient plainClient = remember(OpenAIOkHttpClient.builder().baseUrl(simulator.openAiBaseUrl())
        .apiKey("test-key").maxRetries(0).build());
    AffinityConversations conversations = AffinityConversations.builder().client(plainClient).listener(listener)
        .defaults(ResponseCreateParams.builder().model(ChaosRun.MODEL).build()).build();
    int count = size.pick(60, 300);
    int turns = 6;
    List<Rotation.Chat> chats = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      chats.add(i % 2 == 0 ? Rotation.throughClient(affinityClient) : Rotation.through(conversations.start()));
    }
    long lossAt = (long) count * turns / 2;

    List<Rotation.Result> results = Rotation.run(chats, turns, size.pick(8, 32), done -> {
      if (done == lossAt) {
        simulator.backend("backend-2").kill();
      }
    });

    assertThat(results).allSatisfy(result -> assertThat(result.failure())
        .as("turn %d of conversation %d", result.turn(), result.conversation()).isNull());
    assertThat(Rotation.contextProblems(results)).isEmpty();
    RepairStats viaInterceptor = interceptor.repairStats();
    RepairStats viaConversations = conversations.repairStats();
    assertThat(viaInterceptor.repairsSucceeded()).as("repairs below the SDK").isPositive();
    assertThat(viaConversations.repairsSucceeded()).as("repairs by the conversations").isPositive();
    assertThat(listener.calls.get()).as("the listener was called, and threw, every time").isPositive();
    assertThat(PinCheck.check(simulator.requestLog(), Rotation.owners(results)).violationExamples()).isEmpty();
    System.out.printf("affinity4j listener throwing %s (%s): %d turns whole, %d listener calls threw, %d + %d"
            + " repairs%n", thrown, size.label(), results.size(), listener.calls.get(),
        viaInterceptor.repairsSucceeded(), viaConversations.repairsSucceeded());
  }

  @ParameterizedTest
  @EnumSource(BlockedPath.class)
  void listenerBlockedOnOneTurn_otherConversationsGoOn_andTheTurnCompletesWhenReleased(BlockedPath path)
      throws Exception {
    simulator = ApimSimulator.builder().backends(3).start();
    BlockingListener listener = new BlockingListener();
    blockingListener = listener;
    AffinityInterceptor interceptor = AffinityInterceptor.builder().listener(listener).build();
    OpenAIClient affinityClient = remember(AffinityOpenAI.builder().baseUrl(simulator.openAiBaseUrl())
        .apiKey("test-key").maxRetries(0).interceptor(interceptor).build());
    OpenAIClient plainClient = remember(OpenAIOkHttpClient.builder().baseUrl(simulator.openAiBaseUrl())
        .apiKey("test-key").maxRetries(0).build());
    AffinityConversations conversations = AffinityConversations.builder().client(plainClient).listener(listener)
        .defaults(ResponseCreateParams.builder().model(ChaosRun.MODEL).build()).build();

    // The blocked turn: the second of a chain, whose pin lookup blocks in the listener; started on
    // another thread, since the lookup runs on the thread that starts a turn (sync or async).
    Conversation blocked = conversations.start();
    Response first = path.viaInterceptor()
        ? affinityClient.responses().create(params(ChaosRun.marker(-1, 1), null))
        : blocked.send(ChaosRun.marker(-1, 1));
    // The wrapper and the interceptor see the same origin and key, so one scope holds the chain.
    listener.blockOn(ChainKey.response(first.id()).in(conversations.scope()));
    ResponseCreateParams next = params(ChaosRun.marker(-1, 2), first.id());
    CompletableFuture<Response> second = switch (path) {
      case CONVERSATION_SYNC -> CompletableFuture.supplyAsync(() -> blocked.send(ChaosRun.marker(-1, 2)));
      case CONVERSATION_ASYNC ->
          CompletableFuture.supplyAsync(() -> blocked.sendAsync(ChaosRun.marker(-1, 2))).thenCompose(f -> f);
      case INTERCEPTOR_SYNC -> CompletableFuture.supplyAsync(() -> affinityClient.responses().create(next));
      case INTERCEPTOR_ASYNC -> affinityClient.async().responses().create(next);
    };
    assertThat(listener.blocking.await(30, TimeUnit.SECONDS)).as("the listener is blocking the turn").isTrue();

    // Meanwhile: many conversations, both ways, one backend lost half-way through.
    int count = size.pick(40, 200);
    int turns = 5;
    List<Rotation.Chat> chats = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      chats.add(i % 2 == 0 ? Rotation.throughClient(affinityClient) : Rotation.through(conversations.start()));
    }
    long lossAt = (long) count * turns / 2;
    String lost = SimulatedAnswer.parse(ChaosRun.textOf(first)).backend().equals("backend-2") ? "backend-3"
        : "backend-2";
    // Bounded: were a lock held while the listener blocks, the others would stall, not fail.
    List<Rotation.Result> results = Rotation.run(chats, turns, size.pick(8, 32), done -> {
      if (done == lossAt) {
        simulator.backend(lost).kill();
      }
    }, Duration.ofMinutes(size.pick(2, 8)));
    assertThat(results).allSatisfy(result -> assertThat(result.failure()).isNull());
    assertThat(Rotation.contextProblems(results)).isEmpty();
    assertThat(interceptor.repairStats().repairsSucceeded() + conversations.repairStats().repairsSucceeded())
        .as("repairs while the listener blocked").isPositive();
    assertThat(second).as("the blocked turn waits for its listener").isNotDone();

    listener.release.countDown();
    Response answer = second.get(30, TimeUnit.SECONDS);
    assertThat(SimulatedAnswer.parse(ChaosRun.textOf(answer)).userMessages()).isEqualTo(2);
    if (!path.viaInterceptor()) {
      assertThat(blocked.lastResponseId()).contains(answer.id());
    }
  }

  private static ResponseCreateParams params(String text, String previous) {
    ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(ChaosRun.MODEL).input(text);
    if (previous != null) {
      params.previousResponseId(previous);
    }
    return params.build();
  }

  /** Where the blocked turn runs. */
  enum BlockedPath {
    /** A conversation on a plain client, sync: the listener blocks the caller's thread. */
    CONVERSATION_SYNC,
    /** The same, async: the listener blocks the thread that starts the turn. */
    CONVERSATION_ASYNC,
    /** The SDK client with the interceptor, sync: the listener blocks the caller's thread. */
    INTERCEPTOR_SYNC,
    /** The same, async: the listener blocks an OkHttp dispatcher thread. */
    INTERCEPTOR_ASYNC;

    boolean viaInterceptor() {
      return this == INTERCEPTOR_SYNC || this == INTERCEPTOR_ASYNC;
    }
  }

  private OpenAIClient remember(OpenAIClient client) {
    clients.add(client);
    return client;
  }

  /** Throws from every method. */
  private static final class ThrowingListener extends AffinityListener {
    final AtomicLong calls = new AtomicLong();
    private final Thrown thrown;

    ThrowingListener(Thrown thrown) {
      this.thrown = thrown;
    }

    @Override
    public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
      fail();
    }

    @Override
    public void tokenApplied(ChainKey key, AffinityToken token) {
      fail();
    }

    @Override
    public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
      fail();
    }

    @Override
    public void repairStarted(ChainKey chain, ChainBreak cause) {
      fail();
    }

    @Override
    public void repaired(ChainRepair repair) {
      fail();
    }

    @Override
    public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
      fail();
    }

    private void fail() {
      calls.incrementAndGet();
      if (thrown == Thrown.RUNTIME_EXCEPTION) {
        throw new IllegalStateException("listener failure, on purpose");
      }
      throw Sneaky.<RuntimeException>sneak(new IOException("listener failure, on purpose"));
    }
  }

  /** Throws a checked exception where the compiler does not expect one, as Kotlin code may. */
  private static final class Sneaky {
    @SuppressWarnings("unchecked")
    static <E extends Throwable> E sneak(Throwable t) throws E {
      throw (E) t;
    }
  }

  /** Blocks the first event on one chain until released. */
  private static final class BlockingListener extends AffinityListener {
    final CountDownLatch blocking = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    private volatile ChainKey target;

    void blockOn(ChainKey key) {
      target = key;
    }

    @Override
    public void tokenApplied(ChainKey key, AffinityToken token) {
      if (key.equals(target)) {
        target = null;
        blocking.countDown();
        try {
          release.await(5, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }
}
