package io.github.affinity4j.testkit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.jspecify.annotations.Nullable;

/** JSON helpers shared by the gateway and the backends. */
final class Json {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private Json() {}

  static ObjectNode object() {
    return MAPPER.createObjectNode();
  }

  static String write(JsonNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree always serialises", e);
    }
  }

  /** The OpenAI error shape. */
  static String errorBody(String message, String type, @Nullable String param,
      @Nullable String code) {
    ObjectNode error = object();
    error.put("message", message);
    error.put("type", type);
    error.put("param", param);
    error.put("code", code);
    ObjectNode root = object();
    root.set("error", error);
    return write(root);
  }

  /** The shape APIM uses for errors the gateway raises itself. */
  static String gatewayErrorBody(int status, String message) {
    ObjectNode root = object();
    root.put("statusCode", status);
    root.put("message", message);
    return write(root);
  }

  /** How OpenAI's validation errors name a JSON type: "a string", "an integer", ... */
  static String typeName(@Nullable JsonNode node) {
    if (node == null || node.isNull() || node.isMissingNode()) {
      return "null";
    }
    switch (node.getNodeType()) {
      case STRING:
        return "a string";
      case BOOLEAN:
        return "a boolean";
      case NUMBER:
        return node.isIntegralNumber() ? "an integer" : "a decimal";
      case ARRAY:
        return "an array";
      case OBJECT:
        return "an object";
      default:
        return "an unsupported value";
    }
  }
}
