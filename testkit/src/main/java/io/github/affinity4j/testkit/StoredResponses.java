package io.github.affinity4j.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/** Answers about one stored response that need no other state of its backend. Stateless. */
final class StoredResponses {
  private StoredResponses() {}

  /**
   * A page of a response's input items, as {@code GET …/responses/{id}/input_items} lists them,
   * with {@code limit}, {@code order} and {@code after}.
   */
  static SimResponse page(List<JsonNode> items, Operation operation) throws ApiException {
    String order = operation.queryParam("order");
    if (order != null && !order.equals("asc") && !order.equals("desc")) {
      throw ApiException.invalidValue("order", "'" + order + "'. Supported values are: 'asc' and 'desc'.");
    }
    if (!"asc".equals(order)) {
      Collections.reverse(items);
    }
    String after = operation.queryParam("after");
    if (after != null) {
      int at = 0;
      while (at < items.size() && !after.equals(items.get(at).get("id").asText())) {
        at++;
      }
      items = items.subList(Math.min(at + 1, items.size()), items.size());
    }
    int limit = 20;
    String limitParam = operation.queryParam("limit");
    if (limitParam != null) {
      try {
        limit = Integer.parseInt(limitParam);
      } catch (NumberFormatException e) {
        limit = 0;
      }
      if (limit < 1 || limit > 100) {
        throw ApiException.invalidValue("limit", "'" + limitParam + "'. Expected an integer from 1 to 100.");
      }
    }
    List<JsonNode> page = items.subList(0, Math.min(limit, items.size()));
    ObjectNode list = Json.object();
    list.put("object", "list");
    list.putArray("data").addAll(page);
    list.put("first_id", page.isEmpty() ? null : page.get(0).get("id").asText());
    list.put("last_id", page.isEmpty() ? null : page.get(page.size() - 1).get("id").asText());
    list.put("has_more", page.size() < items.size());
    return SimResponse.json(200, Json.write(list));
  }

  static SimResponse resumeStream(StoredResponse stored, @Nullable String startingAfter,
      Consumer<List<JsonNode>> issue) throws ApiException {
    if (!stored.background) {
      throw ApiException.openAi(400, "Response with id '" + stored.id + "' was not created with"
          + " background=true and cannot be streamed.", null, null);
    }
    int after = -1;
    if (startingAfter != null) {
      try {
        after = Integer.parseInt(startingAfter);
      } catch (NumberFormatException e) {
        throw ApiException.invalidType("starting_after", "an integer", "a string");
      }
    }
    if (stored.complete()) {
      issue.accept(stored.madeOutput());
    }
    if (stored.status().equals(StoredResponse.CANCELLED)) {
      throw ApiException.openAi(400, "Response with id '" + stored.id + "' was cancelled and"
          + " cannot be streamed.", null, null);
    }
    List<String> frames = ResponseEvents.frames(stored.finished(), true);
    int from = Math.max(0, Math.min(after + 1, frames.size()));
    SimResponse answer = SimResponse.stream(frames.subList(from, frames.size()));
    answer.responseStatus = StoredResponse.COMPLETED;
    answer.backgroundPoll = true;
    return answer;
  }

  /** {@code first}, then {@code second}, in a new list. */
  static List<JsonNode> concat(List<JsonNode> first, List<JsonNode> second) {
    List<JsonNode> all = new ArrayList<>(first.size() + second.size());
    all.addAll(first);
    all.addAll(second);
    return all;
  }
}
