package io.github.affinity4j.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** A conversation a backend holds: its JSON and its items, in order. Thread-safe. */
final class StoredConversation {
  private final ObjectNode json;
  private final List<JsonNode> items = new ArrayList<>();

  StoredConversation(ObjectNode json) {
    this.json = json;
  }

  ObjectNode json() {
    return json;
  }

  synchronized List<JsonNode> items() {
    return List.copyOf(items);
  }

  synchronized void append(List<JsonNode> input, List<JsonNode> output) {
    items.addAll(input);
    items.addAll(output);
  }
}
