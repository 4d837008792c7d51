package io.github.affinity4j.core.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Builds the body of a replay: the original request without {@code previous_response_id} and
 * {@code conversation}, whose {@code input} is the chain's history followed by the request's own
 * input, made acceptable to a backend that has never seen the chain.
 *
 * <p>Rules, applied to history and input alike, in order:
 *
 * <ul>
 *   <li>Every other field ({@code model}, {@code instructions}, {@code tools}, {@code stream},
 *       {@code store}, {@code reasoning}, {@code include}, …) is kept as sent, in place.
 *   <li>An {@code item_reference} (or an item with only an {@code id}) is replaced by the item it
 *       names, if that item is earlier in the history or the input. Otherwise there is no plan:
 *       the item lives only on the lost backend, and leaving it out would change the context.
 *   <li>{@code id} is removed from every item: the new backend issued none of them, and rejects
 *       ids it does not know. {@code call_id} is kept: it pairs calls with outputs.
 *   <li>A {@code reasoning} item is left out: without {@code encrypted_content} it lives only on
 *       the backend that produced it; with it, it is bound to that backend (another Azure resource
 *       refuses it, {@code invalid_encrypted_content}), and a replay goes where the gateway sends
 *       it. The model's visible context (messages, tool calls and their outputs) does not depend
 *       on it; the model reasons afresh.
 *   <li>A tool output ({@code function_call_output}, or any {@code *_call_output}) must follow a
 *       call with its {@code call_id}; if none does, there is no plan: the history is incomplete.
 *   <li>A tool call ({@code function_call}, or any {@code *_call} with a {@code call_id}) that no
 *       output answers is dropped: the model never saw a result for it, and the API rejects an
 *       unanswered call in the input.
 * </ul>
 *
 * <p>Uses Jackson's tree model, since it rewrites the body. Failure reasons name item positions,
 * types and ids, never content. Stateless and thread-safe.
 */
final class ReplayPlanner {

  private ReplayPlanner() {}

  /** A replay body, or why there is none. */
  static final class Plan {
    /** The replay body; null when there is no plan. */
    final byte @Nullable [] body;
    final int itemsReplayed;
    final int itemsDropped;
    /** How many of the dropped items were reasoning. */
    final int reasoningLeftOut;
    /** Why there is no plan; null when there is one. */
    final @Nullable String failure;

    private Plan(byte @Nullable [] body, int itemsReplayed, int itemsDropped, int reasoningLeftOut,
        @Nullable String failure) {
      this.body = body;
      this.itemsReplayed = itemsReplayed;
      this.itemsDropped = itemsDropped;
      this.reasoningLeftOut = reasoningLeftOut;
      this.failure = failure;
    }

    static Plan failed(String failure) {
      return new Plan(null, 0, 0, 0, failure);
    }

    boolean ok() {
      return failure == null;
    }
  }

  /**
   * Plans the replay of {@code originalBody} on top of a chain's complete history.
   *
   * @param originalBody the request as the caller sent it
   * @param history the history's item arrays, oldest first ({@link ChainHistory#segments()}); empty
   *     for a request that continued no chain
   */
  static Plan plan(byte[] originalBody, List<byte[]> history) {
    JsonNode parsed;
    try {
      parsed = Json.MAPPER.readTree(originalBody);
    } catch (IOException e) {
      parsed = null;
    }
    if (!(parsed instanceof ObjectNode root)) {
      return Plan.failed("the request body is not a JSON object");
    }
    List<JsonNode> items = new ArrayList<>();
    for (byte[] segment : history) {
      JsonNode array;
      try {
        array = Json.MAPPER.readTree(segment);
      } catch (IOException e) {
        array = null;
      }
      if (array == null || !array.isArray()) {
        return Plan.failed("the journal holds a turn of the chain that is not a JSON array");
      }
      array.forEach(items::add);
    }
    int historyCount = items.size();
    JsonNode input = root.get("input");
    if (input != null && input.isTextual()) {
      items.add(Json.MAPPER.createObjectNode()
          .put("type", "message").put("role", "user").put("content", input.asText()));
    } else if (input != null && input.isArray()) {
      input.forEach(items::add);
    } else if (input != null && !input.isNull()) {
      return Plan.failed("the request's input is neither a string nor an array");
    }

    Map<String, ObjectNode> byId = new HashMap<>();
    List<ObjectNode> kept = new ArrayList<>(items.size());
    List<Boolean> fromHistory = new ArrayList<>(items.size());
    int dropped = 0;
    int reasoning = 0;
    for (int i = 0; i < items.size(); i++) {
      if (!(items.get(i) instanceof ObjectNode item)) {
        return Plan.failed(where(i, historyCount) + " is not a JSON object");
      }
      String type = typeOf(item);
      if ("item_reference".equals(type)) {
        String ref = text(item, "id");
        ObjectNode target = ref == null ? null : byId.get(ref);
        if (target == null) {
          return Plan.failed(where(i, historyCount) + " is an item_reference to "
              + (ref == null ? "no id" : "item " + safe(ref))
              + ", which is neither in the chain's journaled history nor earlier in the request");
        }
        item = target.deepCopy();
        type = typeOf(item);
      } else {
        String id = text(item, "id");
        if (id != null) {
          byId.put(id, item);
        }
      }
      if ("reasoning".equals(type)) {
        dropped++;
        reasoning++;
        continue;
      }
      item.remove("id");
      kept.add(item);
      fromHistory.add(i < historyCount);
    }

    Set<String> called = new HashSet<>();
    Set<String> answered = new HashSet<>();
    for (int k = 0; k < kept.size(); k++) {
      ObjectNode item = kept.get(k);
      String type = typeOf(item);
      String callId = text(item, "call_id");
      if (type.endsWith("_call_output")) {
        if (callId == null || !called.contains(callId)) {
          return Plan.failed("a " + type + (callId == null ? " without a call_id"
              : " with call_id " + safe(callId)) + " has no call before it in the chain's journaled"
              + " history or the request, so the history is incomplete");
        }
        answered.add(callId);
      } else if (type.endsWith("_call") && callId != null) {
        called.add(callId);
      }
    }
    ArrayNode replayInput = Json.MAPPER.createArrayNode();
    int replayed = 0;
    for (int k = 0; k < kept.size(); k++) {
      ObjectNode item = kept.get(k);
      String callId = text(item, "call_id");
      if (typeOf(item).endsWith("_call") && callId != null && !answered.contains(callId)) {
        dropped++;
        continue;
      }
      replayInput.add(item);
      if (fromHistory.get(k)) {
        replayed++;
      }
    }

    root.remove("previous_response_id");
    root.remove("conversation");
    root.set("input", replayInput);
    try {
      return new Plan(Json.MAPPER.writeValueAsBytes(root), replayed, dropped, reasoning, null);
    } catch (IOException e) {
      // Writing a tree just read cannot fail; only a Jackson bug gets here.
      return Plan.failed("the replay body could not be written (" + e.getClass().getSimpleName() + ")");
    }
  }

  /**
   * The request {@code body} without the reasoning items of its {@code input} whose id is one of
   * {@code ids}, everything else as sent; null if it has none of them, or is not a JSON object with
   * an input array.
   */
  static byte @Nullable [] withoutReasoning(byte[] body, Set<String> ids) {
    try {
      if (!(Json.MAPPER.readTree(body) instanceof ObjectNode root) || !(root.get("input") instanceof ArrayNode input)) {
        return null;
      }
      ArrayNode kept = Json.MAPPER.createArrayNode();
      for (JsonNode item : input) {
        if (item instanceof ObjectNode object && "reasoning".equals(typeOf(object))
            && ids.contains(String.valueOf(text(object, "id")))) {
          continue;
        }
        kept.add(item);
      }
      if (kept.size() == input.size()) {
        return null;
      }
      root.set("input", kept);
      return Json.MAPPER.writeValueAsBytes(root);
    } catch (IOException e) {
      return null;
    }
  }

  /** The item's type: {@code type}, else a message if it has a role, else a reference if it has an id. */
  static String typeOf(ObjectNode item) {
    String type = text(item, "type");
    if (type != null) {
      return type;
    }
    if (item.has("role")) {
      return "message";
    }
    return item.has("id") ? "item_reference" : "";
  }

  private static @Nullable String text(ObjectNode item, String field) {
    JsonNode value = item.get(field);
    return value != null && value.isTextual() && !value.asText().isEmpty() ? value.asText() : null;
  }

  private static String where(int index, int historyCount) {
    return index < historyCount
        ? "item " + index + " of the chain's journaled history"
        : "input[" + (index - historyCount) + "]";
  }

  /** An id for a message: itself if it looks like one, else a description. */
  private static String safe(String id) {
    return ChainKey.isValidId(id) ? id : Names.describe(id);
  }
}
