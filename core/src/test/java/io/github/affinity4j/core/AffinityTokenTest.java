package io.github.affinity4j.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

final class AffinityTokenTest {

  private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");
  private static final String SECRET = "b3f1c0ffee-backend-7";

  @Test
  void toString_anyToken_showsFingerprintNeverValue() {
    AffinityToken token = token().routing(new RoutingInfo("eastus", "r1", "a1", 5L, 100L, null))
        .build();

    assertThat(token.toString())
        .doesNotContain(SECRET)
        .contains("fingerprint=" + token.fingerprint())
        .contains("APIM-Backend-Affinity")
        .contains("eastus");
  }

  @Test
  void build_equalNameDomainPath_stringsSharedBetweenTokens() {
    AffinityToken first = token().name(new String("APIM-Backend-Affinity")).domain(new String("Host.TEST"))
        .path(new String("/openai")).build();
    AffinityToken second = token().name(new String("APIM-Backend-Affinity")).domain(new String("host.test"))
        .path(new String("/openai")).build();

    assertThat(second.name()).isSameAs(first.name());
    assertThat(second.domain()).isSameAs(first.domain()).isEqualTo("host.test");
    assertThat(second.path()).isSameAs(first.path());
  }

  @Test
  void forStorage_responseDetails_keepsOnlyTheSharedRegion() {
    AffinityToken full = token().routing(new RoutingInfo(new String("swedencentral"), "req-1", "apim-1", 5L, 100L,
        Duration.ofSeconds(2))).build();
    AffinityToken other = token().routing(new RoutingInfo(new String("swedencentral"), "req-2", "apim-2", 4L, 90L,
        null)).build();

    AffinityToken stored = full.forStorage();

    assertThat(stored.routing()).isEqualTo(new RoutingInfo("swedencentral", null, null, null, null, null));
    assertThat(stored.toBuilder().routing(full.routing()).build()).as("nothing else changed").isEqualTo(full);
    assertThat(other.forStorage().routing()).isSameAs(stored.routing());
    assertThat(stored.forStorage()).isSameAs(stored);
    AffinityToken bare = token().build();
    assertThat(bare.forStorage()).isSameAs(bare);
  }

  @Test
  void fingerprint_sameValue_stableShortHexAndDistinct() {
    AffinityToken token = token().build();

    assertThat(token.fingerprint()).matches("[0-9a-f]{8}")
        .isEqualTo(token().seenAt(NOW.plusSeconds(5)).build().fingerprint())
        .isNotEqualTo(token().value(SECRET + "x").build().fingerprint());
    // first 8 hex digits of SHA-256("abc")
    assertThat(token().value("abc").build().fingerprint()).isEqualTo("ba7816bf");
  }

  @Test
  void cookiePair_anyToken_isNameEqualsValue() {
    assertThat(token().build().cookiePair()).isEqualTo("APIM-Backend-Affinity=" + SECRET);
  }

  @Test
  void appliesTo_hostOnly_exactHostOnly() {
    AffinityToken token = token().domain("my-apim.azure-api.net").hostOnly(true).build();

    assertThat(token.appliesTo("https", "my-apim.azure-api.net", "/openai/v1/responses", NOW)).isTrue();
    assertThat(token.appliesTo("https", "MY-APIM.azure-api.net", "/", NOW)).isTrue();
    assertThat(token.appliesTo("https", "eu.my-apim.azure-api.net", "/", NOW)).isFalse();
    assertThat(token.appliesTo("https", "other.azure-api.net", "/", NOW)).isFalse();
    assertThat(token.appliesTo("https", "azure-api.net", "/", NOW)).isFalse();
    assertThat(token.appliesTo("https", null, "/", NOW)).isFalse();
  }

  @Test
  void appliesTo_domainCookie_matchesSubdomainsNotLookalikes() {
    AffinityToken token = token().domain(".Example.com").hostOnly(false).build();

    assertThat(token.domain()).isEqualTo("example.com");
    assertThat(token.appliesTo("https", "example.com", "/", NOW)).isTrue();
    assertThat(token.appliesTo("https", "api.example.com", "/", NOW)).isTrue();
    assertThat(token.appliesTo("https", "a.b.example.com", "/", NOW)).isTrue();
    assertThat(token.appliesTo("https", "badexample.com", "/", NOW)).isFalse();
    assertThat(token.appliesTo("https", "example.com.evil.net", "/", NOW)).isFalse();
  }

  @Test
  void appliesTo_ipAddressDomain_neverSubdomainMatch() {
    AffinityToken token = token().domain("0.0.1").hostOnly(false).build();

    assertThat(token.appliesTo("https", "10.0.0.1", "/", NOW)).isFalse();
    assertThat(token().domain("127.0.0.1").build().appliesTo("http", "127.0.0.1", "/", NOW)).isTrue();
  }

  @Test
  void appliesTo_path_followsRfc6265PathMatch() {
    AffinityToken token = token().path("/openai").build();

    assertThat(token.appliesTo("https", "host.test", "/openai", NOW)).isTrue();
    assertThat(token.appliesTo("https", "host.test", "/openai/", NOW)).isTrue();
    assertThat(token.appliesTo("https", "host.test", "/openai/v1/responses", NOW)).isTrue();
    assertThat(token.appliesTo("https", "host.test", "/openaix/v1", NOW)).isFalse();
    assertThat(token.appliesTo("https", "host.test", "/", NOW)).isFalse();
    assertThat(token.appliesTo("https", "host.test", "", NOW)).isFalse();

    AffinityToken slash = token().path("/openai/").build();
    assertThat(slash.appliesTo("https", "host.test", "/openai/v1", NOW)).isTrue();
    assertThat(slash.appliesTo("https", "host.test", "/openai", NOW)).isFalse();

    AffinityToken root = token().build();
    assertThat(root.appliesTo("https", "host.test", "", NOW)).isTrue();
    assertThat(root.appliesTo("https", "host.test", "/anything", NOW)).isTrue();
  }

  @Test
  void appliesTo_secure_onlyOverHttps() {
    AffinityToken secure = token().secure(true).build();
    AffinityToken plain = token().secure(false).build();

    assertThat(secure.appliesTo("https", "host.test", "/", NOW)).isTrue();
    assertThat(secure.appliesTo("HTTPS", "host.test", "/", NOW)).isTrue();
    assertThat(secure.appliesTo("http", "host.test", "/", NOW)).isFalse();
    assertThat(plain.appliesTo("http", "host.test", "/", NOW)).isTrue();
  }

  @Test
  void appliesTo_expiry_expiredAtAndAfterExpiresAt() {
    AffinityToken token = token().expiresAt(NOW.plusSeconds(60)).build();

    assertThat(token.appliesTo("https", "host.test", "/", NOW)).isTrue();
    assertThat(token.appliesTo("https", "host.test", "/", NOW.plusSeconds(60))).isFalse();
    assertThat(token.isExpired(NOW.plusSeconds(61))).isTrue();
    assertThat(token().build().isExpired(NOW.plus(Duration.ofDays(3650)))).isFalse();
  }

  @Test
  void constructor_badValue_throwsWithoutEchoingValue() {
    for (String bad : new String[] {SECRET + ";x", SECRET + "\r\nX-Evil: 1", SECRET + "\u00e9",
        SECRET + "\u0000"}) {
      assertThatThrownBy(() -> token().value(bad).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageNotContaining(SECRET);
    }
  }

  @Test
  void constructor_cookieOver4KiB_throws() {
    String name = "APIM-Backend-Affinity";
    String fits = "v".repeat(AffinityToken.MAX_COOKIE_SIZE - name.length());
    assertThat(token().value(fits).build().value()).isEqualTo(fits);
    assertThatThrownBy(() -> token().value(fits + "v").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining(fits);
  }

  @Test
  void constructor_badNameDomainOrPath_throws() {
    assertThatThrownBy(() -> token().name("bad name").build())
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> token().name("").build()).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> token().domain(".").build())
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> token().path("openai").build())
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void constructor_pathOverCap_throwsWithoutEchoingPath() {
    String fits = "/" + "p".repeat(AffinityToken.MAX_PATH_LENGTH - 1);
    assertThat(token().path(fits).build().path()).isEqualTo(fits);

    String longPath = fits + "/x".repeat(1000);
    assertThatThrownBy(() -> token().path(longPath).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining(fits)
        .hasMessageNotContaining(SECRET);
    assertThatThrownBy(() -> token().path(fits + "q").build())
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void constructor_domainOverDnsNameLength_throwsWithoutEchoingDomain() {
    String label = "a".repeat(63) + ".";
    String fits = (label.repeat(4)).substring(0, AffinityToken.MAX_DOMAIN_LENGTH - "test".length()) + "test";
    assertThat(fits).hasSize(253);
    assertThat(token().domain(fits).build().domain()).isEqualTo(fits);
    assertThat(token().domain("." + fits).hostOnly(false).build().domain())
        .as("a leading dot is not part of the name").isEqualTo(fits);

    String longDomain = "b".repeat(2000) + ".test";
    assertThatThrownBy(() -> token().domain(longDomain).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining("bbbb")
        .hasMessageNotContaining(SECRET);
    assertThatThrownBy(() -> token().domain("c" + fits).build())
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void forStorage_regionOverCap_storesNoRegion() {
    String longRegion = "West US ".repeat(250);
    AffinityToken full = token().routing(new RoutingInfo(longRegion, "req-1", null, null, null, null))
        .build();

    AffinityToken stored = full.forStorage();

    assertThat(full.routing().region()).isNull();
    assertThat(stored.routing()).isSameAs(RoutingInfo.EMPTY);
    assertThat(stored.toString()).doesNotContain("West US").doesNotContain(SECRET);
    String fits = "r".repeat(RoutingInfo.MAX_REGION_LENGTH);
    assertThat(token().routing(new RoutingInfo(fits, null, null, null, null, null)).build()
        .forStorage().routing().region()).isEqualTo(fits);
  }

  @Test
  void constructor_nullOptionals_defaulted() {
    AffinityToken token =
        new AffinityToken("SessionId", "", "Host.Test", true, null, null, false, NOW, null);

    assertThat(token.path()).isEqualTo("/");
    assertThat(token.domain()).isEqualTo("host.test");
    assertThat(token.routing()).isSameAs(RoutingInfo.EMPTY);
  }

  @Test
  void builder_missingRequired_throws() {
    assertThatThrownBy(() -> AffinityToken.builder().value("v").domain("h").seenAt(NOW).build())
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> AffinityToken.builder().name("n").value("v").domain("h").build())
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void toBuilder_roundTrip_equal() {
    AffinityToken token = token().expiresAt(NOW.plusSeconds(1)).secure(true).hostOnly(false)
        .path("/openai").routing(new RoutingInfo("westus", null, null, null, null, null)).build();

    assertThat(token.toBuilder().build()).isEqualTo(token);
  }

  private static AffinityToken.Builder token() {
    return AffinityToken.builder()
        .name("APIM-Backend-Affinity")
        .value(SECRET)
        .domain("host.test")
        .seenAt(NOW);
  }
}
