package io.github.affinity4j.core.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.testsupport.BadInput;
import io.github.affinity4j.testsupport.FuzzSuite;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bad JSON request and response bodies for {@link TurnInput} and {@link TurnOutput}: seeded
 * mutations of real Responses API bodies. Properties: no exception; a body is read only when it is
 * well-formed, and then what is read is what a JSON tree of the body says (the ids, the chain, the
 * items, their count); a response's chain is the same whether its output is read too or not; no
 * invalid id is ever returned.
 */
@Tag("fuzz")
@Timeout(600)
final class TurnInputFuzzTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final ObjectMapper STRICT = new ObjectMapper()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  static final List<String> REQUESTS = List.of(
      "{\"model\":\"gpt-4.1\",\"input\":\"Explain photosynthesis\",\"store\":true}",
      "{\"model\":\"gpt-4.1\",\"input\":\"Go on\",\"previous_response_id\":\"resp_68af1c2e9d5481\"}",
      "{\"model\":\"gpt-4.1\",\"conversation\":{\"id\":\"conv_123\"},\"input\":[{\"type\":\"message\","
          + "\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Hi\"}]}]}",
      "{\"conversation\":\"conv_9\",\"input\":[{\"id\":\"fc_1\",\"type\":\"function_call\",\"call_id\":\"c1\","
          + "\"name\":\"f\",\"arguments\":\"{}\"},{\"type\":\"function_call_output\",\"call_id\":\"c1\","
          + "\"output\":\"42\"},{\"type\":\"item_reference\",\"id\":\"msg_7\"}],\"store\":false}",
      "{\"input\":[{\"id\":\"rs_1\",\"type\":\"reasoning\",\"encrypted_content\":\"gAAAA\",\"summary\":[]},"
          + "\"bare string item\",17,null],\"instructions\":\"Be brief\",\"tools\":[{\"type\":\"function\"}],"
          + "\"previous_response_id\":\"resp_2\",\"stream\":true}");

  static final List<String> RESPONSES = List.of(
      "{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"completed\",\"output\":["
          + "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
          + "\"text\":\"Hi\",\"annotations\":[]}]}],\"usage\":{\"total_tokens\":3}}",
      "{\"output\":[{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[]}],\"status\":\"incomplete\","
          + "\"id\":\"resp_2\"}",
      "{\"id\":\"conv_1\",\"object\":\"conversation\",\"created_at\":1}",
      "{\"id\":\"run_1\",\"object\":\"thread.run\",\"thread_id\":\"thread_1\"}",
      "{\"object\":\"list\",\"data\":[{\"id\":\"resp_3\"}]}",
      "{\"id\":\"resp_4\",\"object\":\"response\",\"status\":\"queued\",\"output\":[]}");

  @Test
  void mutatedRequestBodies_readers_neverThrowAndAgreeWithTheJsonTree() {
    FuzzSuite.run("request bodies", 500, 50_000, Duration.ofSeconds(30), (random, index) ->
        checkRequest(BadInput.mutate(random, BadInput.oneOf(random, REQUESTS).getBytes(UTF_8))));
  }

  @Test
  void mutatedResponseBodies_readers_neverThrowAndAgreeWithTheJsonTree() {
    FuzzSuite.run("response bodies", 500, 50_000, Duration.ofSeconds(30), (random, index) ->
        checkResponse(BadInput.mutate(random, BadInput.oneOf(random, RESPONSES).getBytes(UTF_8))));
  }

  @Test
  void randomBodies_readers_neverThrowAndReadNothing() {
    FuzzSuite.run("random bodies", 300, 30_000, Duration.ofSeconds(30), (random, index) -> {
      byte[] body = random.nextBoolean() ? BadInput.bytes(random, random.nextInt(300))
          : BadInput.text(random, 300).getBytes(UTF_8);
      checkRequest(body);
      checkResponse(body);
    });
  }

  @FuzzTest(maxDuration = "10m")
  void jazzerBody(byte[] body) {
    checkRequest(body);
    checkResponse(body);
  }

  static void checkRequest(byte[] body) {
    Optional<TurnInput> turn = TurnInput.fromRequestBody(body, 0, body.length);
    JsonNode tree = tree(body);
    if (turn.isEmpty()) {
      return;
    }
    TurnInput input = turn.get();
    input.chain().ifPresent(k -> assertThat(ChainKey.isValidId(k.id())).isTrue());
    assertThat(tree).as("a turn is read only from a JSON object").isNotNull();
    assertThat(tree.isObject()).isTrue();
    JsonNode items = tree(input.items());
    assertThat(items).as("items are a JSON array").isNotNull();
    assertThat(items.isArray()).isTrue();
    assertThat(items.size()).isEqualTo(input.itemCount());
    assertThat(input.itemIds()).allMatch(ChainKey::isValidId);
    assertThat(input.toString()).doesNotContain("Explain").doesNotContain("bare string");
    if (!hasDuplicateKeys(body)) {
      // What the API would read: the tree's fields.
      JsonNode previous = tree.path("previous_response_id");
      String expected = previous.isTextual() && ChainKey.isValidId(previous.asText()) ? previous.asText() : null;
      assertThat(input.previousResponseId().orElse(null)).isEqualTo(expected);
      JsonNode conversation = tree.path("conversation");
      JsonNode conversationId = conversation.isObject() ? conversation.path("id") : conversation;
      String expectedConversation = conversationId.isTextual() && ChainKey.isValidId(conversationId.asText())
          ? conversationId.asText() : null;
      assertThat(input.conversationId().orElse(null)).isEqualTo(expectedConversation);
      assertThat(input.chain()).as("previous_response_id, else conversation").isEqualTo(expected != null
          ? Optional.of(ChainKey.response(expected))
          : Optional.ofNullable(expectedConversation).map(ChainKey::conversation));
      assertThat(input.store()).isEqualTo(!tree.path("store").isBoolean() || tree.path("store").asBoolean());
      JsonNode in = tree.path("input");
      if (in.isTextual()) {
        assertThat(items.get(0).path("content").asText()).isEqualTo(in.asText());
      } else if (in.isArray()) {
        assertThat(items.size()).isEqualTo(in.size());
      }
    }
    if (!hasDuplicateKeys(body)) {
      // Ids only of the items the API reads: with input repeated, the last one.
      List<String> ids = new java.util.ArrayList<>();
      for (JsonNode item : items) {
        if (item.path("id").isTextual() && ChainKey.isValidId(item.path("id").asText())) {
          ids.add(item.path("id").asText());
        }
      }
      assertThat(input.itemIds()).containsExactlyInAnyOrderElementsOf(new java.util.LinkedHashSet<>(ids));
    }
  }

  static void checkResponse(byte[] body) {
    Optional<TurnOutput> output = TurnOutput.fromResponseBody(body, 0, body.length);
    Optional<ChainKey> created = TurnOutput.chainOf(body, 0, body.length);
    created.ifPresent(k -> assertThat(ChainKey.isValidId(k.id())).isTrue());
    TurnOutput.Read read = TurnOutput.read(body, 0, body.length, true);
    TurnOutput readOutput = read.output();
    if (readOutput != null) {
      assertThat(read.chain()).as("output only of a response").isEqualTo(ChainKey.response(readOutput.responseId()));
    }
    if (tree(body) != null && !hasDuplicateKeys(body)) {
      assertThat(read.chain()).as("the same chain, reading the output or stopping early")
          .isEqualTo(created.orElse(null));
    }
    if (output.isEmpty()) {
      return;
    }
    TurnOutput turn = output.get();
    assertThat(ChainKey.isValidId(turn.responseId())).isTrue();
    JsonNode tree = tree(body);
    assertThat(tree).as("output is read only from a JSON object").isNotNull();
    assertThat(tree.isObject()).isTrue();
    JsonNode items = tree(turn.items());
    assertThat(items).isNotNull();
    assertThat(items.isArray()).isTrue();
    assertThat(turn.toString()).doesNotContain("\"Hi\"");
    if (!hasDuplicateKeys(body)) {
      assertThat(turn.responseId()).isEqualTo(tree.path("id").asText());
      assertThat(items).isEqualTo(tree.path("output"));
    }
  }

  private static JsonNode tree(byte[] json) {
    try {
      return MAPPER.readTree(json);
    } catch (Exception e) {
      return null;
    }
  }

  private static boolean hasDuplicateKeys(byte[] json) {
    try {
      STRICT.readTree(json);
      return false;
    } catch (Exception e) {
      return true;
    }
  }
}
