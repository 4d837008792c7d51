package io.github.affinity4j.core.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.ErrorFixtures;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.testsupport.BadInput;
import io.github.affinity4j.testsupport.LogCapture;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The engine and its values never reveal a conversation or a pin. With every log level on (a
 * {@link LogCapture}), a chain is journaled, breaks, is retried, replayed and repaired, another
 * fails for want of history, and the journal, the store and a listener fail: no log event, no
 * exception, no listener event and no {@code toString()} of any public type of this module holds
 * a word of the conversation or an affinity cookie value. Every public type whose
 * {@code toString()} is its own is covered, so a new one cannot be added unchecked.
 */
@Tag("security")
@Timeout(60)
final class EngineSecurityTest {
  private static final String SAID = "zebra-said-";
  private static final String ANSWERED = "zebra-answered-";
  private static final String PIN = "s3cr3t-pin-value";

  @Test
  void repairAtEveryLevel_engine_neverLogsNorShowsConversationOrPin() {
    List<Object> values = new ArrayList<>();
    List<String> seen = new ArrayList<>();
    List<String> events = new CopyOnWriteArrayList<>();
    AffinityListener listener = new AffinityListener() {
      @Override
      public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
        events.add(key + " " + token + " " + inherited);
      }

      @Override
      public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
        events.add(key + " " + previous + " " + current);
      }

      @Override
      public void repairStarted(ChainKey chain, ChainBreak cause) {
        events.add(chain + " " + cause);
        values.add(cause);
      }

      @Override
      public void repaired(ChainRepair repair) {
        events.add(repair.toString());
        values.add(repair);
      }

      @Override
      public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
        events.add(chain + " " + cause + " " + reason);
        throw new IllegalStateException("listener failed"); // a listener's bug: WARN, ignored
      }
    };
    CaffeineAffinityStore store = CaffeineAffinityStore.builder().build();
    CaffeineHistoryJournal journal = CaffeineHistoryJournal.builder().build();
    ChainRegistry registry = ChainRegistry.builder().store(store).listener(listener).build();
    Engine repairer = Engine.builder().journal(journal).listener(listener)
        .retryPause(Duration.ZERO).build();
    String log;
    try (LogCapture logs = LogCapture.start()) {
      // Three turns, journaled, pinned.
      AffinityToken pin = token(PIN);
      values.add(pin);
      String previous = null;
      for (int n = 1; n <= 3; n++) {
        ChainTurn turn = repairer.repairTurn(request(n, previous), registry.pinFor(key(previous), "https",
            "apim.example.com", "/openai/v1/responses").orElse(null), ChainScope.NONE);
        turn.succeeded(pin, RoutingInfo.EMPTY);
        TurnOutput output = output("resp_" + n, n);
        turn.record(output);
        registry.bind(ChainKey.response("resp_" + n), key(previous), n == 1 ? pin : null);
        TurnInput input = TurnInput.fromRequestBody(request(n, previous), 0, request(n, previous).length)
            .orElseThrow();
        values.addAll(List.of(turn, output, input, input.itemSource(), output.itemSource()));
        previous = "resp_" + n;
      }
      // The chain breaks: retried, then replayed (the replay body is the history), then repaired.
      byte[] notFound = ErrorFixtures.load("previous_response_not_found.json").body();
      ChainTurn broken = repairer.repairTurn(request(4, "resp_3"), pin, ChainScope.NONE);
      RepairDecision retry = broken.decide(400, notFound);
      RepairDecision replay = broken.decide(400, notFound);
      assertThat(new String(replay.replayBody(), UTF_8)).contains(SAID + "1").contains(ANSWERED + "3");
      broken.succeeded(token("s3cr3t-new-pin"), RoutingInfo.EMPTY);
      broken.record(output("resp_4", 4));
      registry.bind(ChainKey.response("resp_4"), null, token("s3cr3t-new-pin"));
      values.addAll(List.of(retry, replay, broken, journal.history(ChainKey.response("resp_4")),
          JournalTurn.builder().responseId("resp_9").input(request(9, null)).output(output("resp_9", 9).items()).build()));

      // A chain whose history is missing: the repair fails with an amended error.
      ChainTurn orphan = repairer.repairTurn(request(5, "resp_unknown"), pin, ChainScope.NONE);
      orphan.decide(400, notFound);
      RepairDecision failed = orphan.decide(400, notFound);
      assertThat(failed.action()).isEqualTo(RepairDecision.Action.FAIL);
      seen.add(failed.message());
      seen.add(new String(failed.errorBody().orElseThrow(), UTF_8));
      values.add(failed);

      // Failures that are not breaks: named, never with the pin or content.
      ChainTurn limited = repairer.repairTurn(request(8, "resp_3"), pin, ChainScope.NONE);
      RepairDecision unrepaired = limited.decide(429, ErrorFixtures.load("rate_limited_429.json").body());
      assertThat(unrepaired.action()).isEqualTo(RepairDecision.Action.NONE);
      seen.add(new String(unrepaired.errorBody().orElseThrow(), UTF_8));
      values.addAll(List.of(unrepaired, unrepaired.note().orElseThrow(), limited.brokeOff().orElseThrow(),
          repairer.repairTurn(request(8, "resp_3"), null, ChainScope.NONE).decideConnectionFailure().note().orElseThrow()));

      // A conversation, and a journal and a store that fail.
      repairer.recordConversation(("{\"items\":[{\"type\":\"message\",\"role\":\"user\",\"content\":\"" + SAID
          + "conv\"}]}").getBytes(UTF_8), ChainKey.conversation("conv_1"), ChainScope.NONE);
      Engine broke = Engine.builder().journal(new FailingJournal()).build();
      ChainTurn lost = broke.repairTurn(request(6, "resp_3"), pin, ChainScope.NONE);
      lost.record(output("resp_6", 6));
      lost.decide(503, new byte[0]);
      seen.add(String.valueOf(lost.decide(503, new byte[0])));
      ChainRegistry failingStore = ChainRegistry.builder().store(new FailingStore()).build();
      failingStore.bind(ChainKey.response("resp_7"), null, pin);
      failingStore.pinFor(ChainKey.response("resp_7"), "https", "apim.example.com", "/");
      // The same engine behind an adapter: a turn continuing the repaired chain, sent and read.
      Engine engine = Engine.builder().store(store).journal(journal).listener(listener)
          .retryPause(Duration.ZERO).build();
      Turn turn = engine.turn(ChainScope.NONE, "POST", "https", "apim.example.com", "/openai/v1/responses",
          request(10, "resp_4"), false);
      assertThat(turn).isNotNull();
      assertThat(turn.pin()).as("the repaired chain's new pin").isNotNull();
      byte[] responseBody = ("{\"id\":\"resp_10\",\"object\":\"response\",\"status\":\"completed\",\"output\":"
          + new String(output("resp_10", 10).items(), UTF_8) + "}").getBytes(UTF_8);
      turn.run(new Turn.Transport<String>() {
        @Override
        public String send(byte[] replayBody) {
          return "sent";
        }

        @Override
        public Turn.Outcome judge(String attempt) {
          return Turn.Outcome.succeeded(token("s3cr3t-turn-pin"), () -> RoutingInfo.EMPTY);
        }

        @Override
        public void discard(String attempt) {}

        @Override
        public String deliver(String attempt, RepairDecision decision) {
          return attempt;
        }
      });
      turn.responseBody(responseBody);
      values.addAll(List.of(engine, turn, TurnOutput.read(responseBody, 0, responseBody.length, true)));

      values.addAll(List.of(registry, repairer, store, journal, registry.stats(), repairer.repairStats(),
          RoutingInfo.from(name -> name.equals("x-ms-region") ? "West US" : null), ChainKey.response("resp_1"),
          journal.history(ChainKey.conversation("conv_1")), failingStore.stats(),
          ChainScope.builder().origin("https", "apim.example.com", 443, "/openai")
              .credentials(header -> "s3cr3t-" + header).build()));
      log = logs.text();
    }

    assertThat(log).contains("DEBUG ").contains("WARN ");
    seen.add(log);
    seen.addAll(events);
    for (Object value : values) {
      seen.add(String.valueOf(value));
    }
    for (String text : seen) {
      assertThat(text).doesNotContain(SAID).doesNotContain(ANSWERED).doesNotContain(PIN)
          .doesNotContain("s3cr3t");
    }
    assertThat(log).contains("repaired by replay").contains("HistoryJournal").contains("AffinityStore")
        .contains("AffinityListener");
    assertPublicTypesCovered(values);
  }

  @Test
  void badCookies_tokenAndRegistry_exceptionMessagesNeverHoldTheValue() {
    Random random = new Random(7);
    for (int i = 0; i < 2_000; i++) {
      String secret = "s3cr3t" + BadInput.text(random, 40) + (random.nextBoolean() ? ";" : "")
          + (random.nextInt(10) == 0 ? "x".repeat(5_000) : "");
      String name = random.nextBoolean() ? "APIM-Backend-Affinity" : "bad name " + secret;
      try {
        AffinityToken token = AffinityToken.builder().name(name).value(secret).domain("apim.example.com")
            .path(random.nextBoolean() ? "/" : "no-slash" + secret).seenAt(Instant.EPOCH).build();
        assertThat(token.toString()).doesNotContain("s3cr3t");
      } catch (IllegalArgumentException | NullPointerException e) {
        assertThat(e.getMessage()).doesNotContain("s3cr3t");
      }
    }
    assertThatThrownBy(() -> ChainRegistry.builder().cookieNames("bad name s3cr3t"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageNotContaining("s3cr3t");
    assertThatThrownBy(() -> ChainKey.response("resp s3cr3t"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageNotContaining("s3cr3t");
    assertThatThrownBy(() -> TurnOutput.of("bad id s3cr3t", null, new byte[0]))
        .isInstanceOf(IllegalArgumentException.class).hasMessageNotContaining("s3cr3t");
  }

  /**
   * Every public type of the module whose {@code toString()} is its own (a record's, or an
   * override) must be among {@code values}; others show only their class and hash.
   */
  private static void assertPublicTypesCovered(List<Object> values) {
    Set<Class<?>> covered = values.stream().map(Object::getClass).collect(Collectors.toSet());
    List<String> uncovered = new ArrayList<>();
    for (Class<?> type : publicTypes()) {
      if (type.isInterface() || type.isEnum() || Modifier.isAbstract(type.getModifiers())) {
        continue;
      }
      boolean ownToString;
      try {
        ownToString = type.getMethod("toString").getDeclaringClass() != Object.class;
      } catch (NoSuchMethodException e) {
        throw new AssertionError(e);
      }
      if (ownToString && !covered.contains(type)) {
        uncovered.add(type.getName());
      }
    }
    assertThat(uncovered).as("public types with a toString() of their own not checked here").isEmpty();
  }

  /** The public types of the module's API package and of its internal one, which adapters use. */
  static List<Class<?>> publicTypes() {
    List<Class<?>> types = new ArrayList<>();
    for (String pkg : List.of(ChainKey.class.getPackageName(), Engine.class.getPackageName())) {
      types.addAll(publicTypes(pkg));
    }
    return types;
  }

  private static List<Class<?>> publicTypes(String pkg) {
    try {
      Path classes = Path.of(ChainKey.class.getProtectionDomain().getCodeSource().getLocation().toURI())
          .resolve(pkg.replace('.', '/'));
      try (Stream<Path> files = Files.list(classes)) {
        List<Class<?>> types = new ArrayList<>();
        for (Path file : files.filter(f -> f.toString().endsWith(".class")).toList()) {
          String name = file.getFileName().toString().replace(".class", "");
          Class<?> type = Class.forName(pkg + "." + name);
          boolean visible = Modifier.isPublic(type.getModifiers()) && !type.isAnonymousClass()
              && (type.getEnclosingClass() == null || Modifier.isPublic(type.getEnclosingClass().getModifiers()));
          if (visible) {
            types.add(type);
          }
        }
        return types;
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException | ClassNotFoundException e) {
      throw new AssertionError(e);
    }
  }

  // --- pieces ---

  private static ChainKey key(String responseId) {
    return responseId == null ? ChainKey.response("resp_none") : ChainKey.response(responseId);
  }

  private static byte[] request(int n, String previous) {
    return ("{\"model\":\"m\",\"input\":[{\"id\":\"msg_in" + n + "\",\"type\":\"message\",\"role\":\"user\","
        + "\"content\":\"" + SAID + n + "\"}]" + (previous == null ? "" : ",\"previous_response_id\":\"" + previous
        + "\"") + "}").getBytes(UTF_8);
  }

  private static TurnOutput output(String id, int n) {
    return TurnOutput.of(id, "completed", ("[{\"id\":\"msg_out" + n + "\",\"type\":\"message\",\"role\":"
        + "\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"" + ANSWERED + n + "\"}]}]").getBytes(UTF_8));
  }

  private static AffinityToken token(String value) {
    return AffinityToken.builder().name("APIM-Backend-Affinity").value(value).domain("apim.example.com")
        .secure(true).seenAt(Instant.EPOCH).routing(RoutingInfo.from(n -> n.equals("x-ms-region") ? "East US" : null))
        .build();
  }

  /** A journal whose every call fails. */
  private static final class FailingJournal implements HistoryJournal {
    @Override
    public void record(JournalTurn turn) {
      throw new IllegalStateException("journal down on " + turn);
    }

    @Override
    public void forget(ChainKey chain) {
      throw new IllegalStateException("journal down");
    }

    @Override
    public void recordConversation(ChainKey conversation, byte[] items) {
      throw new IllegalStateException("journal down");
    }

    @Override
    public ChainHistory history(ChainKey chain) {
      throw new IllegalStateException("journal down on " + chain);
    }

    @Override
    public void clear() {}

    @Override
    public long estimatedSize() {
      return 0;
    }
  }

  /** A store whose every call fails. */
  private static final class FailingStore implements AffinityStore {
    @Override
    public Optional<AffinityToken> get(ChainKey key) {
      throw new IllegalStateException("store down on " + key);
    }

    @Override
    public void put(ChainKey key, AffinityToken token) {
      throw new IllegalStateException("store down on " + key + " " + token);
    }

    @Override
    public void remove(ChainKey key) {
      throw new IllegalStateException("store down");
    }

    @Override
    public long estimatedSize() {
      throw new IllegalStateException("store down");
    }
  }
}
