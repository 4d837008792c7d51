package io.github.affinity4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.RoutingInfo;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(10)
final class ProbeReportTest {

  @Test
  void html_headerValuesWithMarkup_escapedEverywhere() {
    RoutingInfo hostile = new RoutingInfo("<script>alert(1)</script>", "id\"><img src=x>", null,
        null, null, null);
    TurnRecord ok = new TurnRecord(1, 1, true, 200, null, null, "resp_1", "hi", hostile, null,
        "1a2b3c4d", false, 0, 1, Duration.ofMillis(40));
    TurnRecord failed = new TurnRecord(1, 2, false, 400, "previous_response_not_found",
        "400: <b>not found</b>", null, "", hostile, "1a2b3c4d", null, false, 0, 1, Duration.ofMillis(7));

    String html = new ProbeReport("https://gw.example/openai/v1", List.of("model=<m>"),
        List.of("cookies set by the gateway: <i>"),
        List.of(ok, failed), "probe: conversations=1 survived=0", false, 5).html();

    assertThat(html).doesNotContain("<script", "<img", "<b>", "<m>", "<i>")
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;not found&lt;/b&gt;",
            "conversations broke", "failed turns");
  }

  @Test
  void html_latencyAxis_spansTheTurnsAskedForEvenWhenConversationsBrokeEarly() {
    TurnRecord first = new TurnRecord(1, 1, true, 200, null, null, "resp_1", "hi",
        new RoutingInfo("East US", null, null, null, null, null), null, null, false, 0, 1,
        Duration.ofMillis(120));

    String html = new ProbeReport("http://127.0.0.1/v1", List.of(), List.of(), List.of(first), "probe:", false, 4).html();

    assertThat(html).contains(">4</text>").contains("<circle");
  }

  @Test
  void niceStep_givesRoundStepsOfAtMostAboutFiveTicks() {
    assertThat(ProbeReport.niceStep(1)).isEqualTo(1);
    assertThat(ProbeReport.niceStep(7)).isEqualTo(2);
    assertThat(ProbeReport.niceStep(37)).isEqualTo(10);
    assertThat(ProbeReport.niceStep(412)).isEqualTo(100);
    assertThat(ProbeReport.niceStep(2_180)).isEqualTo(500);
    assertThat(ProbeReport.niceStep(61_000)).isEqualTo(20_000);
  }
}
