package io.github.affinity4j.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** The SSE frames of a streamed response, in the order the Responses API sends them. Stateless. */
final class ResponseEvents {

  private ResponseEvents() {}

  /** The frames of {@code finished}: {@code response.created} to {@code response.completed}. */
  static List<String> frames(ObjectNode finished) {
    return frames(finished, false);
  }

  /**
   * The frames of {@code finished}; for a background response {@code response.created} shows it
   * {@code queued} and a {@code response.queued} event follows, as the real service streams one.
   */
  static List<String> frames(ObjectNode finished, boolean background) {
    EventWriter writer = new EventWriter();
    ObjectNode inProgress = finished.deepCopy();
    inProgress.put("status", "in_progress");
    inProgress.putNull("completed_at");
    inProgress.putNull("usage");
    inProgress.putArray("output");
    if (background) {
      ObjectNode queued = inProgress.deepCopy().put("status", "queued");
      writer.add("response.created", Json.object().set("response", queued));
      writer.add("response.queued", Json.object().set("response", queued));
    } else {
      writer.add("response.created", Json.object().set("response", inProgress));
    }
    writer.add("response.in_progress", Json.object().set("response", inProgress));
    int outputIndex = 0;
    for (JsonNode item : finished.get("output")) {
      String type = item.get("type").asText();
      String itemId = item.get("id").asText();
      ObjectNode added = ((ObjectNode) item).deepCopy();
      if (added.has("status")) {
        added.put("status", "in_progress");
      }
      if ("message".equals(type)) {
        added.putArray("content");
      } else if ("function_call".equals(type)) {
        added.put("arguments", "");
      }
      writer.add("response.output_item.added",
          Json.object().put("output_index", outputIndex).set("item", added));
      if ("message".equals(type)) {
        String text = item.get("content").get(0).get("text").asText();
        ObjectNode emptyPart = ResponseJson.outputText("");
        writer.add("response.content_part.added", part(itemId, outputIndex).set("part", emptyPart));
        for (String delta : deltas(text)) {
          writer.add("response.output_text.delta", part(itemId, outputIndex)
              .put("delta", delta).set("logprobs", Json.MAPPER.createArrayNode()));
        }
        writer.add("response.output_text.done", part(itemId, outputIndex)
            .put("text", text).set("logprobs", Json.MAPPER.createArrayNode()));
        writer.add("response.content_part.done",
            part(itemId, outputIndex).set("part", ResponseJson.outputText(text)));
      } else if ("function_call".equals(type)) {
        String arguments = item.get("arguments").asText();
        writer.add("response.function_call_arguments.delta", Json.object()
            .put("item_id", itemId).put("output_index", outputIndex).put("delta", arguments));
        writer.add("response.function_call_arguments.done", Json.object()
            .put("item_id", itemId).put("output_index", outputIndex).put("name", item.get("name").asText())
            .put("arguments", arguments));
      }
      writer.add("response.output_item.done",
          Json.object().put("output_index", outputIndex).set("item", item));
      outputIndex++;
    }
    writer.add("response.completed", Json.object().set("response", finished));
    return writer.frames;
  }

  private static ObjectNode part(String itemId, int outputIndex) {
    return Json.object().put("item_id", itemId).put("output_index", outputIndex).put("content_index", 0);
  }

  /** Splits text into word-sized deltas that concatenate back to the text. */
  private static List<String> deltas(String text) {
    List<String> deltas = new ArrayList<>();
    int start = 0;
    for (int i = 1; i <= text.length(); i++) {
      if (i == text.length() || text.charAt(i) == ' ') {
        deltas.add(text.substring(start, i));
        start = i;
      }
    }
    return deltas;
  }

  private static final class EventWriter {
    final List<String> frames = new ArrayList<>();

    void add(String type, ObjectNode data) {
      ObjectNode event = Json.object();
      event.put("type", type);
      event.put("sequence_number", frames.size());
      event.setAll(data);
      frames.add("event: " + type + "\ndata: " + Json.write(event) + "\n\n");
    }
  }
}
