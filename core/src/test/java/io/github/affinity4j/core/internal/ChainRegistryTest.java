package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.testsupport.LogCapture;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

final class ChainRegistryTest {

  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");
  private static final String HOST = "my-apim.azure-api.net";
  private static final String PATH = "/openai/v1/responses";

  private final RecordingListener events = new RecordingListener();
  private final ChainRegistry registry = ChainRegistry.builder()
      .store(CaffeineAffinityStore.builder().executor(Runnable::run).build())
      .clock(Clock.fixed(NOW, ZoneOffset.UTC))
      .listener(events)
      .build();

  @Test
  void bind_newChainWithCookie_pinsIt() {
    AffinityToken fresh = token("backend-a");

    assertThat(registry.bind(response(1), null, fresh)).contains(fresh);
    assertThat(pin(response(1))).contains(fresh);
    assertThat(events.lines).containsExactly(
        "bound " + response(1) + " backend-a fresh",
        "applied " + response(1) + " backend-a");
  }

  @Test
  void bind_freshCookieWithResponseDetails_storesOnlyTheRegion() {
    AffinityToken fresh = token("backend-a").toBuilder()
        .routing(new RoutingInfo("eastus", "req-1", "apim-1", 5L, 100L, null)).build();

    assertThat(registry.bind(response(1), null, fresh)).contains(fresh);

    assertThat(registry.store().get(response(1)).orElseThrow().routing())
        .isEqualTo(new RoutingInfo("eastus", null, null, null, null, null));
  }

  @Test
  void bind_newChainWithoutCookie_noPin() {
    assertThat(registry.bind(response(1), null, null)).isEmpty();

    assertThat(pin(response(1))).isEmpty();
    assertThat(registry.stats()).isEqualTo(new AffinityStats(0, 0, 1, 0, 0));
    assertThat(events.lines).isEmpty();
  }

  @Test
  void bind_chainOfFiveWithoutFurtherCookies_everyLinkInheritsFirstPin() {
    AffinityToken first = token("backend-a");
    registry.bind(response(1), null, first);
    for (int turn = 2; turn <= 5; turn++) {
      assertThat(pin(response(turn - 1))).as("turn %d", turn).contains(first);
      assertThat(registry.bind(response(turn), response(turn - 1), null)).contains(first);
    }

    assertThat(pin(response(5))).contains(first);
    assertThat(registry.stats()).isEqualTo(new AffinityStats(5, 5, 0, 0, 5));
    assertThat(events.lines).contains("bound " + response(5) + " backend-a inherited");
  }

  @Test
  void bind_newCookieValueMidChain_reportsBackendChangeAndRepins() {
    AffinityToken a = token("backend-a");
    AffinityToken b = token("backend-b");
    registry.bind(response(1), null, a);
    registry.bind(response(2), response(1), null);

    assertThat(registry.bind(response(3), response(2), b)).contains(b);
    registry.bind(response(4), response(3), null);

    assertThat(pin(response(2))).contains(a);
    assertThat(pin(response(4))).contains(b);
    assertThat(registry.stats().backendChanges()).isEqualTo(1);
    assertThat(events.lines).contains("changed " + response(3) + " backend-a -> backend-b");
  }

  @Test
  void bind_sameValueNewRegion_reportsBackendChange() {
    registry.bind(response(1), null, token("backend-a", "eastus"));
    registry.bind(response(2), response(1), token("backend-a", "eastus"));
    registry.bind(response(3), response(2), token("backend-a", null));
    assertThat(registry.stats().backendChanges()).isZero();

    registry.bind(response(4), response(2), token("backend-a", "westus"));

    assertThat(registry.stats().backendChanges()).isEqualTo(1);
    assertThat(events.lines).contains("changed " + response(4) + " backend-a -> backend-a");
  }

  @Test
  void bind_conversation_followsLatestFreshToken() {
    ChainKey conversation = ChainKey.conversation("conv_1");
    AffinityToken a = token("backend-a");
    AffinityToken b = token("backend-b");
    registry.bind(conversation, null, a); // POST /conversations

    assertThat(pin(conversation)).contains(a);
    assertThat(registry.bind(response(1), conversation, null)).contains(a);
    assertThat(pin(conversation)).contains(a);

    assertThat(registry.bind(response(2), conversation, b)).contains(b);
    assertThat(pin(conversation)).contains(b);
    assertThat(pin(response(1))).contains(a);
    assertThat(pin(response(2))).contains(b);
    assertThat(events.lines).contains("bound " + conversation + " backend-b fresh");
  }

  @Test
  void bind_noKeyAfterConversation_updatesConversationOnly() {
    ChainKey conversation = ChainKey.conversation("conv_1");
    registry.bind(conversation, null, token("backend-a"));

    assertThat(registry.bind(null, conversation, token("backend-b"))).contains(token("backend-b"));

    assertThat(pin(conversation)).contains(token("backend-b"));
  }

  @Test
  void bind_noKeyAfterResponse_neverMovesTheResponse() {
    registry.bind(response(1), null, token("backend-a"));

    assertThat(registry.bind(null, response(1), token("backend-b"))).isEmpty();
    assertThat(registry.bind(null, null, token("backend-b"))).isEmpty();

    assertThat(pin(response(1))).contains(token("backend-a"));
  }

  @Test
  void bind_sameKeyWithoutCookie_bindsNothingNew() {
    registry.bind(ChainKey.thread("thread_1"), null, token("backend-a"));

    assertThat(registry.bind(ChainKey.thread("thread_1"), ChainKey.thread("thread_1"), null))
        .contains(token("backend-a"));
    assertThat(registry.stats().tokensBound()).isEqualTo(1);
  }

  @Test
  void bind_expiredFreshCookie_unpinsKeyAndConversation() {
    ChainKey conversation = ChainKey.conversation("conv_1");
    registry.bind(conversation, null, token("backend-a"));
    registry.bind(response(1), conversation, null);
    AffinityToken deleted = token("").toBuilder().expiresAt(Instant.EPOCH).build();

    assertThat(registry.bind(response(1), conversation, deleted)).isEmpty();

    assertThat(pin(conversation)).isEmpty();
    assertThat(pin(response(1))).isEmpty();
  }

  @Test
  void pinFor_cookieForOtherHostPathOrScheme_notSent() {
    registry.bind(response(1), null, token("backend-a").toBuilder().secure(true).path("/openai").build());

    assertThat(registry.pinFor(response(1), "https", "evil.example.com", PATH)).isEmpty();
    assertThat(registry.pinFor(response(1), "http", HOST, PATH)).isEmpty();
    assertThat(registry.pinFor(response(1), "https", HOST, "/other/responses")).isEmpty();
    assertThat(registry.pinFor(response(1), "https", HOST, PATH)).isPresent();
    assertThat(registry.stats().pinsMissing()).isEqualTo(3);
    assertThat(registry.stats().pinsApplied()).isEqualTo(1);
  }

  @Test
  void pinFor_expiredCookie_missingAndRemoved() {
    registry.bind(response(1), null, token("backend-a").toBuilder().expiresAt(NOW.plusSeconds(1)).build());
    ChainRegistry later = registry.toBuilder().clock(Clock.fixed(NOW.plusSeconds(1), ZoneOffset.UTC))
        .build();

    assertThat(later.pinFor(response(1), "https", HOST, PATH)).isEmpty();
    assertThat(registry.store().get(response(1))).isEmpty();
    assertThat(later.stats().pinsMissing()).isEqualTo(1);
  }

  @Test
  void bind_inheritFromExpiredPin_bindsNothing() {
    registry.bind(response(1), null, token("backend-a").toBuilder().expiresAt(NOW.plusSeconds(1)).build());
    ChainRegistry later = registry.toBuilder().clock(Clock.fixed(NOW.plusSeconds(2), ZoneOffset.UTC))
        .build();

    assertThat(later.bind(response(2), response(1), null)).isEmpty();
    assertThat(registry.store().get(response(2))).isEmpty();
  }

  @Test
  void listener_throws_requestStillPinnedAndWarned() {
    AffinityListener throwing = new AffinityListener() {
      @Override
      public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
        throw new IllegalStateException("listener bug");
      }

      @Override
      public void tokenApplied(ChainKey key, AffinityToken token) {
        throw new IllegalStateException("listener bug");
      }

      @Override
      public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
        throw new IllegalStateException("listener bug");
      }
    };
    ChainRegistry withThrowing = registry.toBuilder().listener(throwing).build();

    String log = LogCapture.during(() -> {
      assertThat(withThrowing.bind(response(1), null, token("backend-a"))).isPresent();
      assertThat(withThrowing.bind(response(2), response(1), token("backend-b"))).isPresent();
      assertThat(withThrowing.pinFor(response(2), "https", HOST, PATH)).contains(token("backend-b"));
    }).text();

    assertThat(withThrowing.stats()).isEqualTo(new AffinityStats(2, 1, 0, 1, 2));
    assertThat(log).contains("WARN").contains("threw in tokenBound").contains("threw in tokenApplied")
        .contains("threw in backendChanged");
  }

  @Test
  void listener_throwsCheckedException_asKotlinCodeMay_requestStillPinnedAndWarned() {
    AffinityListener throwing = new AffinityListener() {
      @Override
      public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
        throw sneaky(new java.io.IOException("listener bug"));
      }

      @Override
      public void tokenApplied(ChainKey key, AffinityToken token) {
        throw sneaky(new java.io.IOException("listener bug"));
      }
    };
    ChainRegistry withThrowing = registry.toBuilder().listener(throwing).build();

    String log = LogCapture.during(() -> {
      assertThat(withThrowing.bind(response(1), null, token("backend-a"))).isPresent();
      assertThat(withThrowing.pinFor(response(1), "https", HOST, PATH)).contains(token("backend-a"));
    }).text();

    assertThat(log).contains("WARN").contains("threw in tokenBound").contains("threw in tokenApplied");
  }

  /** Throws a checked exception past the compiler, as a listener written in Kotlin can. */
  @SuppressWarnings("unchecked")
  private static <E extends Throwable> RuntimeException sneaky(Throwable checked) throws E {
    throw (E) checked;
  }

  @ParameterizedTest(name = "checked={0}")
  @ValueSource(booleans = {false, true})
  void store_throws_requestGoesOnWithoutPinAndWarned(boolean checked) {
    // A store written in Kotlin may throw a checked exception.
    Supplier<RuntimeException> failure = () -> checked ? sneaky(new java.io.IOException("store down"))
        : new IllegalStateException("store down");
    AffinityStore broken = new AffinityStore() {
      @Override
      public Optional<AffinityToken> get(ChainKey key) {
        throw failure.get();
      }

      @Override
      public void put(ChainKey key, AffinityToken token) {
        throw failure.get();
      }

      @Override
      public void remove(ChainKey key) {
        throw failure.get();
      }

      @Override
      public long estimatedSize() {
        throw failure.get();
      }
    };
    ChainRegistry withBroken = registry.toBuilder().store(broken).build();

    String log = LogCapture.during(() -> {
      assertThat(withBroken.bind(response(1), null, token("backend-a"))).isEmpty();
      assertThat(withBroken.pinFor(response(1), "https", HOST, PATH)).isEmpty();
      assertThat(withBroken.stats()).isEqualTo(new AffinityStats(0, 0, 1, 0, 0));
    }).text();

    assertThat(log).contains("WARN").contains("threw on get").contains("threw on put")
        .contains("threw on estimatedSize");
    assertThat(events.lines).isEmpty();
  }

  @Test
  void logs_debugAndWarn_showFingerprintNeverValue() {
    String secret = "s3cr3t-affinity-value";
    AffinityToken a = token(secret);
    AffinityToken b = token(secret + "-2");
    ChainRegistry noisy = registry.toBuilder().listener(new AffinityListener() {
      @Override
      public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
        throw new IllegalStateException("listener saw " + token);
      }
    }).build();

    String log = LogCapture.during(() -> {
      noisy.bind(response(1), null, a);
      noisy.bind(response(2), response(1), null);
      noisy.bind(response(3), response(2), b);
      noisy.pinFor(response(3), "https", HOST, PATH);
      noisy.pinFor(response(3), "https", "other.host", PATH);
    }).text();

    assertThat(log).contains(a.fingerprint()).contains(b.fingerprint()).doesNotContain(secret);
  }

  @Test
  void isAffinityCookie_configuredNamesOnly() {
    assertThat(registry.isAffinityCookie("APIM-Backend-Affinity")).isTrue();
    assertThat(registry.isAffinityCookie("apim-backend-affinity")).isFalse();
    assertThat(registry.isAffinityCookie("SessionId")).isFalse();
    assertThat(registry.isAffinityCookie(null)).isFalse();

    ChainRegistry both = ChainRegistry.builder().cookieNames("SessionId", "APIM-Backend-Affinity").build();
    assertThat(both.isAffinityCookie("SessionId")).isTrue();
    assertThat(both.isAffinityCookie("APIM-Backend-Affinity")).isTrue();
    assertThat(both.cookieNames()).containsExactly("SessionId", "APIM-Backend-Affinity");
  }

  @Test
  void builder_badCookieNames_throw() {
    ChainRegistry.Builder builder = ChainRegistry.builder();

    assertThatThrownBy(builder::cookieNames)
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.cookieNames("Session Id"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.cookieNames((String) null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.store(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void toBuilder_sharesStoreAndSettings() {
    registry.bind(response(1), null, token("backend-a"));
    ChainRegistry copy = registry.toBuilder().build();

    assertThat(copy.store()).isSameAs(registry.store());
    assertThat(copy.clock()).isEqualTo(registry.clock());
    assertThat(copy.pinFor(response(1), "https", HOST, PATH)).contains(token("backend-a"));
    assertThat(copy.stats().pinsApplied()).isEqualTo(1);
    assertThat(registry.stats().pinsApplied()).isZero();
  }

  @Test
  void concurrentChains_eachRequestGetsItsOwnChainsPin() throws Exception {
    int threads = 16;
    int chainsPerThread = 50;
    int turns = 6;
    CountDownLatch start = new CountDownLatch(1);
    Queue<String> failures = new ConcurrentLinkedQueue<>();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      for (int t = 0; t < threads; t++) {
        int thread = t;
        pool.execute(() -> {
          try {
            start.await();
            for (int c = 0; c < chainsPerThread; c++) {
              String chain = thread + "_" + c;
              AffinityToken mine = token("backend-" + chain);
              ChainKey previous = ChainKey.response("resp_" + chain + "_0");
              registry.bind(previous, null, mine);
              for (int turn = 1; turn < turns; turn++) {
                Optional<AffinityToken> pin = registry.pinFor(previous, "https", HOST, PATH);
                if (!pin.equals(Optional.of(mine))) {
                  failures.add(chain + " turn " + turn + " got " + pin);
                }
                ChainKey next = ChainKey.response("resp_" + chain + "_" + turn);
                registry.bind(next, previous, null);
                previous = next;
              }
            }
          } catch (Throwable e) {
            failures.add(e.toString());
          }
        });
      }
      start.countDown();
      pool.shutdown();
      if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
        Thread.getAllStackTraces().forEach((thread, stack) ->
            failures.add(thread + " " + java.util.Arrays.toString(stack)));
      }
    } finally {
      pool.shutdownNow();
    }

    assertThat(failures).isEmpty();
    assertThat(registry.stats().pinsApplied()).isEqualTo((long) threads * chainsPerThread * (turns - 1));
    assertThat(registry.stats().pinsMissing()).isZero();
  }

  private Optional<AffinityToken> pin(ChainKey key) {
    return registry.pinFor(key, "https", HOST, PATH);
  }

  private static ChainKey response(int n) {
    return ChainKey.response("resp_" + n);
  }

  private static AffinityToken token(String value) {
    return token(value, null);
  }

  private static AffinityToken token(String value, String region) {
    return AffinityToken.builder()
        .name("APIM-Backend-Affinity")
        .value(value)
        .domain(HOST)
        .seenAt(NOW)
        .routing(new RoutingInfo(region, null, null, null, null, null))
        .build();
  }


  /** Records events as lines; tokens by value, which tests may read but the library never logs. */
  private static final class RecordingListener extends AffinityListener {
    final List<String> lines = new CopyOnWriteArrayList<>();

    @Override
    public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
      lines.add("bound " + key + " " + token.value() + (inherited ? " inherited" : " fresh"));
    }

    @Override
    public void tokenApplied(ChainKey key, AffinityToken token) {
      lines.add("applied " + key + " " + token.value());
    }

    @Override
    public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
      lines.add("changed " + key + " " + previous.value() + " -> " + current.value());
    }
  }
}
