package io.github.affinity4j.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A response a backend stored ({@code store: true}): its JSON, the input and output items it adds
 * to a chain, and, for a background response, where it is in its life ({@code queued},
 * {@code in_progress}, then {@code completed} or {@code cancelled}).
 *
 * <p>The simulated model answers at once, so a background response's output is made when it is
 * created and only shown once it completes. Thread-safe: the state is guarded by this.
 */
final class StoredResponse {
  static final String QUEUED = "queued";
  static final String IN_PROGRESS = "in_progress";
  static final String COMPLETED = "completed";
  static final String CANCELLED = "cancelled";

  final String id;
  final @Nullable String previousId;
  final boolean background;
  private final ObjectNode finished;
  private final List<JsonNode> input;
  private final List<JsonNode> output;
  private final Instant createdAt;

  // Guarded by this.
  private String status;
  private int polls;
  private @Nullable List<JsonNode> listedInput;

  StoredResponse(ObjectNode finished, @Nullable String previousId, List<JsonNode> input,
      List<JsonNode> output, boolean background, Instant createdAt) {
    this.id = finished.get("id").asText();
    this.finished = finished;
    this.previousId = previousId;
    this.input = List.copyOf(input);
    this.output = List.copyOf(output);
    this.background = background;
    this.createdAt = createdAt;
    this.status = background ? QUEUED : COMPLETED;
  }

  /** The response as a retrieval shows it now. */
  synchronized ObjectNode json() {
    if (status.equals(COMPLETED)) {
      return finished;
    }
    ObjectNode pending = finished.deepCopy();
    pending.put("status", status);
    pending.putNull("completed_at");
    pending.putArray("output");
    pending.putNull("usage");
    return pending;
  }

  synchronized String status() {
    return status;
  }

  /**
   * Counts one retrieval of a background response and moves it on as {@code policy} says.
   * Returns true when this retrieval completed it; false for other responses and for ones that
   * were already done.
   */
  synchronized boolean poll(BackgroundPolicy policy, Instant now) {
    if (!isPending()) {
      return false;
    }
    polls++;
    if (policy.completes(polls, createdAt, now)) {
      status = COMPLETED;
      return true;
    }
    status = IN_PROGRESS;
    return false;
  }

  /** Completes a pending background response at once; returns whether it was pending. */
  synchronized boolean complete() {
    if (!isPending()) {
      return false;
    }
    status = COMPLETED;
    return true;
  }

  /** Cancels a pending background response; returns whether it was pending. */
  synchronized boolean cancel() {
    if (!isPending()) {
      return false;
    }
    status = CANCELLED;
    return true;
  }

  synchronized boolean isPending() {
    return status.equals(QUEUED) || status.equals(IN_PROGRESS);
  }

  /** The input items the response was made from, as the request carried them. */
  List<JsonNode> input() {
    return input;
  }

  /** The output items, which a chain sees only once the response has completed. */
  synchronized List<JsonNode> output() {
    return status.equals(COMPLETED) ? output : List.of();
  }

  /** The output items whatever the state, to register their ids once the response completes. */
  List<JsonNode> madeOutput() {
    return output;
  }

  /** The finished response, with its output, whatever the state: what a stream of it carries. */
  ObjectNode finished() {
    return finished;
  }

  /**
   * The input items as {@code GET …/input_items} lists them: each with an id ({@code msg_…} for a
   * message, by type otherwise) and message content as a list of parts. The ids are made on the
   * first listing and kept; {@code register} receives each new item, so that an
   * {@code item_reference} can name it.
   */
  synchronized List<JsonNode> listedInput(IdGenerator ids, Consumer<JsonNode> register) {
    if (listedInput == null) {
      List<JsonNode> items = new ArrayList<>(input.size());
      for (JsonNode item : input) {
        ObjectNode listed = ((ObjectNode) item).deepCopy();
        if (!listed.hasNonNull("id")) {
          listed.put("id", ids.next(idPrefix(listed.path("type").asText()), 32));
        }
        if ("message".equals(listed.path("type").asText())) {
          listed.put("status", "completed");
          JsonNode content = listed.get("content");
          if (content != null && content.isTextual()) {
            boolean assistant = "assistant".equals(listed.path("role").asText());
            listed.putArray("content").add(assistant ? ResponseJson.outputText(content.asText())
                : Json.object().put("type", "input_text").put("text", content.asText()));
          }
        }
        register.accept(listed);
        items.add(listed);
      }
      listedInput = List.copyOf(items);
    }
    return listedInput;
  }

  private static String idPrefix(String type) {
    switch (type) {
      case "function_call":
        return "fc_";
      case "function_call_output":
        return "fco_";
      case "reasoning":
        return "rs_";
      case "compaction":
        return "cmp_";
      default:
        return "msg_";
    }
  }
}
