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
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The stateful Responses and Conversations API of one simulated backend. Responses, the items
 * they issued and conversations live only here, as on a real regional deployment.
 *
 * <p>The model is deterministic: it answers with a {@link SimulatedAnswer} line that names the
 * backend and counts the user messages in its context. Thread-safe.
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
  }

  /** Serves one operation; an {@link ApiException} carries an error answer. */
  SimResponse handle(Operation operation, byte[] body) throws ApiException {
    try {
      switch (operation.kind()) {
        case CREATE_RESPONSE:
          return createResponse(parseObject(body));
        case GET_RESPONSE:
          return SimResponse.json(200, Json.write(storedResponse(operation.id()).json));
        case DELETE_RESPONSE:
          storedResponse(operation.id());
          responses.remove(operation.id());
          return SimResponse.json(200, deleted(operation.id(), "response"));
        case CREATE_CONVERSATION:
          return createConversation(parseObject(body));
        case GET_CONVERSATION:
          return SimResponse.json(200, Json.write(conversation(operation.id()).json()));
        case DELETE_CONVERSATION:
          conversation(operation.id());
          conversations.remove(operation.id());
          return SimResponse.json(200, deleted(operation.id(), "conversation.deleted"));
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

  private SimResponse createResponse(ObjectNode request) throws ApiException {
    rejectUnknownFields(request, CREATE_FIELDS);
    String model = requiredString(request, "model");
    String previousId = optionalString(request, "previous_response_id");
    String conversationId = conversationId(request.get("conversation"));
    boolean store = optionalBoolean(request, "store", true);
    boolean stream = optionalBoolean(request, "stream", false);
    optionalString(request, "instructions");
    ArrayNode tools = optionalArray(request, "tools");
    ArrayNode include = optionalArray(request, "include");
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
      output.add(reasoningItem(contains(include, "reasoning.encrypted_content")));
    }
    String lastUserText = lastUserText(all);
    List<String> toolOutputs = new ArrayList<>();
    for (JsonNode item : input) {
      if ("function_call_output".equals(item.path("type").asText())) {
        toolOutputs.add(item.get("output").isTextual()
            ? item.get("output").asText() : Json.write(item.get("output")));
      }
    }
    String calledTool = toolOutputs.isEmpty() ? triggeredTool(tools, input) : null;
    if (calledTool != null) {
      output.add(functionCallItem(calledTool, lastUserText));
    } else {
      String answer = SimulatedAnswer.format(backend, region, countUserMessages(all),
          lastUserText, toolOutputs);
      output.add(messageItem(answer));
    }

    String id = ids.next("resp_", 48);
    ObjectNode response = responseJson(id, model, request, output, conversationId, all);
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
    SimResponse answer = stream ? SimResponse.stream(events(response)) : SimResponse.json(200, Json.write(response));
    answer.createdResponseId = id;
    return answer;
  }

  private ObjectNode responseJson(String id, String model, ObjectNode request, List<JsonNode> output,
      String conversationId, List<JsonNode> context) {
    long now = clock.instant().getEpochSecond();
    ObjectNode response = Json.object();
    response.put("id", id);
    response.put("object", "response");
    response.put("created_at", now);
    response.put("status", "completed");
    response.put("background", false);
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
    long inputChars = request.path("instructions").asText("").length();
    for (JsonNode item : context) {
      inputChars += Json.write(item).length();
    }
    long outputChars = 0;
    long reasoningTokens = 0;
    for (JsonNode item : output) {
      int chars = Json.write(item).length();
      outputChars += chars;
      if ("reasoning".equals(item.path("type").asText())) {
        reasoningTokens += chars / 4;
      }
    }
    long inputTokens = 1 + inputChars / 4;
    long outputTokens = 1 + outputChars / 4;
    ObjectNode usage = Json.object();
    usage.put("input_tokens", inputTokens);
    usage.putObject("input_tokens_details").put("cached_tokens", 0).put("cache_write_tokens", 0);
    usage.put("output_tokens", outputTokens);
    usage.putObject("output_tokens_details").put("reasoning_tokens", reasoningTokens);
    usage.put("total_tokens", inputTokens + outputTokens);
    return usage;
  }

  /** The SSE frames of a streamed response, in the order the Responses API sends them. */
  private static List<String> events(ObjectNode finished) {
    EventWriter writer = new EventWriter();
    ObjectNode inProgress = finished.deepCopy();
    inProgress.put("status", "in_progress");
    inProgress.putNull("completed_at");
    inProgress.putNull("usage");
    inProgress.putArray("output");
    writer.add("response.created", Json.object().set("response", inProgress));
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
        ObjectNode emptyPart = outputText("");
        writer.add("response.content_part.added", part(itemId, outputIndex).set("part", emptyPart));
        for (String delta : deltas(text)) {
          writer.add("response.output_text.delta", part(itemId, outputIndex)
              .put("delta", delta).set("logprobs", Json.MAPPER.createArrayNode()));
        }
        writer.add("response.output_text.done", part(itemId, outputIndex)
            .put("text", text).set("logprobs", Json.MAPPER.createArrayNode()));
        writer.add("response.content_part.done",
            part(itemId, outputIndex).set("part", outputText(text)));
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

  private ObjectNode messageItem(String text) {
    ObjectNode item = Json.object();
    item.put("id", ids.next("msg_", 32));
    item.put("type", "message");
    item.put("status", "completed");
    item.put("role", "assistant");
    item.putArray("content").add(outputText(text));
    return item;
  }

  private static ObjectNode outputText(String text) {
    ObjectNode part = Json.object();
    part.put("type", "output_text");
    part.put("text", text);
    part.putArray("annotations");
    part.putArray("logprobs");
    return part;
  }

  private ObjectNode functionCallItem(String name, String userText) {
    ObjectNode item = Json.object();
    item.put("id", ids.next("fc_", 32));
    item.put("type", "function_call");
    item.put("status", "completed");
    item.put("call_id", ids.next("call_", 24));
    item.put("name", name);
    item.put("arguments", Json.write(Json.object().put("query", userText)));
    return item;
  }

  private ObjectNode reasoningItem(boolean withEncryptedContent) {
    ObjectNode item = Json.object();
    item.put("id", ids.next("rs_", 32));
    item.put("type", "reasoning");
    item.putArray("summary");
    if (withEncryptedContent) {
      item.put("encrypted_content", ids.next("gAAAAA", 64));
    }
    return item;
  }

  /**
   * The first function tool whose name appears in the text of the last user message of this
   * turn's input; that is the documented trigger for a {@code function_call} answer.
   */
  private static String triggeredTool(ArrayNode tools, List<JsonNode> input) {
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
  private List<JsonNode> inputItems(JsonNode input, List<JsonNode> context, String param)
      throws ApiException {
    List<JsonNode> items = new ArrayList<>();
    if (input == null || input.isNull()) {
      return items;
    }
    if (input.isTextual()) {
      items.add(userMessage(input.asText()));
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
        item = issuedItem(requiredString((ObjectNode) item, "id", where + ".id"));
        type = item.path("type").asText();
      } else if (item.has("id")) {
        issuedItem(requiredString((ObjectNode) item, "id", where + ".id"));
      }
      ObjectNode copy = ((ObjectNode) item).deepCopy();
      switch (type) {
        case "message":
          copy.put("type", "message");
          validateMessage(copy, where);
          break;
        case "function_call":
          requiredString(copy, "name", where + ".name");
          requiredString(copy, "arguments", where + ".arguments");
          callIds.add(requiredString(copy, "call_id", where + ".call_id"));
          break;
        case "function_call_output":
          String callId = requiredString(copy, "call_id", where + ".call_id");
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
    String role = requiredString(message, "role", where + ".role");
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

  private static ObjectNode userMessage(String text) {
    ObjectNode message = Json.object();
    message.put("type", "message");
    message.put("role", "user");
    message.put("content", text);
    return message;
  }

  private static boolean isUserMessage(JsonNode item) {
    return "message".equals(item.path("type").asText()) && "user".equals(item.path("role").asText());
  }

  private static int countUserMessages(List<JsonNode> items) {
    int count = 0;
    for (JsonNode item : items) {
      if (isUserMessage(item)) {
        count++;
      }
    }
    return count;
  }

  private static String lastUserText(List<JsonNode> items) {
    for (int i = items.size() - 1; i >= 0; i--) {
      if (isUserMessage(items.get(i))) {
        return messageText(items.get(i));
      }
    }
    return "";
  }

  /** The text of a message whose content is a string or a list of text parts. */
  private static String messageText(JsonNode message) {
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

  private SimResponse createConversation(ObjectNode request) throws ApiException {
    rejectUnknownFields(request, CONVERSATION_FIELDS);
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

  private static ObjectNode parseObject(byte[] body) throws ApiException {
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

  private static void rejectUnknownFields(ObjectNode request, Set<String> known) throws ApiException {
    for (var names = request.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!known.contains(name)) {
        throw ApiException.openAi(400, "Unknown parameter: '" + name + "'.", name, "unknown_parameter");
      }
    }
  }

  private static String conversationId(JsonNode conversation) throws ApiException {
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

  private static String requiredString(ObjectNode node, String field) throws ApiException {
    return requiredString(node, field, field);
  }

  private static String requiredString(ObjectNode node, String field, String param)
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

  private static String optionalString(ObjectNode node, String field) throws ApiException {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isTextual()) {
      throw ApiException.invalidType(field, "a string", Json.typeName(value));
    }
    return value.asText();
  }

  private static boolean optionalBoolean(ObjectNode node, String field, boolean fallback)
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

  private static ArrayNode optionalArray(ObjectNode node, String field) throws ApiException {
    JsonNode value = node.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isArray()) {
      throw ApiException.invalidType(field, "an array", Json.typeName(value));
    }
    return (ArrayNode) value;
  }

  private static boolean contains(ArrayNode array, String text) {
    if (array != null) {
      for (JsonNode element : array) {
        if (text.equals(element.asText())) {
          return true;
        }
      }
    }
    return false;
  }

  private static final class StoredResponse {
    final ObjectNode json;
    final String previousId;
    final List<JsonNode> input;
    final List<JsonNode> output;

    StoredResponse(ObjectNode json, String previousId, List<JsonNode> input, List<JsonNode> output) {
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
