package io.github.affinity4j.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.BadRequestException;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.AffinityOpenAI;
import io.github.affinity4j.testkit.ApimSimulator;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The affinity store at its size bound, evicting under load: many conversations share a store of
 * a few keys, so most turns find their chain's pin gone. Such a turn goes unpinned; where the
 * gateway happens to send it to the chain's backend it simply succeeds, elsewhere it breaks and is
 * repaired from the journal. Never misrouted: no request carries a pin that is not its own chain's
 * (checked on the simulator's request log). With the journal at its bound too, a turn whose
 * history was evicted fails, and says which chain and why.
 */
@Tag("concurrency")
@Timeout(value = 15, unit = java.util.concurrent.TimeUnit.MINUTES)
final class StoreEvictionTest {

  /** How the conversations reach the pool. */
  enum Path {
    /** An {@link AffinityOpenAI} client: the interceptor holds pins and history. */
    INTERCEPTOR,
    /** {@link AffinityConversations} over a plain SDK client. */
    CONVERSATION
  }

  private final SuiteSize size = SuiteSize.current();
  private final int conversations = size.pick(120, 1_000);
  private final int turns = size.pick(6, 10);
  private final int threads = size.pick(8, 32);
  /** Half as many keys as conversations: a chain holds one key per response, so most pins are evicted. */
  private final long storeKeys = conversations / 2;
  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @ParameterizedTest
  @EnumSource(Path.class)
  void storeAtItsBound_pinsEvictedUnderLoad_everyTurnWholeAndNoneMisrouted(Path path) throws InterruptedException {
    CaffeineAffinityStore store = CaffeineAffinityStore.builder().maximumSize(storeKeys).executor(Runnable::run).build();
    Run run = run(path, store, CaffeineHistoryJournal.builder().build());

    assertThat(run.results).allSatisfy(result -> assertThat(result.failure()).as("turn %d of conversation %d",
        result.turn(), result.conversation()).isNull());
    assertThat(Rotation.contextProblems(run.results)).isEmpty();
    assertNeverMisrouted(run);
    assertThat(run.pins.unpinnedContinuations()).as("turns whose pin was evicted")
        .isGreaterThan(run.pins.continued() / 4);
    assertThat(run.repairs.repairsSucceeded()).as("evicted pins that landed elsewhere, repaired").isPositive();
    assertThat(run.repairs.repairsFailed()).isZero();
    // Caffeine applies a write's eviction when it drains its write buffer: a few writes may be pending.
    assertThat(store.estimatedSize()).as("the store held its bound").isLessThanOrEqualTo(storeKeys + threads);
    System.out.printf("affinity4j store eviction (%s, %s): %d turns, store of %d keys: %d continued turns, %d with"
            + " their pin, %d unpinned (evicted), %d repaired, 0 misrouted%n", size.label(), path,
        run.results.size(), storeKeys, run.pins.continued(), run.pins.pinned(), run.pins.unpinnedContinuations(),
        run.repairs.repairsSucceeded());
  }

  @ParameterizedTest
  @EnumSource(Path.class)
  void storeAndJournalAtTheirBounds_turnsWhoseHistoryIsGone_failNamingTheChain_noneMisrouted(Path path)
      throws InterruptedException {
    CaffeineAffinityStore store = CaffeineAffinityStore.builder().maximumSize(storeKeys).executor(Runnable::run).build();
    HistoryJournal journal = CaffeineHistoryJournal.builder().maximumEntries(64).executor(Runnable::run).build();
    Run run = run(path, store, journal);

    List<Rotation.Result> failures = run.results.stream().filter(result -> !result.succeeded()).toList();
    assertThat(failures).as("turns whose history was evicted").isNotEmpty();
    assertThat(failures).allSatisfy(failure -> {
      assertThat(failure.failure()).isInstanceOf(BadRequestException.class);
      BadRequestException error = (BadRequestException) failure.failure();
      assertThat(error.statusCode()).isEqualTo(400);
      assertThat(error.code()).contains("previous_response_not_found");
      // Named as values: by the conversation's note, or by the interceptor's header (no kind there:
      // the SDK's error says what broke).
      assertThat(ChaosReport.Naming.of(error)).hasValueSatisfying(naming -> {
        assertThat(naming.reason()).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
        assertThat(naming.chain()).isEqualTo(ChainKey.response(failure.previousResponseId()).toString());
        assertThat(naming.byNote()).isEqualTo(path == Path.CONVERSATION);
        if (naming.byNote()) {
          assertThat(naming.brokenBy()).contains(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND);
        }
      });
      assertThat(error.getMessage()).contains(failure.previousResponseId());
    });
    assertThat(run.repairs.repairsFailed()).as("one repair given up on per failed turn").isEqualTo(failures.size());
    assertThat(Rotation.contextProblems(run.results)).as("no turn succeeds with lost context").isEmpty();
    assertNeverMisrouted(run);
    System.out.printf("affinity4j store and journal eviction (%s, %s): %d turns, %d succeeded whole, %d failed"
            + " naming their chain; %d unpinned (evicted), 0 misrouted%n", size.label(), path, run.results.size(),
        run.results.size() - failures.size(), failures.size(), run.pins.unpinnedContinuations());
  }

  private static void assertNeverMisrouted(Run run) {
    assertThat(run.pins.violationExamples()).as("%d requests with another chain's pin or content",
        run.pins.violations()).isEmpty();
    assertThat(run.pins.pinned()).as("continued turns that still had their pin").isPositive();
  }

  private record Run(List<Rotation.Result> results, PinCheck.Result pins, RepairStats repairs) {}

  private Run run(Path path, AffinityStore store, HistoryJournal journal) throws InterruptedException {
    simulator = ApimSimulator.builder().backends(3).recordRequestBodies(true).requestLogLimit(Integer.MAX_VALUE)
        .start();
    List<Rotation.Chat> chats = new ArrayList<>();
    Supplier<RepairStats> repairs;
    if (path == Path.INTERCEPTOR) {
      AffinityInterceptor interceptor = AffinityInterceptor.builder().store(store).journal(journal).build();
      OpenAIClient client = remember(AffinityOpenAI.builder().baseUrl(simulator.openAiBaseUrl()).apiKey("test-key")
          .maxRetries(0).interceptor(interceptor).build());
      for (int i = 0; i < conversations; i++) {
        chats.add(Rotation.throughClient(client));
      }
      repairs = interceptor::repairStats;
    } else {
      OpenAIClient client = remember(OpenAIOkHttpClient.builder().baseUrl(simulator.openAiBaseUrl())
          .apiKey("test-key").maxRetries(0).build());
      AffinityConversations engine = AffinityConversations.builder().client(client).store(store).journal(journal)
          .defaults(ResponseCreateParams.builder().model(ChaosRun.MODEL).build()).build();
      for (int i = 0; i < conversations; i++) {
        chats.add(Rotation.through(engine.start()));
      }
      repairs = engine::repairStats;
    }
    List<Rotation.Result> results = Rotation.run(chats, turns, threads, done -> { });
    PinCheck.Result pins = PinCheck.check(simulator.requestLog(), Rotation.owners(results));
    return new Run(results, pins, repairs.get());
  }

  private OpenAIClient remember(OpenAIClient client) {
    clients.add(client);
    return client;
  }
}
