package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class SseCompletedScannerTest {

  private static final String OUTPUT = "[{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
      + "\"content\":[{\"type\":\"output_text\",\"text\":\"Hi there\"}]}]";
  private static final String CREATED = "event: response.created\n"
      + "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\","
      + "\"output\":[]}}\n\n";
  private static final String DELTAS = "event: response.output_text.delta\n"
      + "data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n"
      + ": keep-alive\n\n"
      + "event: response.output_text.delta\n"
      + "data: {\"type\":\"response.output_text.delta\",\"delta\":\" there\"}\n\n";
  private static final String COMPLETED = "event: response.completed\n"
      + "data: {\"type\":\"response.completed\",\"sequence_number\":9,\"response\":{\"id\":\"resp_1\","
      + "\"object\":\"response\",\"status\":\"completed\",\"output\":" + OUTPUT + "}}\n\n";
  private static final String STREAM = CREATED + DELTAS + COMPLETED;

  @Test
  void feed_wholeStream_reportsCompletedResponseOnce() {
    SseCompletedScanner scanner = new SseCompletedScanner();

    TurnOutput output = scanner.feed(bytes(STREAM), 0, bytes(STREAM).length).orElseThrow();

    assertThat(output.responseId()).isEqualTo("resp_1");
    assertThat(output.status()).contains("completed");
    assertThat(text(output.items())).isEqualTo(OUTPUT);
    assertThat(scanner.isDone()).isTrue();
    assertThat(scanner.feed(bytes(COMPLETED), 0, bytes(COMPLETED).length)).isEmpty();
  }

  @Test
  void feed_oneByteAtATime_reportsAtTheBlankLineEndingTheEvent() {
    byte[] stream = bytes(STREAM);
    SseCompletedScanner scanner = new SseCompletedScanner();
    List<Integer> reportedAt = new ArrayList<>();
    for (int i = 0; i < stream.length; i++) {
      if (scanner.feed(stream, i, 1).isPresent()) {
        reportedAt.add(i);
      }
    }
    assertThat(reportedAt).containsExactly(stream.length - 1);
  }

  @Test
  void feed_splitAtEveryByteBoundary_reportsExactlyOnce() {
    byte[] stream = bytes(STREAM);
    for (int split = 0; split <= stream.length; split++) {
      SseCompletedScanner scanner = new SseCompletedScanner();
      List<String> found = new ArrayList<>();
      scanner.feed(stream, 0, split).ifPresent(o -> found.add(o.responseId()));
      scanner.feed(stream, split, stream.length - split).ifPresent(o -> found.add(o.responseId()));
      assertThat(found).as("split at %d", split).containsExactly("resp_1");
    }
  }

  @Test
  void feed_crlfAndCrLineEnds_reportsResponse() {
    assertThat(feedOneByteAtATime(STREAM.replace("\n", "\r\n"))).map(TurnOutput::responseId).contains("resp_1");
    assertThat(feedOneByteAtATime(STREAM.replace("\n", "\r"))).map(TurnOutput::responseId).contains("resp_1");
  }

  @Test
  void feed_truncatedBeforeTheBlankLine_reportsNothing() {
    String cut = STREAM.substring(0, STREAM.length() - 1);
    SseCompletedScanner scanner = new SseCompletedScanner();

    assertThat(scanner.feed(bytes(cut), 0, bytes(cut).length)).isEmpty();
    assertThat(scanner.isDone()).isFalse();
    String midJson = STREAM.substring(0, STREAM.length() - 30);
    assertThat(feedOneByteAtATime(midJson)).isEmpty();
  }

  @Test
  void feed_namedEventsOtherThanCompleted_skippedWithoutBuffering() {
    // A delta far larger than the bound passes, because a named non-terminal event is not buffered.
    String hugeDelta = "event: response.output_text.delta\ndata: {\"delta\":\"" + "x".repeat(10_000)
        + "\"}\n\n";
    int bound = bytes(COMPLETED).length;
    SseCompletedScanner scanner = new SseCompletedScanner(bound);

    String stream = CREATED + hugeDelta + COMPLETED;
    assertThat(scanner.feed(bytes(stream), 0, bytes(stream).length)).map(TurnOutput::responseId)
        .contains("resp_1");
  }

  @Test
  void feed_unnamedEvents_typeDecides() {
    String unnamed = "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_0\",\"output\":[]}}\n\n"
        + "data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n"
        + "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_2\",\"output\":[]}}\n\n";
    assertThat(feedOneByteAtATime(unnamed)).map(TurnOutput::responseId).contains("resp_2");
    assertThat(feedOneByteAtATime("data: {\"response\":{\"id\":\"resp_2\",\"output\":[]}}\n\n"))
        .as("neither name nor type").isEmpty();
  }

  @Test
  void feed_incompleteResponse_reportedAsTerminal() {
    String incomplete = "event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":"
        + "{\"id\":\"resp_3\",\"status\":\"incomplete\",\"output\":" + OUTPUT + "}}\n\n";
    TurnOutput output = feedOneByteAtATime(CREATED + incomplete).orElseThrow();
    assertThat(output.status()).contains("incomplete");
    assertThat(output.isContinuable()).isTrue();
  }

  @Test
  void feed_failedOrError_doneWithNothing() {
    String[] ends = {
        "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"resp_1\",\"output\":[]}}\n\n",
        "event: error\ndata: {\"type\":\"error\",\"message\":\"boom\"}\n\n",
        "data: {\"type\":\"response.failed\",\"response\":{\"id\":\"resp_1\",\"output\":[]}}\n\n",
        "data: {\"type\":\"error\",\"message\":\"boom\"}\n\n"};
    for (String end : ends) {
      SseCompletedScanner scanner = new SseCompletedScanner();
      byte[] head = bytes(CREATED + end);
      assertThat(scanner.feed(head, 0, head.length)).as(end).isEmpty();
      assertThat(scanner.isDone()).as(end).isTrue();
      assertThat(scanner.feed(bytes(COMPLETED), 0, bytes(COMPLETED).length)).as("nothing after the end").isEmpty();
    }
  }

  @Test
  void feed_completedOverBound_givesUp() {
    SseCompletedScanner scanner = new SseCompletedScanner(64);

    assertThat(scanner.feed(bytes(STREAM), 0, bytes(STREAM).length)).isEmpty();
    assertThat(scanner.isDone()).isTrue();
  }

  @Test
  void feed_badTerminalData_givesUpQuietly() {
    assertThat(feedOneByteAtATime("event: response.completed\ndata: {not json\n\n" + COMPLETED)).isEmpty();
    assertThat(feedOneByteAtATime("event: response.completed\ndata: {\"type\":\"response.completed\","
        + "\"response\":{\"id\":\"resp_1\"}}\n\n")).as("no output").isEmpty();
    assertThat(feedOneByteAtATime("data: garbage\n\n" + COMPLETED)).as("unnamed junk is skipped")
        .map(TurnOutput::responseId).contains("resp_1");
  }

  @Test
  void constructorAndFeed_badArguments_throw() {
    assertThatThrownBy(() -> new SseCompletedScanner(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new SseCompletedScanner().feed(new byte[4], 3, 2))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  private static Optional<TurnOutput> feedOneByteAtATime(String stream) {
    byte[] bytes = bytes(stream);
    SseCompletedScanner scanner = new SseCompletedScanner();
    Optional<TurnOutput> found = Optional.empty();
    for (int i = 0; i < bytes.length; i++) {
      Optional<TurnOutput> output = scanner.feed(bytes, i, 1);
      if (output.isPresent()) {
        assertThat(found).as("reported twice").isEmpty();
        found = output;
      }
    }
    return found;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
