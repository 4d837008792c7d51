package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

// The scanners' tests cover the SSE format end to end; these cover the Handler contract itself.
final class SseParserTest {

  private static final byte[] WANTED = bytes("wanted");

  @Test
  void feed_everyEventLine_asksHandlerEvenOnceSkipping() {
    Recorder recorder = new Recorder();

    recorder.feed("event: other\ndata: a\nevent: wanted\ndata: b\n\n");

    // Declined at the first name, the event stays skipped though its last name is wanted.
    assertThat(recorder.calls).containsExactly("wantsData other", "wantsData wanted",
        "endEvent data=true named=true skipped=true length=0");
  }

  @Test
  void feed_keepAlivesAndLoneNames_endWithoutDataAndResetTheName() {
    Recorder recorder = new Recorder();

    recorder.feed(": ping\n\nevent: wanted\n\ndata:x\ndata\n\n");

    assertThat(recorder.calls).containsExactly(
        "endEvent data=false named=false skipped=false length=0",
        "wantsData wanted",
        "endEvent data=false named=true skipped=false length=0",
        "endEvent data=true named=false skipped=false length=2 x\n");
  }

  @Test
  void feed_eventBound_countsEveryLineButStartsAgainAtEachBlankLine() {
    Recorder recorder = new Recorder(1024, 8);

    recorder.feed(": ping\n\n".repeat(10) + "data:1\n\n"); // 8 bytes each, blank line included
    assertThat(recorder.calls).hasSize(11).doesNotContain("tooLarge");

    Recorder over = new Recorder(1024, 8);
    over.feed(": pings\n\n");
    assertThat(over.calls).containsExactly("tooLarge");
    assertThat(over.sse.isStopped()).isTrue();
  }

  @Test
  void feed_afterALargeEvent_dropsTheGrownBuffer() {
    Recorder recorder = new Recorder(1 << 20, Long.MAX_VALUE);

    recorder.feed("data: " + "x".repeat(100_000) + "\n\n");

    assertThat(recorder.calls).hasSize(1);
    assertThat(recorder.sse.data().length).isLessThanOrEqualTo(256);
  }

  @Test
  void eventNameIs_longNames_matchNothingAndOverCapacityThrows() {
    Recorder recorder = new Recorder();

    recorder.feed("event: " + "w".repeat(40) + "\n");

    assertThat(recorder.sse.eventNameIs(bytes("w".repeat(32)))).isFalse();
    assertThatThrownBy(() -> recorder.sse.eventNameIs(bytes("w".repeat(40))))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static final class Recorder implements SseParser.Handler {
    final List<String> calls = new ArrayList<>();
    final SseParser sse;

    Recorder() {
      this(1024, Long.MAX_VALUE);
    }

    Recorder(int maxDataBytes, long maxEventBytes) {
      sse = new SseParser(this, maxDataBytes, maxEventBytes);
    }

    void feed(String stream) {
      byte[] bytes = bytes(stream);
      for (int i = 0; i < bytes.length; i++) {
        sse.feed(bytes, i, 1);
      }
    }

    @Override
    public boolean wantsData() {
      calls.add("wantsData " + (sse.eventNameIs(WANTED) ? "wanted" : "other"));
      return sse.eventNameIs(WANTED);
    }

    @Override
    public void endEvent(boolean hasData) {
      String data = new String(sse.data(), 0, sse.dataLength(), StandardCharsets.UTF_8);
      calls.add("endEvent data=" + hasData + " named=" + sse.isNamed() + " skipped="
          + sse.isSkipped() + " length=" + sse.dataLength() + (data.isEmpty() ? "" : " " + data));
    }

    @Override
    public void tooLarge() {
      calls.add("tooLarge");
    }
  }
}
