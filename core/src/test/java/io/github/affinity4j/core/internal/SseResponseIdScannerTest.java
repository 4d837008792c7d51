package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class SseResponseIdScannerTest {

  private static final String CREATED = "event: response.created\n"
      + "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\","
      + "\"object\":\"response\",\"status\":\"in_progress\",\"output\":[],"
      + "\"instructions\":\"Be brief.\"}}\n"
      + "\n";
  private static final String IN_PROGRESS = "event: response.in_progress\n"
      + "data: {\"type\":\"response.in_progress\",\"response\":{\"id\":\"resp_other\"}}\n"
      + "\n";
  private static final String STREAM = CREATED + IN_PROGRESS
      + "event: response.output_text.delta\n"
      + "data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n";

  @Test
  void feed_wholeStream_reportsIdOnceAndIsDone() {
    SseResponseIdScanner scanner = new SseResponseIdScanner();

    assertThat(scanner.feed(bytes(STREAM), 0, bytes(STREAM).length))
        .contains(ChainKey.response("resp_1"));
    assertThat(scanner.isDone()).isTrue();
    assertThat(scanner.feed(bytes(CREATED), 0, bytes(CREATED).length)).isEmpty();
  }

  @Test
  void feed_splitAtEveryByteBoundary_reportsIdExactlyOnce() {
    byte[] stream = bytes(STREAM);
    for (int split = 0; split <= stream.length; split++) {
      SseResponseIdScanner scanner = new SseResponseIdScanner();
      List<ChainKey> found = new ArrayList<>();
      scanner.feed(stream, 0, split).ifPresent(found::add);
      scanner.feed(stream, split, stream.length - split).ifPresent(found::add);
      assertThat(found).as("split at %d", split).containsExactly(ChainKey.response("resp_1"));
    }
  }

  @Test
  void feed_oneByteAtATime_reportsIdWhenFirstEventEnds() {
    byte[] stream = bytes(STREAM);
    SseResponseIdScanner scanner = new SseResponseIdScanner();
    List<Integer> reportedAt = new ArrayList<>();
    for (int i = 0; i < stream.length; i++) {
      if (scanner.feed(stream, i, 1).isPresent()) {
        reportedAt.add(i);
      }
    }
    // Reported at the blank line that ends the first event, and never again.
    assertThat(reportedAt).containsExactly(CREATED.length() - 1);
  }

  @Test
  void feed_crlfLineEnds_reportsId() {
    String crlf = CREATED.replace("\n", "\r\n");
    assertThat(feedOneByteAtATime(crlf)).contains(ChainKey.response("resp_1"));
    assertThat(feedWhole(crlf)).contains(ChainKey.response("resp_1"));
  }

  @Test
  void feed_crLineEnds_reportsId() {
    assertThat(feedOneByteAtATime(CREATED.replace("\n", "\r"))).contains(ChainKey.response("resp_1"));
  }

  @Test
  void feed_dataWithoutEventLineOrSpace_reportsIdFromType() {
    assertThat(feedWhole("data:{\"type\":\"response.created\",\"response\":{\"id\":\"resp_2\"}}\n\n"))
        .contains(ChainKey.response("resp_2"));
  }

  @Test
  void feed_eventNamedButDataWithoutType_reportsId() {
    assertThat(feedWhole("event: response.created\ndata: {\"response\":{\"id\":\"resp_3\"}}\n\n"))
        .contains(ChainKey.response("resp_3"));
    assertThat(feedWhole("data: {\"response\":{\"id\":\"resp_3\"}}\n\n")).isEmpty();
  }

  @Test
  void feed_dataSplitOverLines_joinsThem() {
    assertThat(feedWhole("event: response.created\r\n"
        + "data: {\"type\":\"response.created\",\r\n"
        + "data: \"response\":{\"id\":\"resp_4\"}}\r\n"
        + "\r\n"))
        .contains(ChainKey.response("resp_4"));
  }

  @Test
  void feed_keepAlivesAndUnknownFieldsBeforeEvent_skipsThem() {
    assertThat(feedOneByteAtATime(": ping\n\n: ping\nevent: keepalive\n\nid: 7\nretry: 1000\n"
        + "x-unknown-field-name: x\n" + CREATED))
        .contains(ChainKey.response("resp_1"));
  }

  @Test
  void feed_firstEventNotResponseCreated_givesUp() {
    SseResponseIdScanner scanner = new SseResponseIdScanner();
    String stream = IN_PROGRESS + CREATED;
    assertThat(scanner.feed(bytes(stream), 0, bytes(stream).length)).isEmpty();
    assertThat(scanner.isDone()).isTrue();

    assertThat(feedWhole("event: error\ndata: {\"type\":\"response.created\",\"response\":{\"id\":"
        + "\"resp_1\"}}\n\n")).isEmpty();
    assertThat(feedWhole("data: {\"type\":\"error\",\"response\":{\"id\":\"resp_1\"}}\n\n")).isEmpty();
    assertThat(feedWhole("event: response.created.later\ndata: {\"response\":{\"id\":\"resp_1\"}}\n\n"))
        .isEmpty();
  }

  @Test
  void feed_streamEndsBeforeResponseCreated_reportsNothing() {
    SseResponseIdScanner scanner = new SseResponseIdScanner();
    String cut = CREATED.substring(0, CREATED.length() - 1); // no blank line: the event never ends
    assertThat(scanner.feed(bytes(cut), 0, bytes(cut).length)).isEmpty();
    assertThat(scanner.isDone()).isFalse();
  }

  @Test
  void feed_badData_givesUpQuietly() {
    assertThat(feedWhole("data: not json\n\n" + CREATED)).isEmpty();
    assertThat(feedWhole("data:\n\n" + CREATED)).isEmpty();
    assertThat(feedWhole("data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp 1\"}}\n\n"))
        .isEmpty();
    assertThat(feedWhole("data: {\"type\":\"response.created\",\"response\":{}}\n\n")).isEmpty();
    assertThat(feedWhole("data: {\"type\":\"response.created\",\"response\":\"resp_1\"}\n\n"))
        .isEmpty();
  }

  @Test
  void feed_eventOverBound_givesUpWithoutBufferingMore() {
    SseResponseIdScanner scanner = new SseResponseIdScanner(64);
    assertThat(scanner.feed(bytes(CREATED), 0, bytes(CREATED).length)).isEmpty();
    assertThat(scanner.isDone()).isTrue();

    SseResponseIdScanner fits = new SseResponseIdScanner(bytes(CREATED).length);
    assertThat(fits.feed(bytes(CREATED), 0, bytes(CREATED).length))
        .contains(ChainKey.response("resp_1"));
  }

  @Test
  void feed_defaultBound_givesUpOnHugeFirstEvent() {
    SseResponseIdScanner scanner = new SseResponseIdScanner();
    byte[] chunk = bytes("data: " + "x".repeat(64 * 1024) + "\n");
    int fed = 0;
    while (!scanner.isDone() && fed < 2 * SseResponseIdScanner.DEFAULT_MAX_EVENT_BYTES) {
      scanner.feed(chunk, 0, chunk.length);
      fed += chunk.length;
    }
    assertThat(scanner.isDone()).isTrue();
    assertThat(fed).isBetween(SseResponseIdScanner.DEFAULT_MAX_EVENT_BYTES,
        SseResponseIdScanner.DEFAULT_MAX_EVENT_BYTES + chunk.length);
  }

  @Test
  void constructorAndFeed_badArguments_throw() {
    assertThatThrownBy(() -> new SseResponseIdScanner(0))
        .isInstanceOf(IllegalArgumentException.class);
    SseResponseIdScanner scanner = new SseResponseIdScanner();
    assertThatThrownBy(() -> scanner.feed(new byte[4], 2, 3))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  private static Optional<ChainKey> feedWhole(String stream) {
    byte[] bytes = bytes(stream);
    return new SseResponseIdScanner().feed(bytes, 0, bytes.length);
  }

  private static Optional<ChainKey> feedOneByteAtATime(String stream) {
    byte[] bytes = bytes(stream);
    SseResponseIdScanner scanner = new SseResponseIdScanner();
    Optional<ChainKey> found = Optional.empty();
    for (int i = 0; i < bytes.length; i++) {
      Optional<ChainKey> key = scanner.feed(bytes, i, 1);
      if (key.isPresent()) {
        assertThat(found).as("reported twice").isEmpty();
        found = key;
      }
    }
    return found;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
