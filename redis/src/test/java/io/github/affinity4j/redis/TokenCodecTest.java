package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.RoutingInfo;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

final class TokenCodecTest {

  private static final String VALUE = "2d6f1c0e9b7a4f3d8c5e1a2b3c4d5e6f708192a3";

  @Test
  void roundTrip_everyField_equalToTheOriginal() {
    AffinityToken token = AffinityToken.builder()
        .name("APIM-Backend-Affinity").value(VALUE).domain("my-apim.azure-api.net").hostOnly(false)
        .path("/openai").expiresAt(Instant.parse("2026-11-22T10:15:30.123456789Z")).secure(true)
        .seenAt(Instant.parse("2026-11-22T09:15:30.987654321Z"))
        .routing(new RoutingInfo("Sweden Central", "req-1", "apim-1", 999L, 999_969L, Duration.ofMillis(1500)))
        .build();

    assertThat(TokenCodec.decode(TokenCodec.encode(token))).isEqualTo(token);
  }

  @Test
  void roundTrip_minimalAndEdgeValues_equalToTheOriginal() {
    AffinityToken minimal = AffinityToken.builder().name("SessionId").value("")
        .domain("127.0.0.1").seenAt(Instant.EPOCH).build();
    AffinityToken past = minimal.toBuilder().expiresAt(Instant.ofEpochMilli(Long.MIN_VALUE))
        .seenAt(Instant.ofEpochSecond(-1, 1)).routing(new RoutingInfo(null, null, null, 0L, Long.MAX_VALUE,
            Duration.ofSeconds(Long.MAX_VALUE))).build();

    assertThat(TokenCodec.decode(TokenCodec.encode(minimal))).isEqualTo(minimal);
    assertThat(TokenCodec.decode(TokenCodec.encode(past))).isEqualTo(past);
  }

  @Test
  void encode_typicalApimPin_compact() {
    AffinityToken pin = AffinityToken.builder().name("APIM-Backend-Affinity").value(VALUE)
        .domain("my-apim.azure-api.net").seenAt(Instant.now()).routing(RoutingInfo.from(h ->
            h.equals("x-ms-region") ? "Sweden Central" : null)).build();

    // 96 bytes of text, 4 lengths, 3 flag bytes, seenAt to the nanosecond (up to 10)
    assertThat(TokenCodec.encode(pin).length).isLessThanOrEqualTo(120);
  }

  @Test
  void decode_unknownVersionTruncatedOrTrailing_throwsWithoutTheValue() {
    byte[] good = TokenCodec.encode(AffinityToken.builder().name("SessionId").value(VALUE)
        .domain("h").seenAt(Instant.EPOCH).build());
    byte[] newer = good.clone();
    newer[0] = 2;

    assertThatThrownBy(() -> TokenCodec.decode(newer)).hasMessageContaining("version 2");
    for (int length = 0; length < good.length; length++) {
      byte[] truncated = Arrays.copyOf(good, length);
      assertThatThrownBy(() -> TokenCodec.decode(truncated)).isInstanceOf(IllegalArgumentException.class)
          .message().doesNotContain(VALUE);
    }
    byte[] trailing = Arrays.copyOf(good, good.length + 1);
    assertThatThrownBy(() -> TokenCodec.decode(trailing)).hasMessageContaining("trailing");
    assertThat(new String(good, StandardCharsets.ISO_8859_1)).contains(VALUE);
  }
}
