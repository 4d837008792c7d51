package io.github.affinity4j.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

final class RoutingInfoTest {

  @Test
  void from_allHeaders_parsesEach() {
    RoutingInfo info = RoutingInfo.from(headers(
        "X-MS-Region", "East US",
        "x-request-id", "req-1",
        "apim-request-id", "6b1c-apim",
        "x-ratelimit-remaining-requests", "99",
        "x-ratelimit-remaining-tokens", "149000",
        "retry-after-ms", "1500"));

    assertThat(info).isEqualTo(
        new RoutingInfo("East US", "req-1", "6b1c-apim", 99L, 149000L, Duration.ofMillis(1500)));
    assertThat(info.isEmpty()).isFalse();
  }

  @Test
  void from_noHeaders_returnsEmpty() {
    RoutingInfo info = RoutingInfo.from(name -> null);

    assertThat(info).isSameAs(RoutingInfo.EMPTY);
    assertThat(info.isEmpty()).isTrue();
  }

  @Test
  void from_region_prefersMsRegionOverBackendRegion() {
    assertThat(RoutingInfo.from(headers("x-backend-region", "westeurope")).region())
        .isEqualTo("westeurope");
    assertThat(RoutingInfo.from(headers("x-backend-region", "westeurope", "x-ms-region", "Sweden Central"))
        .region()).isEqualTo("Sweden Central");
    assertThat(RoutingInfo.from(headers("x-backend-region", "westeurope", "x-ms-region", "  ")).region())
        .isEqualTo("westeurope");
  }

  @Test
  void from_retryAfter_msHeadersFirstThenSeconds() {
    assertThat(retryAfter("retry-after-ms", "250", "x-ms-retry-after-ms", "500", "retry-after", "3"))
        .isEqualTo(Duration.ofMillis(250));
    assertThat(retryAfter("x-ms-retry-after-ms", "500", "retry-after", "3"))
        .isEqualTo(Duration.ofMillis(500));
    assertThat(retryAfter("retry-after", "3")).isEqualTo(Duration.ofSeconds(3));
    assertThat(retryAfter("retry-after-ms", "12.75")).isEqualTo(Duration.ofMillis(12));
    assertThat(retryAfter("retry-after-ms", " 40 ")).isEqualTo(Duration.ofMillis(40));
  }

  @Test
  void from_garbageRetryAfter_ignoredAndNextHeaderUsed() {
    assertThat(retryAfter("retry-after-ms", "soon", "retry-after", "2")).isEqualTo(Duration.ofSeconds(2));
    assertThat(retryAfter("retry-after-ms", "-5")).isNull();
    assertThat(retryAfter("retry-after-ms", ".5")).isNull();
    assertThat(retryAfter("retry-after-ms", "5.")).isNull();
    assertThat(retryAfter("retry-after-ms", "1e3")).isNull();
    assertThat(retryAfter("retry-after-ms", "NaN")).isNull();
    assertThat(retryAfter("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")).isNull();
    assertThat(retryAfter("retry-after", "1.5")).isNull();
    assertThat(retryAfter("retry-after", "9".repeat(19))).isNull();
    // 18 digits of seconds overflow toMillis(): unusable, so ignored (RoutingInfoFuzzTest found it).
    assertThat(retryAfter("retry-after", "9".repeat(18))).isNull();
    assertThat(retryAfter("retry-after", String.valueOf(Long.MAX_VALUE / 1000)).toMillis())
        .isEqualTo(Long.MAX_VALUE / 1000 * 1000);
  }

  @Test
  void from_garbageNumbers_ignored() {
    RoutingInfo info = RoutingInfo.from(headers(
        "x-ratelimit-remaining-requests", "-1",
        "x-ratelimit-remaining-tokens", "12k"));

    assertThat(info.remainingRequests()).isNull();
    assertThat(info.remainingTokens()).isNull();
    assertThat(info.isEmpty()).isTrue();
  }

  @Test
  void from_rateLimited429Fixture_parsesSecondsAndZeroRemaining() {
    // headers of fixtures/errors/rate_limited_429.json
    RoutingInfo info = RoutingInfo.from(headers(
        "retry-after", "3",
        "x-ratelimit-remaining-requests", "0",
        "x-ratelimit-remaining-tokens", "0"));

    assertThat(info.retryAfter()).isEqualTo(Duration.ofSeconds(3));
    assertThat(info.remainingRequests()).isZero();
    assertThat(info.remainingTokens()).isZero();
  }

  @Test
  void from_regionOverCap_droppedAndBackendRegionUsed() {
    String longRegion = "x".repeat(2000);
    String fits = "y".repeat(RoutingInfo.MAX_REGION_LENGTH);

    assertThat(RoutingInfo.from(headers("x-ms-region", longRegion)).region()).isNull();
    assertThat(RoutingInfo.from(headers("x-ms-region", longRegion))).isSameAs(RoutingInfo.EMPTY);
    assertThat(RoutingInfo.from(headers("x-ms-region", longRegion, "x-backend-region", "westeurope"))
        .region()).isEqualTo("westeurope");
    assertThat(RoutingInfo.from(headers("x-backend-region", longRegion)).region()).isNull();
    assertThat(RoutingInfo.from(headers("x-ms-region", fits)).region()).isEqualTo(fits);
    assertThat(RoutingInfo.from(headers("x-ms-region", "  " + fits + "  ")).region())
        .as("the cap applies after trimming").isEqualTo(fits);
    assertThat(RoutingInfo.from(headers("x-ms-region", fits + "y")).region()).isNull();
  }

  @Test
  void from_requestIdsOverCap_dropped() {
    String longId = "0f6d2c1e-".repeat(250);
    String fits = "i".repeat(RoutingInfo.MAX_REQUEST_ID_LENGTH);

    RoutingInfo info = RoutingInfo.from(headers("x-request-id", longId, "apim-request-id", longId,
        "x-ms-region", "East US"));

    assertThat(info).isEqualTo(new RoutingInfo("East US", null, null, null, null, null));
    assertThat(RoutingInfo.from(headers("x-request-id", fits, "apim-request-id", fits)))
        .isEqualTo(new RoutingInfo(null, fits, fits, null, null, null));
  }

  @Test
  void constructor_textOverCaps_replacedByNull() {
    String region = "r".repeat(RoutingInfo.MAX_REGION_LENGTH);
    String id = "i".repeat(RoutingInfo.MAX_REQUEST_ID_LENGTH);

    RoutingInfo over = new RoutingInfo(region + "r", id + "i", id + "i", 1L, 2L, Duration.ofSeconds(3));
    RoutingInfo at = new RoutingInfo(region, id, id, null, null, null);

    assertThat(over).isEqualTo(new RoutingInfo(null, null, null, 1L, 2L, Duration.ofSeconds(3)));
    assertThat(at.region()).isSameAs(region);
    assertThat(at.requestId()).isSameAs(id);
    assertThat(at.apimRequestId()).isSameAs(id);
    assertThat(new RoutingInfo("x".repeat(2000), null, null, null, null, null).isEmpty()).isTrue();
  }

  private static Duration retryAfter(String... namesAndValues) {
    return RoutingInfo.from(headers(namesAndValues)).retryAfter();
  }

  /** A case-insensitive lookup, as the caller must provide. */
  private static java.util.function.Function<String, String> headers(String... namesAndValues) {
    Map<String, String> map = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    for (int i = 0; i < namesAndValues.length; i += 2) {
      map.put(namesAndValues[i], namesAndValues[i + 1]);
    }
    return map::get;
  }
}
