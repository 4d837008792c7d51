package io.github.affinity4j.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * The stateful Responses and Conversations API of one simulated backend. Responses, the items
 * they issued and conversations live only here, as on a real regional deployment. Reading the
 * request's fields is {@link RequestFields}' job, writing the answer {@link ResponseJson}'s and
 * {@link ResponseEvents}'.
 *
 * <p>The model is deterministic: it answers with a {@link SimulatedAnswer} line that names the
 * backend and counts the user messages in its context ({@link MessageItems}). Thread-safe.
 */
final class ResponsesApi {
  /** Top-level fields of {@code ResponseCreateParams} in openai-java 4.101.0, plus {@code stream}. */
  private static final Set<String> CREATE_FIELDS = Set.of(
      "access_programs", "background", "context_management", "conversation", "image", "include",
      "input", "instructions", "max_output_tokens", "max_tool_calls", "metadata", "model",
      "moderation", "parallel_tool_calls", "previous_response_id", "prompt", "prompt_cache_key",
      "prompt_cache_options", "prompt_cache_retention", "reasoning", "safety_identifier",
      "service_tier", "store", "stream", "stream_options", "temperature", "text", "tool_choice",
      "tools", "top_logprobs", "top_p", "truncation", "user");
  private static final Set<String> CONVERSATION_FIELDS = Set.of("items", "metadata");
  private static final Set<String> ROLES = Set.of("user", "assistant", "system", "developer");

  private final String backend;
  private final String region;
  private final IdGenerator ids;
  private final Clock clock;
  private final ResponseJson responseJson;
  private final Map<String, StoredResponse> responses = new ConcurrentHashMap<>();
  private final Map<String, JsonNode> issuedItems = new ConcurrentHashMap<>();
  private final Map<String, StoredConversation> conversations = new ConcurrentHashMap<>();
  final LongAdder responsesCreated = new LongAdder();
  final LongAdder notFoundErrors = new LongAdder();

  ResponsesApi(String backend, String region, IdGenerator ids, Clock clock) {
    this.backend = backend;
    this.region = region;
    this.ids = ids;
    this.clock = clock;
    this.responseJson = new ResponseJson(ids, clock);
  }

  /** Serves one operation; an {@link ApiException} carries an error answer. */
  SimResponse handle(Operation operation, byte[] body) throws ApiException {
    try {
      switch (operation.kind()) {
        case CREATE_RESPONSE:
          return createResponse(RequestFields.parseObject(body));
        case GET_RESPONSE:
          return SimResponse.json(200, Json.write(storedResponse(pathId(operation)).json));
        case DELETE_RESPONSE: {
          String id = pathId(operation);
          storedResponse(id);
          responses.remove(id);
          return SimResponse.json(200, deleted(id, "response"));
        }
        case CREATE_CONVERSATION:
          return createConversation(RequestFields.parseObject(body));
        case GET_CONVERSATION:
          return SimResponse.json(200, Json.write(conversation(pathId(operation)).json()));
        case DELETE_CONVERSATION: {
          String id = pathId(operation);
          conversation(id);
          conversations.remove(id);
          return SimResponse.json(200, deleted(id, "conversation.deleted"));
        }
        default:
          throw new AssertionError("unrouted operation " + operation);
      }
    } catch (ApiException e) {
      if (e.notFound) {
        notFoundErrors.increment();
      }
      throw e;
    }
  }

  /** The response or conversation id of a GET or DELETE, which {@link Operation#parse} always sets. */
  private static String pathId(Operation operation) {
    return Objects.requireNonNull(operation.id(), "a GET or DELETE operation has an id");
  }

  private SimResponse createResponse(ObjectNode request) throws ApiException {
    RequestFields.rejectUnknownFields(request, CREATE_FIELDS);
    String model = RequestFields.requiredString(request, "model");
    String previousId = RequestFields.optionalString(request, "previous_response_id");
    String conversationId = RequestFields.conversationId(request.get("conversation"));
    boolean store = RequestFields.optionalBoolean(request, "store", true);
    boolean stream = RequestFields.optionalBoolean(request, "stream", false);
    RequestFields.optionalString(request, "instructions");
    ArrayNode tools = RequestFields.optionalArray(request, "tools");
    ArrayNode include = RequestFields.optionalArray(request, "include");
    JsonNode reasoning = request.get("reasoning");
    if (reasoning != null && !reasoning.isNull() && !reasoning.isObject()) {
      throw ApiException.invalidType("reasoning", "an object", Json.typeName(reasoning));
    }
    if (previousId != null && conversationId != null) {
      throw ApiException.openAi(400, "Mutually exclusive parameters: Ensure you are only providing"
          + " one of: 'previous_response_id' or 'conversation'.", null,
          "mutually_exclusive_parameters");
    }

    List<JsonNode> context = new ArrayList<>();
    StoredConversation conversation = null;
    if (previousId != null) {
      context.addAll(chainItems(previousId));
    }
    if (conversationId != null) {
      conversation = conversation(conversationId);
      context.addAll(conversation.items());
    }
    List<JsonNode> input = inputItems(request.get("input"), context, "input");
    List<JsonNode> all = new ArrayList<>(context.size() + input.size());
    all.addAll(context);
    all.addAll(input);

    List<JsonNode> output = new ArrayList<>();
    if (reasoning != null && reasoning.isObject()) {
      boolean encrypted = RequestFields.contains(include, "reasoning.encrypted_content");
      output.add(responseJson.reasoningItem(encrypted));
    }
    String lastUserText = MessageItems.lastUserText(all);
    List<String> toolOutputs = new ArrayList<>();
    for (JsonNode item : input) {
      if ("function_call_output".equals(item.path("type").asText())) {
        toolOutputs.add(item.get("output").isTextual()
            ? item.get("output").asText() : Json.write(item.get("output")));
      }
    }
    String calledTool = toolOutputs.isEmpty() ? MessageItems.triggeredTool(tools, input) : null;
    if (calledTool != null) {
      output.add(responseJson.functionCallItem(calledTool, lastUserText));
    } else {
      String answer = SimulatedAnswer.format(backend, region, MessageItems.countUserMessages(all),
          lastUserText, toolOutputs);
      output.add(responseJson.messageItem(answer));
    }

    String id = ids.next("resp_", 48);
    ObjectNode response = responseJson.response(id, model, request, output, conversationId, all);
    responsesCreated.increment();
    if (store || conversation != null) {
      for (JsonNode item : output) {
        issuedItems.put(item.get("id").asText(), item);
      }
    }
    if (store) {
      responses.put(id, new StoredResponse(response, previousId, input, output));
    }
    if (conversation != null) {
      conversation.append(input, output);
    }
    SimResponse answer = stream
        ? SimResponse.stream(ResponseEvents.frames(response))
        : SimResponse.json(200, Json.write(response));
    answer.createdResponseId = id;
    return answer;
  }

  /** Input and output items of the chain ending at {@code previousId}, oldest first. */
  private List<JsonNode> chainItems(String previousId) throws ApiException {
    StoredResponse link = responses.get(previousId);
    if (link == null) {
      throw ApiException.notFound(400, "Previous response with id '" + previousId + "' not found.",
          "previous_response_id", "previous_response_not_found");
    }
    Deque<StoredResponse> chain = new ArrayDeque<>();
    for (; link != null; link = link.previousId == null ? null : responses.get(link.previousId)) {
      chain.addFirst(link);
    }
    List<JsonNode> items = new ArrayList<>();
    for (StoredResponse response : chain) {
      items.addAll(response.input);
      items.addAll(response.output);
    }
    return items;
  }

  /**
   * Normalises {@code input} to a list of items: a string becomes one user message. Rejects items
   * that carry ids this backend never issued, and tool outputs whose call is not in context.
   */
  private List<JsonNode> inputItems(@Nullable JsonNode input, List<JsonNode> context, String param)
      throws ApiException {
    List<JsonNode> items = new ArrayList<>();
    if (input == null || input.isNull()) {
      return items;
    }
    if (input.isTextual()) {
      items.add(MessageItems.userMessage(input.asText()));
      return items;
    }
    if (!input.isArray()) {
      throw ApiException.invalidType(param, "a string or an array", Json.typeName(input));
    }
    Set<String> callIds = new HashSet<>();
    for (JsonNode item : context) {
      if ("function_call".equals(item.path("type").asText())) {
        callIds.add(item.path("call_id").asText());
      }
    }
    for (int i = 0; i < input.size(); i++) {
      JsonNode item = input.get(i);
      String where = param + "[" + i + "]";
      if (!item.isObject()) {
        throw ApiException.invalidType(where, "an object", Json.typeName(item));
      }
      // Without a type, an item with a role is a message and one with only an id is a reference,
      // as the SDK sends ItemReference and EasyInputMessage.
      String type = item.path("type").asText(
          item.has("role") ? "message" : item.has("id") ? "item_reference" : "");
      if ("item_reference".equals(type)) {
        item = issuedItem(RequestFields.requiredString((ObjectNode) item, "id", where + ".id"));
        type = item.path("type").asText();
      } else if (item.has("id")) {
        issuedItem(RequestFields.requiredString((ObjectNode) item, "id", where + ".id"));
      }
      ObjectNode copy = ((ObjectNode) item).deepCopy();
      switch (type) {
        case "message":
          copy.put("type", "message");
          validateMessage(copy, where);
          break;
        case "function_call":
          RequestFields.requiredString(copy, "name", where + ".name");
          RequestFields.requiredString(copy, "arguments", where + ".arguments");
          callIds.add(RequestFields.requiredString(copy, "call_id", where + ".call_id"));
          break;
        case "function_call_output":
          String callId = RequestFields.requiredString(copy, "call_id", where + ".call_id");
          JsonNode output = copy.get("output");
          if (output == null || !(output.isTextual() || output.isArray())) {
            throw ApiException.invalidType(where + ".output", "a string or an array",
                Json.typeName(output));
          }
          if (!callIds.contains(callId)) {
            throw ApiException.openAi(400, "No tool call found for function call output with call_id "
                + callId + ".", param, null);
          }
          break;
        case "reasoning":
          break;
        case "":
          throw ApiException.openAi(400, "Missing required parameter: '" + where + ".type'.",
              where + ".type", "missing_required_parameter");
        default:
          break;
      }
      items.add(copy);
    }
    return items;
  }

  private JsonNode issuedItem(String id) throws ApiException {
    JsonNode item = issuedItems.get(id);
    if (item == null) {
      throw ApiException.notFound(400, "Item with id '" + id + "' not found. Items are not persisted"
          + " when `store` is set to false. Try again with `store` set to true, or remove this item"
          + " from your input.", "input", null);
    }
    return item;
  }

  private static void validateMessage(ObjectNode message, String where) throws ApiException {
    String role = RequestFields.requiredString(message, "role", where + ".role");
    if (!ROLES.contains(role)) {
      throw ApiException.invalidValue(where + ".role", "'" + role
          + "'. Supported values are: 'assistant', 'system', 'developer', and 'user'.");
    }
    JsonNode content = message.get("content");
    if (content == null || !(content.isTextual() || content.isArray())) {
      throw ApiException.invalidType(where + ".content", "a string or an array",
          Json.typeName(content));
    }
  }

  private SimResponse createConversation(ObjectNode request) throws ApiException {
    RequestFields.rejectUnknownFields(request, CONVERSATION_FIELDS);
    JsonNode metadata = request.get("metadata");
    if (metadata != null && !metadata.isNull() && !metadata.isObject()) {
      throw ApiException.invalidType("metadata", "an object", Json.typeName(metadata));
    }
    List<JsonNode> items = inputItems(request.get("items"), List.of(), "items");
    ObjectNode json = Json.object();
    String id = ids.next("conv_", 48);
    json.put("id", id);
    json.put("object", "conversation");
    json.put("created_at", clock.instant().getEpochSecond());
    json.set("metadata", metadata == null || metadata.isNull() ? Json.object() : metadata);
    StoredConversation conversation = new StoredConversation(json);
    conversation.append(items, List.of());
    conversations.put(id, conversation);
    return SimResponse.json(200, Json.write(json));
  }

  private StoredConversation conversation(String id) throws ApiException {
    StoredConversation conversation = conversations.get(id);
    if (conversation == null) {
      throw ApiException.notFound(404, "Conversation with id '" + id + "' not found.", null, null);
    }
    return conversation;
  }

  private StoredResponse storedResponse(String id) throws ApiException {
    StoredResponse response = responses.get(id);
    if (response == null) {
      throw ApiException.notFound(404, "Response with id '" + id + "' not found.", null, null);
    }
    return response;
  }

  private static String deleted(String id, String object) {
    return Json.write(Json.object().put("id", id).put("object", object).put("deleted", true));
  }

  private static final class StoredResponse {
    final ObjectNode json;
    final @Nullable String previousId;
    final List<JsonNode> input;
    final List<JsonNode> output;

    StoredResponse(ObjectNode json, @Nullable String previousId, List<JsonNode> input,
        List<JsonNode> output) {
      this.json = json;
      this.previousId = previousId;
      this.input = List.copyOf(input);
      this.output = List.copyOf(output);
    }
  }

  private static final class StoredConversation {
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
}
