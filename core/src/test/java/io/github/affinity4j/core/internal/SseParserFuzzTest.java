package io.github.affinity4j.core.internal;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.testsupport.BadInput;
import io.github.affinity4j.testsupport.FuzzSuite;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bad streams for {@link SseParser} through its two scanners, {@link SseResponseIdScanner} and
 * {@link SseCompletedScanner}: seeded mutations of real Responses API streams, checked against a
 * plain reference reading of the SSE format. Properties: no exception; the same answer however
 * the stream is cut into chunks; an id or output is reported only when the stream's own first (or
 * terminal) event carries it; a 100 MiB stream is scanned without being held.
 *
 * <p>{@code mvn test -Daffinity4j.suite=full} runs the long version; {@code JAZZER_FUZZ=1} with
 * {@code -Dtest=SseParserFuzzTest#jazzer*} fuzzes one Jazzer target, coverage-guided.
 */
@Tag("fuzz")
@Timeout(600)
final class SseParserFuzzTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  static final String OUTPUT = "[{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
      + "\"content\":[{\"type\":\"output_text\",\"text\":\"Hi there\"}]}]";
  static final String CREATED = "event: response.created\n"
      + "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\","
      + "\"output\":[]}}\n\n";
  static final String DELTA = "event: response.output_text.delta\n"
      + "data: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n";
  static final String COMPLETED = "event: response.completed\n"
      + "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"object\":\"response\","
      + "\"status\":\"completed\",\"output\":" + OUTPUT + "}}\n\n";

  /** Real streams, in the shapes servers send: named, unnamed, CRLF, CR, keep-alives, failures. */
  static final List<String> SEEDS = List.of(
      CREATED + DELTA + ": keep-alive\n\n" + DELTA + COMPLETED,
      (CREATED + DELTA + COMPLETED).replace("\n", "\r\n"),
      (CREATED + COMPLETED).replace("\n", "\r"),
      "data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_2\"}}\n\n"
          + "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_2\",\"output\":[]}}\n\n",
      ": hello\n\nevent: response.created\ndata: {\"type\":\"response.created\",\ndata: \"response\":"
          + "{\"id\":\"resp_3\"}}\nid: 7\nretry: 10\n\n" + COMPLETED.replace("resp_1", "resp_3"),
      CREATED + "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"resp_1\"}}\n\n",
      CREATED + "event: error\ndata: {\"type\":\"error\",\"message\":\"boom\"}\n\n" + COMPLETED,
      CREATED + COMPLETED.replace("response.completed", "response.incomplete").replace("\"completed\"",
          "\"incomplete\""),
      "event: response.in_progress\ndata: {\"type\":\"response.in_progress\"}\n\n" + CREATED + COMPLETED);

  // --- seeded suites (CI runs the quick version) ---

  @Test
  void mutatedStreams_scanners_neverThrowAgreeWithTheReferenceAndIgnoreChunking() {
    FuzzSuite.run("SSE mutated streams", 400, 40_000, Duration.ofSeconds(30), (random, index) ->
        checkStream(BadInput.mutate(random, BadInput.oneOf(random, SEEDS).getBytes(UTF_8)), random));
  }

  @Test
  void randomStreams_scanners_neverThrowAgreeWithTheReferenceAndIgnoreChunking() {
    FuzzSuite.run("SSE random streams", 300, 30_000, Duration.ofSeconds(30), (random, index) -> {
      byte[] input = random.nextBoolean()
          ? BadInput.bytes(random, random.nextInt(512))
          : BadInput.text(random, 512).getBytes(UTF_8);
      checkStream(input, random);
    });
  }

  @Test
  void eventsReassembled_scanners_sameAnswerForEveryLineEndAndChunking() {
    // Streams built from parts (events, comments, line ends of every kind) rather than mutated, so
    // valid streams with odd framing are common, and the reference must find their ids.
    FuzzSuite.run("SSE reassembled", 300, 30_000, Duration.ofSeconds(30), (random, index) -> {
      StringBuilder stream = new StringBuilder();
      String end = BadInput.oneOf(random, "\n", "\r\n", "\r");
      int events = random.nextInt(6);
      for (int i = 0; i < events; i++) {
        String part = BadInput.oneOf(random, SEEDS.get(0), CREATED, DELTA, COMPLETED, ": ping\n\n",
            "event: response.created\n\n", "data:\n\n", "event:" + "x".repeat(40) + "\ndata: {}\n\n");
        stream.append(random.nextInt(4) == 0 ? part : part.replace("\n", end));
      }
      checkStream(stream.toString().getBytes(UTF_8), random);
    });
  }

  // --- bounded memory: 100 MiB that a scanner must not hold ---

  @Test
  void hundredMebibyteStream_completedScanner_readsTheEndWithoutHoldingTheDeltas() {
    long before = allocatedBytes();
    SseCompletedScanner completed = new SseCompletedScanner();
    SseResponseIdScanner ids = new SseResponseIdScanner();
    byte[] chunk = new byte[64 * 1024];
    Generator stream = new Generator(CREATED, DELTA, 100L << 20, COMPLETED);
    Optional<ChainKey> id = Optional.empty();
    Optional<TurnOutput> output = Optional.empty();
    int read;
    while ((read = stream.read(chunk)) > 0) {
      if (!ids.isDone()) {
        id = ids.feed(chunk, 0, read).or(() -> Optional.empty());
      }
      Optional<TurnOutput> found = completed.feed(chunk, 0, read);
      output = found.isPresent() ? found : output;
    }
    long allocated = allocatedBytes() - before;

    assertThat(stream.produced).isGreaterThan(100L << 20);
    assertThat(ids.isDone()).isTrue();
    assertThat(output).map(TurnOutput::responseId).contains("resp_1");
    assertThat(allocated).as("bytes allocated while scanning %d", stream.produced).isLessThan(16L << 20);
  }

  @Test
  void hundredMebibyteFirstEvent_scanners_giveUpAtTheirBoundWithoutHoldingIt() {
    long before = allocatedBytes();
    SseResponseIdScanner ids = new SseResponseIdScanner();
    SseCompletedScanner completed = new SseCompletedScanner();
    // One event that never ends: a data line of 100 MiB.
    Generator stream = new Generator("data: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"x\":\"",
        "x", 100L << 20, "\"}}\n\n");
    byte[] chunk = new byte[64 * 1024];
    boolean found = false;
    int read;
    // No assertion in the loop: what it allocates (more the less the JIT has compiled it) is not
    // the scanners'.
    while ((read = stream.read(chunk)) > 0) {
      found |= ids.feed(chunk, 0, read).isPresent();
      found |= completed.feed(chunk, 0, read).isPresent();
    }
    long allocated = allocatedBytes() - before;

    assertThat(found).as("nothing reported").isFalse();
    assertThat(ids.isDone()).isTrue();
    assertThat(completed.isDone()).isTrue();
    // The completed scanner buffers an unnamed event up to its 8 MiB bound, doubling as it goes.
    assertThat(allocated).isLessThan(40L << 20);
  }

  // --- Jazzer targets: regression inputs under mvn test, coverage-guided with JAZZER_FUZZ=1 ---

  @FuzzTest(maxDuration = "10m")
  void jazzerStream(byte[] input) {
    checkStream(input, new Random(Arrays.hashCode(input)));
  }

  // --- the properties ---

  /**
   * Whether the event's {@code response} reads as a response object: one reader reads every
   * response body, so an {@code object} other than {@code response} names no response here either.
   */
  private static boolean namesAResponse(JsonNode response) {
    JsonNode object = response.path("object");
    return !object.isTextual() || "response".equals(object.asText());
  }

  /** Every property, for one input. */
  static void checkStream(byte[] input, Random random) {
    Optional<ChainKey> id = idOf(input, input.length);
    Optional<TurnOutput> output = completedOf(input, input.length);
    // Chunking never changes the answer: whole, a byte at a time, and in random pieces.
    int[] cuts = {1, 1 + random.nextInt(7), 1 + random.nextInt(200)};
    for (int cut : cuts) {
      assertThat(idOf(input, cut)).as("id, in chunks of %d", cut).isEqualTo(id);
      assertThat(describe(completedOf(input, cut))).as("output, in chunks of %d", cut)
          .isEqualTo(describe(output));
    }
    List<Event> events = referenceEvents(input);
    Event first = events.stream().filter(e -> e.data != null).findFirst().orElse(null);
    id.ifPresent(key -> {
      assertThat(ChainKey.isValidId(key.id())).isTrue();
      assertThat(first).as("an id needs a first event").isNotNull();
      assertThat(first.name).as("the first event's name").isIn(null, "response.created");
      assertThat(first.data).contains(key.id().substring(0, Math.min(key.id().length(), 1)));
      JsonNode tree = tree(first.data);
      if (tree != null && tree.path("response").path("id").isTextual()) {
        assertThat(key.id()).isEqualTo(tree.path("response").path("id").asText());
      }
    });
    if (id.isEmpty() && first != null && input.length < SseResponseIdScanner.DEFAULT_MAX_EVENT_BYTES) {
      // A well-formed response.created first event must be found.
      JsonNode tree = tree(first.data);
      boolean named = first.name != null;
      if (tree != null && tree.isObject() && (!named || "response.created".equals(first.name))
          && tree.path("response").path("id").isTextual()
          && ChainKey.isValidId(tree.path("response").path("id").asText())
          && namesAResponse(tree.path("response"))
          && ("response.created".equals(tree.path("type").textValue()) || (named && !tree.has("type")))
          && !hasDuplicateKeys(first.data)) {
        throw new AssertionError("the first event is a well-formed response.created, yet no id: " + first);
      }
    }
    output.ifPresent(turn -> {
      assertThat(ChainKey.isValidId(turn.responseId())).isTrue();
      assertThat(events).as("output needs a terminal event")
          .anyMatch(e -> e.data != null && e.data.contains("response"));
      JsonNode items = tree(new String(turn.items(), ISO_8859_1));
      assertThat(items).as("output items are a JSON array").isNotNull();
      assertThat(items.isArray()).isTrue();
    });
  }

  private static Optional<ChainKey> idOf(byte[] input, int chunk) {
    SseResponseIdScanner scanner = new SseResponseIdScanner();
    Optional<ChainKey> found = Optional.empty();
    for (int at = 0; at < input.length && !scanner.isDone(); at += chunk) {
      Optional<ChainKey> id = scanner.feed(input, at, Math.min(chunk, input.length - at));
      if (id.isPresent()) {
        assertThat(found).as("reported twice").isEmpty();
        found = id;
      }
    }
    return found;
  }

  private static Optional<TurnOutput> completedOf(byte[] input, int chunk) {
    SseCompletedScanner scanner = new SseCompletedScanner();
    Optional<TurnOutput> found = Optional.empty();
    for (int at = 0; at < input.length && !scanner.isDone(); at += chunk) {
      Optional<TurnOutput> output = scanner.feed(input, at, Math.min(chunk, input.length - at));
      if (output.isPresent()) {
        found = output;
      }
    }
    return found;
  }

  private static String describe(Optional<TurnOutput> output) {
    return output.map(o -> o.responseId() + "|" + o.status().orElse(null) + "|"
        + new String(o.items(), ISO_8859_1)).orElse("none");
  }

  // --- a plain reading of the SSE format, for comparison ---

  /** One event: its last event: name (null if none) and its data lines joined (null if none). */
  record Event(String name, String data) {}

  static List<Event> referenceEvents(byte[] stream) {
    String text = new String(stream, ISO_8859_1); // byte for char, as the parser reads bytes
    List<Event> events = new ArrayList<>();
    String name = null;
    StringBuilder data = null;
    int at = 0;
    while (at < text.length()) {
      int end = at;
      while (end < text.length() && text.charAt(end) != '\n' && text.charAt(end) != '\r') {
        end++;
      }
      if (end == text.length()) {
        break; // a line without its end never counts
      }
      String line = text.substring(at, end);
      at = end + (text.startsWith("\r\n", end) ? 2 : 1);
      if (line.isEmpty()) {
        events.add(new Event(name, data == null ? null : data.toString()));
        name = null;
        data = null;
        continue;
      }
      if (line.startsWith(":")) {
        continue;
      }
      int colon = line.indexOf(':');
      String field = colon < 0 ? line : line.substring(0, colon);
      String value = colon < 0 ? "" : line.substring(colon + 1);
      if (value.startsWith(" ")) {
        value = value.substring(1);
      }
      if (field.equals("data")) {
        data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
      } else if (field.equals("event")) {
        name = value;
      }
    }
    return events;
  }

  private static JsonNode tree(String json) {
    try {
      return MAPPER.readTree(json.getBytes(ISO_8859_1));
    } catch (Exception e) {
      return null;
    }
  }

  private static boolean hasDuplicateKeys(String json) {
    try {
      new ObjectMapper().enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
          .readTree(json.getBytes(ISO_8859_1));
      return false;
    } catch (Exception e) {
      return true;
    }
  }

  /** Bytes this thread allocated so far (HotSpot's ThreadMXBean). */
  static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
  }

  /** A stream made on the fly: a head, a part repeated whole to at least {@code size} bytes, a tail. */
  static final class Generator {
    private final byte[] head;
    private final byte[] middle;
    private final long size;
    private final byte[] tail;
    long produced;

    Generator(String head, String middle, long size, String tail) {
      this.head = head.getBytes(UTF_8);
      this.middle = middle.getBytes(UTF_8);
      this.size = (size / this.middle.length + 1) * this.middle.length;
      this.tail = tail.getBytes(UTF_8);
    }

    int read(byte[] into) {
      int count = 0;
      long total = head.length + size + tail.length;
      while (count < into.length && produced < total) {
        long at = produced;
        byte b;
        if (at < head.length) {
          b = head[(int) at];
        } else if (at < head.length + size) {
          b = middle[(int) ((at - head.length) % middle.length)];
        } else {
          b = tail[(int) (at - head.length - size)];
        }
        into[count++] = b;
        produced++;
      }
      return count;
    }
  }
}
