package io.github.affinity4j.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;

/**
 * What the test kit's simulated backend ({@code testkit/…/ResponsesApi.java}, {@code createResponse}
 * and {@code inputItems}) accepts from a request, on a backend that has never seen the chain: it
 * issued no ids, holds no previous response and no conversation. The core module cannot depend on
 * the test kit, so these rules are mirrored here; keep them in step.
 */
public final class FreshBackendRules {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** Top-level fields the simulator knows (ResponsesApi.CREATE_FIELDS). */
  private static final Set<String> CREATE_FIELDS = Set.of(
      "access_programs", "background", "context_management", "conversation", "image", "include",
      "input", "instructions", "max_output_tokens", "max_tool_calls", "metadata", "model",
      "moderation", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
      "prompt_cache_options", "prompt_cache_retention", "reasoning", "safety_identifier",
      "service_tier", "store", "stream", "stream_options", "temperature", "text", "tool_choice",
      "tools", "top_logprobs", "top_p", "truncation", "user");
  private static final Set<String> ROLES = Set.of("user", "assistant", "system", "developer");

  private FreshBackendRules() {}

  /** Fails the test with the simulator's reason if a fresh backend would answer 400. */
  public static void assertAccepted(byte[] body) {
    JsonNode root;
    try {
      root = MAPPER.readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    assertThat(root.isObject()).as("body is a JSON object").isTrue();
    for (Iterator<String> names = root.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      assertThat(CREATE_FIELDS).as("Unknown parameter: '%s'", name).contains(name);
    }
    assertThat(root.hasNonNull("model")).as("Missing required parameter: 'model'").isTrue();
    assertThat(root.hasNonNull("previous_response_id")).as("previous response not found on a fresh backend")
        .isFalse();
    assertThat(root.hasNonNull("conversation")).as("conversation not found on a fresh backend").isFalse();
    JsonNode input = root.get("input");
    if (input == null || input.isNull() || input.isTextual()) {
      return;
    }
    assertThat(input.isArray()).as("input is a string or an array").isTrue();
    Set<String> callIds = new HashSet<>();
    for (int i = 0; i < input.size(); i++) {
      JsonNode item = input.get(i);
      String where = "input[" + i + "]";
      assertThat(item.isObject()).as(where + " is an object").isTrue();
      String type = item.path("type").asText(item.has("role") ? "message" : item.has("id") ? "item_reference" : "");
      if ("item_reference".equals(type) || item.has("id")) {
        fail("Item with id '%s' not found (%s): a fresh backend issued no ids", item.path("id").asText(), where);
      }
      switch (type) {
        case "message" -> {
          assertThat(ROLES).as(where + ".role").contains(item.path("role").asText());
          assertThat(item.path("content").isTextual() || item.path("content").isArray())
              .as(where + ".content is a string or an array").isTrue();
        }
        case "function_call" -> {
          assertThat(item.path("name").isTextual()).as(where + ".name").isTrue();
          assertThat(item.path("arguments").isTextual()).as(where + ".arguments").isTrue();
          assertThat(item.path("call_id").isTextual()).as(where + ".call_id").isTrue();
          callIds.add(item.get("call_id").asText());
        }
        case "function_call_output" -> {
          assertThat(item.path("call_id").isTextual()).as(where + ".call_id").isTrue();
          assertThat(item.path("output").isTextual() || item.path("output").isArray())
              .as(where + ".output").isTrue();
          assertThat(callIds).as("No tool call found for function call output with call_id %s",
              item.get("call_id").asText()).contains(item.get("call_id").asText());
        }
        case "" -> fail("Missing required parameter: '%s.type'", where);
        default -> { }
      }
    }
  }
}
