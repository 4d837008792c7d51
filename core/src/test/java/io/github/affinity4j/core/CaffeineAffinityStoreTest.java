package io.github.affinity4j.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.testsupport.MutableClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

final class CaffeineAffinityStoreTest {

  private static final AffinityToken TOKEN = AffinityToken.builder()
      .name("APIM-Backend-Affinity").value("v1").domain("host.test")
      .seenAt(Instant.parse("2025-06-01T12:00:00Z")).build();

  private final MutableClock clock = new MutableClock();

  @Test
  void putGetRemove_oneKey_roundTrips() {
    CaffeineAffinityStore store = store().build();
    ChainKey key = ChainKey.response("resp_1");

    assertThat(store.get(key)).isEmpty();
    store.put(key, TOKEN);
    assertThat(store.get(key)).contains(TOKEN);
    assertThat(store.get(ChainKey.conversation("resp_1"))).isEmpty();
    assertThat(store.estimatedSize()).isEqualTo(1);
    store.remove(key);
    assertThat(store.get(key)).isEmpty();
  }

  @Test
  void get_unusedLongerThanExpireAfterAccess_expires() {
    CaffeineAffinityStore store = store().expireAfterAccess(Duration.ofMinutes(10)).build();
    ChainKey key = ChainKey.response("resp_1");
    store.put(key, TOKEN);

    advance(Duration.ofMinutes(9));
    assertThat(store.get(key)).as("read refreshes the entry").contains(TOKEN);
    advance(Duration.ofMinutes(9));
    assertThat(store.get(key)).contains(TOKEN);
    advance(Duration.ofMinutes(10));
    assertThat(store.get(key)).isEmpty();
    store.cleanUp();
    assertThat(store.estimatedSize()).isZero();
  }

  @Test
  void put_overMaximumSize_evicts() {
    CaffeineAffinityStore store = store().maximumSize(2).build();
    for (int i = 0; i < 10; i++) {
      store.put(ChainKey.response("resp_" + i), TOKEN);
    }
    store.cleanUp();

    assertThat(store.estimatedSize()).isEqualTo(2);
  }

  @Test
  void builder_defaults_documentedValues() {
    CaffeineAffinityStore store = CaffeineAffinityStore.builder().build();

    assertThat(store.maximumSize()).isEqualTo(100_000);
    assertThat(store.expireAfterAccess()).isEqualTo(Duration.ofHours(1));
    assertThat(store.toString()).contains("maximumSize=100000");
  }

  @Test
  void builder_badArguments_throw() {
    CaffeineAffinityStore.Builder builder = CaffeineAffinityStore.builder();

    assertThatThrownBy(() -> builder.maximumSize(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.expireAfterAccess(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.expireAfterAccess(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.expireAfterAccess(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> builder.clock(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> builder.executor(null)).isInstanceOf(NullPointerException.class);
  }

  private CaffeineAffinityStore.Builder store() {
    return CaffeineAffinityStore.builder().clock(clock).executor(Runnable::run);
  }

  private void advance(Duration duration) {
    clock.advance(duration);
  }
}
