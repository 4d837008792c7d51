package io.github.affinity4j.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.affinity4j.core.internal.TurnInput;
import io.github.affinity4j.testsupport.BadInput;
import io.github.affinity4j.testsupport.FuzzSuite;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bad routing headers for {@link RoutingInfo}, and bad request paths for {@link io.github.affinity4j.core.internal.TurnInput}'s path
 * rules. Properties: no exception; every number read is a non-negative value the header spelled
 * out; a wait is one a caller can use ({@code toMillis()} works); text is trimmed and never blank;
 * a chain key from a path is a valid id that the path holds.
 */
@Tag("fuzz")
@Timeout(600)
final class RoutingInfoFuzzTest {

  private static final List<String> NAMES = List.of("x-ms-region", "x-backend-region", "x-request-id",
      "apim-request-id", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens", "retry-after",
      "retry-after-ms", "x-ms-retry-after-ms");
  private static final List<String> VALUES = List.of("West US", " East US 2 ", "0", "1", "998731", "10",
      "1500.5", "2.", ".5", "-1", "+1", "1e3", "999999999999999999", "9223372036854775807",
      "18446744073709551616", "Wed, 21 Oct 2015 07:28:00 GMT", "", "   ", "0f6d2c1e-7c1e-4b9a");
  private static final List<String> PATHS = List.of("/openai/v1/responses", "/openai/v1/responses/resp_1",
      "/openai/v1/responses/resp_1/input_items", "/openai/v1/conversations/conv_1/items",
      "/openai/threads/thread_1/runs", "/openai/v1/responses/input_tokens", "/responses//x", "/");

  @Test
  void mutatedHeaders_routingInfo_neverThrowsAndReadsOnlyUsableValues() {
    FuzzSuite.run("routing headers", 1_000, 100_000, Duration.ofSeconds(30), (random, index) -> {
      Map<String, String> headers = new HashMap<>();
      int count = random.nextInt(NAMES.size() + 1);
      for (int i = 0; i < count; i++) {
        String value = BadInput.oneOf(random, VALUES);
        headers.put(BadInput.oneOf(random, NAMES), switch (random.nextInt(4)) {
          case 0 -> value;
          case 1 -> BadInput.mutate(random, value);
          case 2 -> "9".repeat(1 + random.nextInt(25)) + (random.nextBoolean() ? "" : "." + random.nextInt(1000));
          default -> BadInput.text(random, 40);
        });
      }
      check(headers);
    });
  }

  @Test
  void mutatedPaths_chainKeys_neverThrowAndFindOnlyValidIdsInThePath() {
    FuzzSuite.run("request paths", 1_000, 100_000, Duration.ofSeconds(30), (random, index) -> {
      String path = random.nextInt(5) == 0 ? BadInput.text(random, 80)
          : BadInput.mutate(random, BadInput.oneOf(random, PATHS));
      checkPath(BadInput.oneOf(random, "POST", "GET", "DELETE", "post", ""), path);
    });
  }

  @FuzzTest(maxDuration = "10m")
  void jazzerHeaders(FuzzedDataProvider data) {
    Map<String, String> headers = new HashMap<>();
    for (String name : NAMES) {
      if (data.consumeBoolean()) {
        headers.put(name, data.consumeString(40));
      }
    }
    check(headers);
    checkPath(data.pickValue(new String[] {"POST", "GET"}), data.consumeRemainingAsString());
  }

  static void check(Map<String, String> headers) {
    RoutingInfo info = RoutingInfo.from(name -> headers.get(name.toLowerCase(Locale.ROOT)));
    for (String text : new String[] {info.region(), info.requestId(), info.apimRequestId()}) {
      if (text != null) {
        assertThat(text).isNotEmpty().isEqualTo(text.trim());
        assertThat(headers.values()).anyMatch(value -> value.contains(text));
      }
    }
    for (Long number : new Long[] {info.remainingRequests(), info.remainingTokens()}) {
      if (number != null) {
        assertThat(number).isNotNegative();
        assertThat(headers.values()).anyMatch(value -> value.trim().equals(number.toString())
            || value.trim().replaceFirst("^0+(?=.)", "").equals(number.toString()));
      }
    }
    if (info.retryAfter() != null) {
      assertThat(info.retryAfter().isNegative()).isFalse();
      // A caller turns the wait into a sleep or a log field; that must work for any header.
      assertThat(info.retryAfter().toMillis()).isNotNegative();
    }
    assertThat(info.isEmpty()).isEqualTo(info.equals(RoutingInfo.EMPTY));
    assertThat(info.toString()).isNotNull();
  }

  static void checkPath(String method, String path) {
    boolean affected = TurnInput.isAffected(method, path);
    boolean body = TurnInput.hasBodyKey(method, path);
    assertThat(!body || affected).as("a body-key request is an affected request").isTrue();
    TurnInput.fromPath(path).ifPresent(key -> {
      assertThat(ChainKey.isValidId(key.id())).isTrue();
      assertThat(path).contains("/" + key.id());
    });
  }

}
