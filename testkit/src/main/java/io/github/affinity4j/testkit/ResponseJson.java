package io.github.affinity4j.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Writes the JSON of a completed response and of the output items a backend issues (message,
 * function call, reasoning), with fresh ids from the backend's {@link IdGenerator} and times from
 * its clock. Thread-safe, as the id generator is.
 */
final class ResponseJson {
  private final IdGenerator ids;
  private final Clock clock;

  ResponseJson(IdGenerator ids, Clock clock) {
    this.ids = ids;
    this.clock = clock;
  }

  /** The response {@code id} answering {@code request}, with {@code output}, completed now. */
  ObjectNode response(String id, String model, ObjectNode request, List<JsonNode> output,
      @Nullable String conversationId, List<JsonNode> context) {
    long now = clock.instant().getEpochSecond();
    ObjectNode response = Json.object();
    response.put("id", id);
    response.put("object", "response");
    response.put("created_at", now);
    response.put("status", "completed");
    response.put("background", request.path("background").asBoolean(false));
    response.put("completed_at", now);
    response.putNull("error");
    response.putNull("incomplete_details");
    response.set("instructions", request.path("instructions").isTextual()
        ? request.get("instructions") : null);
    response.set("max_output_tokens", request.get("max_output_tokens"));
    response.put("model", model);
    response.putArray("output").addAll(output);
    response.put("parallel_tool_calls", request.path("parallel_tool_calls").asBoolean(true));
    response.set("previous_response_id", request.get("previous_response_id"));
    response.set("reasoning", request.get("reasoning"));
    response.put("store", request.path("store").asBoolean(true));
    response.put("temperature", request.path("temperature").asDouble(1.0));
    response.putObject("text").putObject("format").put("type", "text");
    response.set("tool_choice", request.hasNonNull("tool_choice")
        ? request.get("tool_choice") : Json.MAPPER.getNodeFactory().textNode("auto"));
    response.set("tools", request.hasNonNull("tools") ? request.get("tools") : Json.MAPPER.createArrayNode());
    response.put("top_p", request.path("top_p").asDouble(1.0));
    response.put("truncation", "disabled");
    response.set("usage", usage(request, context, output));
    response.set("user", request.get("user"));
    response.set("metadata", request.hasNonNull("metadata") ? request.get("metadata") : Json.object());
    if (conversationId != null) {
      response.putObject("conversation").put("id", conversationId);
    } else {
      response.putNull("conversation");
    }
    return response;
  }

  /** Token counts that grow with the context: roughly four characters a token. */
  private static ObjectNode usage(ObjectNode request, List<JsonNode> context, List<JsonNode> output) {
    long inputTokens = inputTokens(request, context);
    long outputChars = 0;
    long reasoningTokens = 0;
    for (JsonNode item : output) {
      int chars = Json.write(item).length();
      outputChars += chars;
      if ("reasoning".equals(item.path("type").asText())) {
        reasoningTokens += chars / 4;
      }
    }
    long outputTokens = 1 + outputChars / 4;
    ObjectNode usage = Json.object();
    usage.put("input_tokens", inputTokens);
    usage.putObject("input_tokens_details").put("cached_tokens", 0).put("cache_write_tokens", 0);
    usage.put("output_tokens", outputTokens);
    usage.putObject("output_tokens_details").put("reasoning_tokens", reasoningTokens);
    usage.put("total_tokens", inputTokens + outputTokens);
    return usage;
  }

  /** The input tokens of a turn: roughly four characters of instructions and context a token. */
  static long inputTokens(ObjectNode request, List<JsonNode> context) {
    long inputChars = request.path("instructions").asText("").length();
    for (JsonNode item : context) {
      inputChars += Json.write(item).length();
    }
    return 1 + inputChars / 4;
  }

  /**
   * The answer of {@code POST …/responses/compact}: every user message of the context, then one
   * compaction item that stands for the rest.
   */
  ObjectNode compacted(ObjectNode request, List<JsonNode> context, String encryptedContent) {
    ObjectNode compacted = Json.object();
    compacted.put("id", ids.next("resp_", 48));
    compacted.put("object", "response.compaction");
    compacted.put("created_at", clock.instant().getEpochSecond());
    ArrayNode output = compacted.putArray("output");
    for (JsonNode item : context) {
      if (MessageItems.isUserMessage(item)) {
        ObjectNode message = Json.object();
        message.put("id", ids.next("msg_", 32));
        message.put("type", "message");
        message.put("status", "completed");
        message.put("role", "user");
        JsonNode content = item.get("content");
        if (content.isTextual()) {
          message.putArray("content").add(
              Json.object().put("type", "input_text").put("text", content.asText()));
        } else {
          message.set("content", content);
        }
        output.add(message);
      }
    }
    ObjectNode compaction = Json.object();
    compaction.put("id", ids.next("cmp_", 32));
    compaction.put("type", "compaction");
    compaction.put("encrypted_content", encryptedContent);
    output.add(compaction);
    List<JsonNode> written = new ArrayList<>();
    output.forEach(written::add);
    compacted.set("usage", usage(request, context, written));
    return compacted;
  }

  ObjectNode messageItem(String text) {
    ObjectNode item = Json.object();
    item.put("id", ids.next("msg_", 32));
    item.put("type", "message");
    item.put("status", "completed");
    item.put("role", "assistant");
    item.putArray("content").add(outputText(text));
    return item;
  }

  static ObjectNode outputText(String text) {
    ObjectNode part = Json.object();
    part.put("type", "output_text");
    part.put("text", text);
    part.putArray("annotations");
    part.putArray("logprobs");
    return part;
  }

  ObjectNode functionCallItem(String name, String userText) {
    ObjectNode item = Json.object();
    item.put("id", ids.next("fc_", 32));
    item.put("type", "function_call");
    item.put("status", "completed");
    item.put("call_id", ids.next("call_", 24));
    item.put("name", name);
    item.put("arguments", Json.write(Json.object().put("query", userText)));
    return item;
  }

  /** A reasoning item, with {@code encrypted_content} when that is not null. */
  ObjectNode reasoningItem(@Nullable String encryptedContent) {
    ObjectNode item = Json.object();
    item.put("id", ids.next("rs_", 32));
    item.put("type", "reasoning");
    item.putArray("summary");
    if (encryptedContent != null) {
      item.put("encrypted_content", encryptedContent);
    }
    return item;
  }
}
