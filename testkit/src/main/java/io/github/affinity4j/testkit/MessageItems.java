package io.github.affinity4j.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Reads what the simulated model answers from: user messages among a turn's items, their text, and
 * the function tool a turn triggers. Stateless.
 */
final class MessageItems {

  private MessageItems() {}

  static ObjectNode userMessage(String text) {
    ObjectNode message = Json.object();
    message.put("type", "message");
    message.put("role", "user");
    message.put("content", text);
    return message;
  }

  static boolean isUserMessage(JsonNode item) {
    return "message".equals(item.path("type").asText()) && "user".equals(item.path("role").asText());
  }

  static int countUserMessages(List<JsonNode> items) {
    int count = 0;
    for (JsonNode item : items) {
      if (isUserMessage(item)) {
        count++;
      }
    }
    return count;
  }

  static String lastUserText(List<JsonNode> items) {
    for (int i = items.size() - 1; i >= 0; i--) {
      if (isUserMessage(items.get(i))) {
        return messageText(items.get(i));
      }
    }
    return "";
  }

  /** The text of a message whose content is a string or a list of text parts. */
  static String messageText(JsonNode message) {
    JsonNode content = message.get("content");
    if (content.isTextual()) {
      return content.asText();
    }
    StringBuilder text = new StringBuilder();
    for (JsonNode part : content) {
      if (part.path("text").isTextual()) {
        text.append(part.get("text").asText());
      }
    }
    return text.toString();
  }

  /**
   * The first function tool whose name appears in the text of the last user message of this
   * turn's input; that is the documented trigger for a {@code function_call} answer.
   */
  static @Nullable String triggeredTool(@Nullable ArrayNode tools, List<JsonNode> input) {
    if (tools == null || input.isEmpty() || !isUserMessage(input.get(input.size() - 1))) {
      return null;
    }
    String text = messageText(input.get(input.size() - 1));
    for (JsonNode tool : tools) {
      String name = tool.path("name").asText("");
      if ("function".equals(tool.path("type").asText()) && !name.isEmpty() && text.contains(name)) {
        return name;
      }
    }
    return null;
  }
}
