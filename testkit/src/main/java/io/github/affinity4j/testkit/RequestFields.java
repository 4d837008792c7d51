package io.github.affinity4j.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Reads the fields of a request body as the Responses API validates them, with its error answers
 * ({@link ApiException}) for a body that is not a JSON object, an unknown field, a missing one or
 * one of the wrong type. Stateless.
 */
final class RequestFields {

  private RequestFields() {}

  static ObjectNode parseObject(byte[] body) throws ApiException {
    JsonNode root;
    try {
      root = Json.MAPPER.readTree(body);
    } catch (java.io.IOException e) {
      // Not JSON, or bytes no Unicode encoding decodes: Jackson reports those with a
      // CharConversionException, an IOException that is not a JsonProcessingException.
      root = null;
    }
    if (root == null || !root.isObject()) {
      throw ApiException.openAi(400, "We could not parse the JSON body of your request. (HINT: This"
          + " likely means you aren't using your HTTP library correctly. The OpenAI API expects a"
          + " JSON payload, but what was sent was not valid JSON.)", null, null);
    }
    return (ObjectNode) root;
  }

  static void rejectUnknownFields(ObjectNode request, Set<String> known) throws ApiException {
    for (var names = request.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!known.contains(name)) {
        throw ApiException.openAi(400, "Unknown parameter: '" + name + "'.", name, "unknown_parameter");
      }
    }
  }

  static @Nullable String conversationId(@Nullable JsonNode conversation) throws ApiException {
    if (conversation == null || conversation.isNull()) {
      return null;
    }
    if (conversation.isTextual()) {
      return conversation.asText();
    }
    if (conversation.isObject() && conversation.path("id").isTextual()) {
      return conversation.get("id").asText();
    }
    throw ApiException.invalidType("conversation", "a string or an object with an id",
        Json.typeName(conversation));
  }

  static String requiredString(ObjectNode node, String field) throws ApiException {
    return requiredString(node, field, field);
  }

  static String requiredString(ObjectNode node, String field, String param)
      throws ApiException {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      throw ApiException.openAi(400, "Missing required parameter: '" + param + "'.", param,
          "missing_required_parameter");
    }
    if (!value.isTextual()) {
      throw ApiException.invalidType(param, "a string", Json.typeName(value));
    }
    return value.asText();
  }

  static @Nullable String optionalString(ObjectNode node, String field) throws ApiException {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isTextual()) {
      throw ApiException.invalidType(field, "a string", Json.typeName(value));
    }
    return value.asText();
  }

  static boolean optionalBoolean(ObjectNode node, String field, boolean fallback)
      throws ApiException {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isBoolean()) {
      throw ApiException.invalidType(field, "a boolean", Json.typeName(value));
    }
    return value.asBoolean();
  }

  static @Nullable ArrayNode optionalArray(ObjectNode node, String field) throws ApiException {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isArray()) {
      throw ApiException.invalidType(field, "an array", Json.typeName(value));
    }
    return (ArrayNode) value;
  }

  static boolean contains(@Nullable ArrayNode array, String text) {
    if (array != null) {
      for (JsonNode element : array) {
        if (text.equals(element.asText())) {
          return true;
        }
      }
    }
    return false;
  }
}
