package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.FreshBackendRules;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.Test;

final class ReplayPlannerTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private static final String CALL = "{\"id\":\"fc_1\",\"type\":\"function_call\",\"status\":\"completed\","
      + "\"call_id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}";
  private static final String CALL_OUTPUT = "{\"type\":\"function_call_output\",\"call_id\":\"call_1\","
      + "\"output\":\"{\\\"temp\\\":21}\"}";
  private static final String ANSWER = "{\"id\":\"msg_2\",\"type\":\"message\",\"status\":\"completed\","
      + "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"It is 21 C.\",\"annotations\":[]}]}";

  /** Turn 1: a question that triggers a tool call. Turn 2: the tool's output, and the answer. */
  private static final List<String> WEATHER_HISTORY = List.of(
      "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"Weather in Paris? use get_weather\"}]",
      "[" + CALL + "]",
      "[" + CALL_OUTPUT + "]",
      "[" + ANSWER + "]");

  private static final String FOLLOW_UP = "{\"model\":\"gpt-4.1\",\"instructions\":\"Be brief.\","
      + "\"previous_response_id\":\"resp_2\",\"input\":\"And tomorrow?\","
      + "\"tools\":[{\"type\":\"function\",\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}],"
      + "\"stream\":true,\"store\":true,\"reasoning\":{\"effort\":\"low\"},"
      + "\"include\":[\"reasoning.encrypted_content\"],\"metadata\":{\"k\":\"v\"},\"temperature\":0.2,"
      + "\"max_output_tokens\":500}";

  @Test
  void plan_functionCallConversation_historyThenInputIdsStrippedPairsIntactFieldsKept() throws IOException {
    ReplayPlanner.Plan plan = ReplayPlanner.plan(bytes(FOLLOW_UP), bytesList(WEATHER_HISTORY));

    assertThat(plan.ok()).as(plan.failure).isTrue();
    JsonNode replay = MAPPER.readTree(plan.body);
    JsonNode original = MAPPER.readTree(FOLLOW_UP);
    assertThat(fieldNames(replay)).as("the original's fields, in order, minus previous_response_id")
        .containsExactly("model", "instructions", "input", "tools", "stream", "store", "reasoning", "include",
            "metadata", "temperature", "max_output_tokens");
    for (String field : fieldNames(replay)) {
      if (!"input".equals(field)) {
        assertThat(replay.get(field)).as(field).isEqualTo(original.get(field));
      }
    }
    assertThat(replay.get("input")).isEqualTo(MAPPER.readTree("["
        + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"Weather in Paris? use get_weather\"},"
        + "{\"type\":\"function_call\",\"status\":\"completed\",\"call_id\":\"call_1\",\"name\":\"get_weather\","
        + "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},"
        + CALL_OUTPUT + ","
        + "{\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
        + "\"output_text\",\"text\":\"It is 21 C.\",\"annotations\":[]}]},"
        + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"And tomorrow?\"}]"));
    assertThat(plan.itemsReplayed).isEqualTo(4);
    assertThat(plan.itemsDropped).isZero();
    FreshBackendRules.assertAccepted(plan.body);
  }

  @Test
  void plan_breakBetweenCallAndOutput_outputInInputFollowsCallFromHistory() throws IOException {
    String body = "{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"tools\":[],\"input\":[" + CALL_OUTPUT + "]}";

    ReplayPlanner.Plan plan = ReplayPlanner.plan(bytes(body), bytesList(WEATHER_HISTORY.subList(0, 2)));

    assertThat(plan.ok()).as(plan.failure).isTrue();
    JsonNode input = MAPPER.readTree(plan.body).get("input");
    assertThat(input).hasSize(3);
    assertThat(input.get(1).get("call_id").asText()).isEqualTo("call_1");
    assertThat(input.get(1).has("id")).isFalse();
    assertThat(input.get(2).get("type").asText()).isEqualTo("function_call_output");
    FreshBackendRules.assertAccepted(plan.body);
  }

  @Test
  void plan_reasoningItems_leftOutWithOrWithoutEncryptedContent_everyOtherItemKept() throws IOException {
    List<String> history = List.of(
        "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"Think.\"}]",
        "[{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAAAAsealed\"},"
            + "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":\"One.\"}]",
        "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"Again.\"}]",
        "[{\"id\":\"rs_2\",\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"s\"}]},"
            + "{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"content\":\"Two.\"}]");
    String body = "{\"model\":\"o4-mini\",\"previous_response_id\":\"resp_2\",\"reasoning\":{\"effort\":\"high\"},"
        + "\"input\":\"Once more.\"}";

    ReplayPlanner.Plan plan = ReplayPlanner.plan(bytes(body), bytesList(history));

    assertThat(plan.ok()).as(plan.failure).isTrue();
    JsonNode input = MAPPER.readTree(plan.body).get("input");
    // Encrypted reasoning is bound to the backend that made it; a replay goes where the gateway sends it.
    assertThat(types(input)).containsExactly("message", "message", "message", "message", "message");
    assertThat(new String(plan.body, StandardCharsets.UTF_8))
        .doesNotContain("rs_1", "rs_2", "msg_1", "msg_2", "gAAAAAsealed", "encrypted_content");
    assertThat(plan.itemsDropped).isEqualTo(2);
    assertThat(plan.reasoningLeftOut).isEqualTo(2);
    assertThat(plan.itemsReplayed).isEqualTo(4);
    assertThat(MAPPER.readTree(plan.body).get("reasoning")).isEqualTo(MAPPER.readTree("{\"effort\":\"high\"}"));
    FreshBackendRules.assertAccepted(plan.body);
  }

  @Test
  void plan_unansweredCall_droppedAndOrphanOutput_noPlan() {
    String body = "{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":\"Never mind, thanks.\"}";
    ReplayPlanner.Plan dropped = ReplayPlanner.plan(bytes(body), bytesList(WEATHER_HISTORY.subList(0, 2)));

    assertThat(dropped.ok()).isTrue();
    assertThat(new String(dropped.body, StandardCharsets.UTF_8)).doesNotContain("function_call");
    assertThat(dropped.itemsDropped).isEqualTo(1);
    FreshBackendRules.assertAccepted(dropped.body);

    String orphan = "{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":["
        + "{\"type\":\"function_call_output\",\"call_id\":\"call_77\",\"output\":\"x\"}]}";
    ReplayPlanner.Plan none = ReplayPlanner.plan(bytes(orphan), bytesList(WEATHER_HISTORY.subList(0, 1)));
    assertThat(none.ok()).isFalse();
    assertThat(none.body).isNull();
    assertThat(none.failure).as("names the orphan's call id").contains("call_77");
  }

  @Test
  void plan_parallelCalls_eachPairKept() throws IOException {
    String calls = "[{\"id\":\"fc_a\",\"type\":\"function_call\",\"call_id\":\"call_a\",\"name\":\"f\",\"arguments\":\"{}\"},"
        + "{\"id\":\"fc_b\",\"type\":\"function_call\",\"call_id\":\"call_b\",\"name\":\"f\",\"arguments\":\"{}\"}]";
    String body = "{\"model\":\"m\",\"previous_response_id\":\"resp_1\",\"input\":["
        + "{\"type\":\"function_call_output\",\"call_id\":\"call_b\",\"output\":\"B\"},"
        + "{\"type\":\"function_call_output\",\"call_id\":\"call_a\",\"output\":\"A\"}]}";

    ReplayPlanner.Plan plan = ReplayPlanner.plan(bytes(body),
        bytesList(List.of("[{\"role\":\"user\",\"content\":\"q\"}]", calls)));

    assertThat(plan.ok()).as(plan.failure).isTrue();
    assertThat(types(MAPPER.readTree(plan.body).get("input")))
        .containsExactly("message", "function_call", "function_call", "function_call_output", "function_call_output");
    FreshBackendRules.assertAccepted(plan.body);
  }

  @Test
  void plan_itemReferences_resolvedFromHistoryElseNoPlan() throws IOException {
    String body = "{\"model\":\"m\",\"previous_response_id\":\"resp_2\",\"input\":["
        + "{\"type\":\"item_reference\",\"id\":\"msg_2\"},{\"id\":\"fc_1\"},"
        + "{\"role\":\"user\",\"content\":\"Repeat that.\"}]}";

    ReplayPlanner.Plan plan = ReplayPlanner.plan(bytes(body), bytesList(WEATHER_HISTORY));

    assertThat(plan.ok()).as(plan.failure).isTrue();
    JsonNode input = MAPPER.readTree(plan.body).get("input");
    assertThat(input.get(4)).as("the referenced answer, copied without its id").isEqualTo(input.get(3));
    assertThat(input.get(5).get("type").asText()).isEqualTo("function_call");
    assertThat(input.get(5).has("id")).isFalse();
    FreshBackendRules.assertAccepted(plan.body);

    String unknown = "{\"model\":\"m\",\"previous_response_id\":\"resp_2\",\"input\":["
        + "{\"type\":\"item_reference\",\"id\":\"msg_elsewhere\"}]}";
    ReplayPlanner.Plan none = ReplayPlanner.plan(bytes(unknown), bytesList(WEATHER_HISTORY));
    assertThat(none.ok()).isFalse();
    assertThat(none.body).isNull();
    assertThat(none.failure).as("names the unknown id").contains("msg_elsewhere");
  }

  @Test
  void plan_conversationAndStringInput_conversationRemovedInputNormalised() throws IOException {
    String body = "{\"conversation\":{\"id\":\"conv_1\"},\"model\":\"m\",\"input\":\"Hi\",\"store\":false}";

    ReplayPlanner.Plan plan = ReplayPlanner.plan(bytes(body), bytesList(List.of(
        "[{\"type\":\"message\",\"role\":\"developer\",\"content\":\"seed\"}]")));

    JsonNode replay = MAPPER.readTree(plan.body);
    assertThat(fieldNames(replay)).containsExactly("model", "input", "store");
    assertThat(replay.get("input")).isEqualTo(MAPPER.readTree("[{\"type\":\"message\",\"role\":\"developer\","
        + "\"content\":\"seed\"},{\"type\":\"message\",\"role\":\"user\",\"content\":\"Hi\"}]"));
    FreshBackendRules.assertAccepted(plan.body);
  }

  @Test
  void plan_noChainItemsWithForeignIds_idsStrippedReasoningWithoutContentDropped() {
    String body = "{\"model\":\"m\",\"store\":false,\"input\":["
        + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"q\"},"
        + "{\"id\":\"rs_68af1c3a1b2c8190\",\"type\":\"reasoning\",\"summary\":[]},"
        + ANSWER + ",{\"role\":\"user\",\"content\":\"and?\"}]}";

    ReplayPlanner.Plan plan = ReplayPlanner.plan(bytes(body), List.of());

    assertThat(plan.ok()).isTrue();
    assertThat(plan.itemsReplayed).isZero();
    assertThat(plan.itemsDropped).isEqualTo(1);
    FreshBackendRules.assertAccepted(plan.body);
  }

  @Test
  void plan_badBodyOrJournal_noPlan() {
    List<ReplayPlanner.Plan> plans = List.of(
        ReplayPlanner.plan(bytes("not json"), List.of()),
        ReplayPlanner.plan(bytes("{\"model\":\"m\",\"input\":7}"), List.of()),
        ReplayPlanner.plan(bytes("{\"model\":\"m\"}"), bytesList(List.of("{\"x\":1}"))),
        ReplayPlanner.plan(bytes("{\"model\":\"m\"}"), bytesList(List.of("[1]"))));

    for (ReplayPlanner.Plan plan : plans) {
      assertThat(plan.ok()).isFalse();
      assertThat(plan.body).isNull();
      assertThat(plan.itemsReplayed).isZero();
    }
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      names.add(it.next());
    }
    return names;
  }

  private static List<String> types(JsonNode input) {
    List<String> types = new ArrayList<>();
    input.forEach(item -> types.add(item.path("type").asText(item.has("role") ? "message" : "?")));
    return types;
  }

  private static List<byte[]> bytesList(List<String> arrays) {
    return arrays.stream().map(ReplayPlannerTest::bytes).toList();
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
