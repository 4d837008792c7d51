package io.github.affinity4j.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonField;
import com.openai.core.JsonMissing;
import com.openai.core.JsonValue;
import com.openai.core.http.HttpResponseFor;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.Reasoning;
import com.openai.models.ReasoningEffort;
import com.openai.models.conversations.Conversation;
import com.openai.models.conversations.ConversationCreateParams;
import com.openai.models.responses.EasyInputMessage;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseIncludable;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseReasoningItem;
import com.openai.models.responses.ResponseStreamEvent;
import com.openai.models.responses.ResponseUsage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The simulated backends' Responses and Conversations API, through the real openai-java SDK (and a
 * raw OkHttp client where exact bodies or malformed requests matter). Every SDK object is
 * {@code validate()}d so the SDK's full parse runs.
 */
@Timeout(30)
final class ResponsesBackendTest {
  private static final String MODEL = "gpt-4.1";
  private static final String API_VERSION = "2025-04-01-preview";
  private static final Path FIXTURES = Path.of("..", "fixtures", "errors");
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final MediaType JSON = MediaType.get("application/json");

  private final OkHttpClient http = new OkHttpClient.Builder()
      .callTimeout(10, TimeUnit.SECONDS)
      .retryOnConnectionFailure(false)
      .build();
  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator sim;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (sim != null) {
      sim.close();
    }
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
  }

  // --- paths, retrieve, delete ---

  @ParameterizedTest
  @ValueSource(strings = {"/openai/v1", "/v1", "/openai"})
  void responses_eachAcceptedPath_createRetrieveDelete(String prefix) {
    sim = ApimSimulator.builder().backends(1).start();
    OpenAIClient client =
        client(prefix.equals("/openai/v1") ? sim.openAiBaseUrl() : sim.url() + prefix);
    String query = prefix.equals("/openai") ? "?api-version=" + API_VERSION : "";

    Response created = client.responses().create(turn("hello").build());
    Response retrieved = client.responses().retrieve(created.id());
    client.responses().delete(created.id());

    assertThat(answer(created).userMessages()).isEqualTo(1);
    assertThat(retrieved.validate()).isEqualTo(created);
    assertThatThrownBy(() -> client.responses().retrieve(created.id()))
        .isInstanceOf(NotFoundException.class);
    assertThat(sim.requestLog()).extracting(LoggedRequest::method, LoggedRequest::path)
        .containsExactly(
            tuple("POST", prefix + "/responses" + query),
            tuple("GET", prefix + "/responses/" + created.id() + query),
            tuple("DELETE", prefix + "/responses/" + created.id() + query),
            tuple("GET", prefix + "/responses/" + created.id() + query));
  }

  @Test
  void responses_openAiPathWithoutApiVersion_notRoutedToBackend() throws IOException {
    start(1);

    Raw raw = post("/openai/responses", "{\"model\":\"gpt-4.1\",\"input\":\"hi\"}");

    assertThat(raw.status).isEqualTo(404);
    assertThat(sim.backend("backend-1").stats().requests()).isZero();
  }

  // --- previous_response_id and item ids ---

  @Test
  void previousResponseId_unknownOnSingleBackend_badRequestWithCodeAndParam() {
    OpenAIClient client = start(1);
    String unknown = "resp_0123456789abcdef0123456789abcdef0123456789abcdef";

    assertThatThrownBy(() -> client.responses().create(turn("hi").previousResponseId(unknown).build()))
        .isInstanceOfSatisfying(BadRequestException.class, e -> {
          assertThat(e.code()).hasValue("previous_response_not_found");
          assertThat(e.param()).hasValue("previous_response_id");
          assertThat(e.type()).hasValue("invalid_request_error");
        });
    assertThat(sim.backend("backend-1").stats().notFoundErrors()).isEqualTo(1);
  }

  @Test
  void previousResponseId_madeOnOtherBackend_400WithFixtureBody() throws IOException {
    OpenAIClient client = start(2);
    Response first = client.responses().create(turn("hi").build()).validate();

    Raw onOther = post("/openai/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":\"again\","
        + "\"previous_response_id\":\"" + first.id() + "\"}");
    Response onOwner = client.responses().create(
        turn("again").previousResponseId(first.id()).build()).validate();

    assertThat(onOther.status).isEqualTo(fixtureStatus("previous_response_not_found.json"));
    assertThat(onOther.json()).isEqualTo(fixtureBody("previous_response_not_found.json", first.id()));
    assertThat(answer(onOwner).userMessages()).isEqualTo(2);
    assertThat(sim.requestLog()).extracting(LoggedRequest::backend)
        .containsExactly("backend-1", "backend-2", "backend-1");
  }

  @Test
  void inputItem_idNeverIssued_400WithFixtureBody() throws IOException {
    OpenAIClient client = start(1);
    String unknown = "msg_00000000000000000000000000000000";

    Raw raw = post("/openai/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":[{\"type\":\"item_reference\","
        + "\"id\":\"" + unknown + "\"},{\"role\":\"user\",\"content\":\"hi\"}]}");

    assertThat(raw.status).isEqualTo(fixtureStatus("item_not_found_store_false.json"));
    assertThat(raw.json()).isEqualTo(fixtureBody("item_not_found_store_false.json", unknown));
    assertThatThrownBy(() -> client.responses().create(ResponseCreateParams.builder().model(MODEL)
            .inputOfResponse(List.of(ResponseInputItem.ofItemReference(
                ResponseInputItem.ItemReference.builder().id(unknown).build())))
            .build()))
        .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("input"));
  }

  @Test
  void inputItem_idIssuedByStoredResponse_accepted() {
    OpenAIClient client = start(1);
    Response first = client.responses().create(turn("hi").build()).validate();
    String messageId = first.output().get(0).asMessage().id();

    Response second = client.responses().create(ResponseCreateParams.builder().model(MODEL)
        .inputOfResponse(List.of(
            ResponseInputItem.ofEasyInputMessage(user("hi")),
            ResponseInputItem.ofItemReference(
                ResponseInputItem.ItemReference.builder().id(messageId).build()),
            ResponseInputItem.ofEasyInputMessage(user("and again"))))
        .build());

    assertThat(answer(second).userMessages()).isEqualTo(2);
  }

  @Test
  void storeFalse_response_neitherResponseNorItemsAreKept() throws IOException {
    OpenAIClient client = start(1);
    Response unstored = client.responses().create(turn("hi").store(false).build()).validate();
    String messageId = unstored.output().get(0).asMessage().id();

    assertThat(unstored._allProperties()).containsEntry("store", JsonValue.from(false));
    assertThatThrownBy(() -> client.responses().create(
            turn("again").previousResponseId(unstored.id()).build()))
        .isInstanceOfSatisfying(BadRequestException.class,
            e -> assertThat(e.code()).hasValue("previous_response_not_found"));
    assertThatThrownBy(() -> client.responses().retrieve(unstored.id()))
        .isInstanceOf(NotFoundException.class);
    Raw byItemId = post("/openai/v1/responses", "{\"model\":\"gpt-4.1\",\"input\":[{\"type\":"
        + "\"item_reference\",\"id\":\"" + messageId + "\"}]}");
    assertThat(byItemId.status).isEqualTo(400);
    assertThat(byItemId.json()).isEqualTo(fixtureBody("item_not_found_store_false.json", messageId));
  }

  // --- input forms and context ---

  @Test
  void chain_stringInput_answerCountsEveryUserMessage() {
    OpenAIClient client = start(1);

    String previous = null;
    for (int turn = 1; turn <= 5; turn++) {
      ResponseCreateParams.Builder params = turn("question " + turn);
      if (previous != null) {
        params.previousResponseId(previous);
      }
      Response response = client.responses().create(params.build());
      SimulatedAnswer answer = answer(response);

      assertThat(answer.userMessages()).as("turn %d", turn).isEqualTo(turn);
      assertThat(answer.lastUserMessage()).isEqualTo("question " + turn);
      assertThat(answer.backend()).isEqualTo("backend-1");
      assertThat(response.previousResponseId()).isEqualTo(Optional.ofNullable(previous));
      previous = response.id();
    }
  }

  @Test
  void chain_itemListInputWithTextParts_answerCountsEveryUserMessage() {
    OpenAIClient client = start(1);

    String previous = null;
    for (int turn = 1; turn <= 5; turn++) {
      ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(MODEL)
          .inputOfResponse(List.of(
              ResponseInputItem.ofEasyInputMessage(user("easy " + turn)),
              ResponseInputItem.ofMessage(ResponseInputItem.Message.builder()
                  .role(ResponseInputItem.Message.Role.USER)
                  .addInputTextContent("parts " + turn + ", ")
                  .addInputTextContent("second part")
                  .build())));
      if (previous != null) {
        params.previousResponseId(previous);
      }
      Response response = client.responses().create(params.build());
      SimulatedAnswer answer = answer(response);

      assertThat(answer.userMessages()).as("turn %d", turn).isEqualTo(2 * turn);
      assertThat(answer.lastUserMessage()).isEqualTo("parts " + turn + ", second part");
      previous = response.id();
    }
  }

  @Test
  void statelessResend_fullHistoryWithoutIds_answerCountsEveryUserMessage() {
    OpenAIClient client = start(1);
    List<ResponseInputItem> history = new ArrayList<>();
    history.add(ResponseInputItem.ofEasyInputMessage(EasyInputMessage.builder()
        .role(EasyInputMessage.Role.DEVELOPER).content("Answer briefly.").build()));

    for (int turn = 1; turn <= 5; turn++) {
      history.add(ResponseInputItem.ofEasyInputMessage(user("question " + turn)));
      Response response = client.responses().create(ResponseCreateParams.builder().model(MODEL)
          .inputOfResponse(history).store(false).build());
      String text = text(response);
      history.add(ResponseInputItem.ofEasyInputMessage(EasyInputMessage.builder()
          .role(EasyInputMessage.Role.ASSISTANT).content(text).build()));

      assertThat(SimulatedAnswer.parse(text).userMessages()).as("turn %d", turn).isEqualTo(turn);
      assertThat(SimulatedAnswer.parse(text).lastUserMessage()).isEqualTo("question " + turn);
    }
    assertThat(sim.backend("backend-1").stats().responsesCreated()).isEqualTo(5);
  }

  // --- function tools and reasoning ---

  @Test
  void functionTool_userAsksForIt_functionCallThenToolOutputAccepted() {
    OpenAIClient client = start(1);

    Response call = client.responses().create(
        turn("What is the weather in Paris? Use get_weather.").addTool(weatherTool()).build());
    ResponseFunctionToolCall functionCall = single(call).asFunctionCall();
    Response answered = client.responses().create(ResponseCreateParams.builder().model(MODEL)
        .previousResponseId(call.id())
        .addTool(weatherTool())
        .inputOfResponse(List.of(ResponseInputItem.ofFunctionCallOutput(
            ResponseInputItem.FunctionCallOutput.builder()
                .callId(functionCall.callId()).output("sunny, 21 C").build())))
        .build());

    assertThat(functionCall.name()).isEqualTo("get_weather");
    assertThat(functionCall.callId()).startsWith("call_");
    assertThat(json(functionCall.arguments()).path("query").asText())
        .isEqualTo("What is the weather in Paris? Use get_weather.");
    assertThat(answer(answered).toolOutput()).isEqualTo("sunny, 21 C");
    assertThat(answer(answered).userMessages()).isEqualTo(1);
  }

  @Test
  void functionTool_userDoesNotNameIt_answersWithMessage() {
    OpenAIClient client = start(1);

    Response response = client.responses().create(
        turn("What is the weather in Paris?").addTool(weatherTool()).build());

    assertThat(single(response).isMessage()).isTrue();
    assertThat(answer(response).userMessages()).isEqualTo(1);
  }

  @Test
  void functionCallOutput_callIdNotInContext_badRequest() {
    OpenAIClient client = start(1);
    Response first = client.responses().create(turn("hi").build());

    assertThatThrownBy(() -> client.responses().create(ResponseCreateParams.builder().model(MODEL)
            .previousResponseId(first.id())
            .inputOfResponse(List.of(ResponseInputItem.ofFunctionCallOutput(
                ResponseInputItem.FunctionCallOutput.builder()
                    .callId("call_000000000000000000000000").output("sunny").build())))
            .build()))
        .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("input"));
  }

  @Test
  void functionCall_statelessReplayWithOutput_accepted() {
    OpenAIClient client = start(1);
    Response call = client.responses().create(
        turn("Use get_weather for Oslo.").addTool(weatherTool()).store(false).build());
    ResponseFunctionToolCall functionCall = single(call).asFunctionCall();

    Response answered = client.responses().create(ResponseCreateParams.builder().model(MODEL)
        .store(false)
        .addTool(weatherTool())
        .inputOfResponse(List.of(
            ResponseInputItem.ofEasyInputMessage(user("Use get_weather for Oslo.")),
            ResponseInputItem.ofFunctionCall(ResponseFunctionToolCall.builder()
                .callId(functionCall.callId())
                .name(functionCall.name())
                .arguments(functionCall.arguments())
                .build()),
            ResponseInputItem.ofFunctionCallOutput(ResponseInputItem.FunctionCallOutput.builder()
                .callId(functionCall.callId()).output("rain, 8 C").build())))
        .build());

    assertThat(answer(answered).toolOutput()).isEqualTo("rain, 8 C");
    assertThat(answer(answered).userMessages()).isEqualTo(1);
  }

  @Test
  void reasoning_encryptedContentIncluded_firstOutputIsReasoningWithEncryptedContent() {
    OpenAIClient client = start(1);

    Response withContent = client.responses().create(reasoningTurn("think").build());
    Response withoutContent = client.responses().create(ResponseCreateParams.builder().model("o4-mini")
        .input("think").reasoning(Reasoning.builder().effort(ReasoningEffort.LOW).build()).build());

    withContent.validate();
    assertThat(withContent.output()).hasSize(2);
    assertThat(withContent.output().get(0).asReasoning().encryptedContent()).isNotEmpty();
    assertThat(withContent.output().get(1).isMessage()).isTrue();
    assertThat(withContent.reasoning().flatMap(Reasoning::effort)).hasValue(ReasoningEffort.LOW);
    assertThat(withoutContent.validate().output().get(0).asReasoning().encryptedContent()).isEmpty();
  }

  @Test
  void reasoning_statelessReplayWithoutIdWithEncryptedContent_accepted() throws IOException {
    OpenAIClient client = start(1);
    Response first = client.responses().create(reasoningTurn("think").store(false).build());
    ResponseReasoningItem reasoning = first.output().get(0).asReasoning();

    Response second = client.responses().create(reasoningTurn("think more").store(false)
        .inputOfResponse(List.of(
            ResponseInputItem.ofEasyInputMessage(user("think")),
            ResponseInputItem.ofReasoning(withoutId(reasoning)),
            ResponseInputItem.ofEasyInputMessage(EasyInputMessage.builder()
                .role(EasyInputMessage.Role.ASSISTANT).content(text(first)).build()),
            ResponseInputItem.ofEasyInputMessage(user("think more"))))
        .build());

    assertThat(answer(second).userMessages()).isEqualTo(2);
  }

  /**
   * A full item is taken as sent when the request does not store, as the real service takes the
   * items a stateless client sends back; a storing request looks its id up, and an item of an
   * unstored response is not there.
   */
  @Test
  void reasoning_fullItemWithUnstoredId_acceptedWithStoreFalse_notFoundWhenStoring() throws IOException {
    start(1);
    Response first = client(sim.openAiBaseUrl()).responses()
        .create(reasoningTurn("think").store(false).build());
    ResponseReasoningItem reasoning = first.output().get(0).asReasoning();
    String item = "{\"type\":\"reasoning\",\"id\":\"" + reasoning.id() + "\",\"summary\":[],"
        + "\"encrypted_content\":\"" + reasoning.encryptedContent().orElseThrow() + "\"}";

    Raw unstored = post("/openai/v1/responses", "{\"model\":\"o4-mini\",\"store\":false,\"input\":["
        + item + ",{\"role\":\"user\",\"content\":\"more\"}]}");
    Raw storing = post("/openai/v1/responses", "{\"model\":\"o4-mini\",\"input\":[" + item + "]}");

    assertThat(unstored.status).isEqualTo(200);
    assertThat(storing.status).isEqualTo(400);
    assertThat(storing.json()).isEqualTo(fixtureBody("item_not_found_store_false.json", reasoning.id()));
  }

  // --- streaming ---

  @Test
  void createStreaming_plainTurn_eventsInOrderTextMatchesAndResponseIsStored() {
    OpenAIClient client = start(1);

    List<ResponseStreamEvent> events;
    try (StreamResponse<ResponseStreamEvent> stream =
        client.responses().createStreaming(turn("tell me a story").build())) {
      events = stream.stream().map(ResponseStreamEvent::validate).toList();
    }
    Response completed = events.get(events.size() - 1).asCompleted().response().validate();
    StringBuilder deltas = new StringBuilder();
    events.stream().filter(ResponseStreamEvent::isOutputTextDelta)
        .forEach(e -> deltas.append(e.asOutputTextDelta().delta()));
    String doneText = events.stream().filter(ResponseStreamEvent::isOutputTextDone)
        .findFirst().orElseThrow().asOutputTextDone().text();
    Response next = client.responses().create(
        turn("and then?").previousResponseId(completed.id()).build());

    assertThat(collapsedTypes(events)).containsExactly(
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed");
    assertThat(events.stream().filter(ResponseStreamEvent::isOutputTextDelta)).hasSizeGreaterThan(1);
    assertThat(events).extracting(ResponsesBackendTest::sequenceNumber)
        .containsExactlyElementsOf(Stream.iterate(0L, n -> n + 1).limit(events.size()).toList());
    assertThat(deltas.toString()).isEqualTo(doneText).isEqualTo(text(completed));
    assertThat(events.get(0).asCreated().response().id()).isEqualTo(completed.id());
    assertThat(events.get(0).asCreated().response().status()).hasValueSatisfying(
        s -> assertThat(s.asString()).isEqualTo("in_progress"));
    assertThat(answer(completed).userMessages()).isEqualTo(1);
    assertThat(answer(next).userMessages()).isEqualTo(2);
  }

  @Test
  void createStreaming_functionCall_argumentEventsParseAndMatchItem() {
    OpenAIClient client = start(1);

    List<ResponseStreamEvent> events;
    try (StreamResponse<ResponseStreamEvent> stream = client.responses().createStreaming(
        turn("call get_weather").addTool(weatherTool()).build())) {
      events = stream.stream().map(ResponseStreamEvent::validate).toList();
    }
    ResponseFunctionToolCall call =
        single(events.get(events.size() - 1).asCompleted().response()).asFunctionCall();

    assertThat(collapsedTypes(events)).containsExactly(
        "response.created", "response.in_progress", "response.output_item.added",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done", "response.completed");
    assertThat(events.stream().filter(ResponseStreamEvent::isFunctionCallArgumentsDone)
        .findFirst().orElseThrow().asFunctionCallArgumentsDone().arguments())
        .isEqualTo(call.arguments());
  }

  // --- usage and headers ---

  @Test
  void usage_chainOfFiveTurns_inputTokensGrowEveryTurn() {
    OpenAIClient client = start(1);

    List<Long> inputTokens = new ArrayList<>();
    String previous = null;
    for (int turn = 1; turn <= 5; turn++) {
      ResponseCreateParams.Builder params = turn("question " + turn);
      if (previous != null) {
        params.previousResponseId(previous);
      }
      Response response = client.responses().create(params.build()).validate();
      ResponseUsage usage = response.usage().orElseThrow();
      assertThat(usage.totalTokens()).isEqualTo(usage.inputTokens() + usage.outputTokens());
      inputTokens.add(usage.inputTokens());
      previous = response.id();
    }

    assertThat(inputTokens).isSortedAccordingTo(Long::compare).doesNotHaveDuplicates();
  }

  @Test
  void headers_backendAnswers_carryRegionAndDecreasingRateLimits() {
    OpenAIClient client = start(1);

    List<Long> remainingRequests = new ArrayList<>();
    List<Long> remainingTokens = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      try (HttpResponseFor<Response> raw =
          client.responses().withRawResponse().create(turn("hi " + i).build())) {
        raw.parse().validate();
        assertThat(raw.headers().values("x-ms-region")).containsExactly("East US");
        remainingRequests.add(Long.parseLong(raw.headers().values("x-ratelimit-remaining-requests").get(0)));
        remainingTokens.add(Long.parseLong(raw.headers().values("x-ratelimit-remaining-tokens").get(0)));
      }
    }

    assertThat(remainingRequests).isSortedAccordingTo((a, b) -> Long.compare(b, a))
        .doesNotHaveDuplicates();
    assertThat(remainingTokens).isSortedAccordingTo((a, b) -> Long.compare(b, a))
        .doesNotHaveDuplicates();
  }

  // --- conversations ---

  @Test
  void conversation_threeTurns_contextAccumulates() {
    OpenAIClient client = start(1);
    Conversation conversation = client.conversations().create(ConversationCreateParams.builder()
        .items(List.of(ResponseInputItem.ofEasyInputMessage(user("before the first turn"))))
        .build()).validate();

    for (int turn = 1; turn <= 3; turn++) {
      Response response = client.responses().create(
          turn("turn " + turn).conversation(conversation.id()).build());

      assertThat(answer(response).userMessages()).as("turn %d", turn).isEqualTo(turn + 1);
      assertThat(response.conversation().orElseThrow().id()).isEqualTo(conversation.id());
    }
    assertThat(conversation.id()).startsWith("conv_");
  }

  @Test
  void conversation_unknown_404WithFixtureBody() throws IOException {
    OpenAIClient client = start(1);
    String unknown = "conv_0123456789abcdef0123456789abcdef0123456789abcdef";

    Raw raw = post("/openai/v1/responses",
        "{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"conversation\":\"" + unknown + "\"}");

    assertThat(raw.status).isEqualTo(fixtureStatus("conversation_not_found.json"));
    assertThat(raw.json()).isEqualTo(fixtureBody("conversation_not_found.json", unknown));
    assertThatThrownBy(() -> client.responses().create(turn("hi").conversation(unknown).build()))
        .isInstanceOf(NotFoundException.class);
  }

  @Test
  void conversation_withPreviousResponseId_badRequest() {
    OpenAIClient client = start(1);
    Conversation conversation = client.conversations().create();
    Response first = client.responses().create(turn("hi").conversation(conversation.id()).build());

    assertThatThrownBy(() -> client.responses().create(turn("again")
            .conversation(conversation.id()).previousResponseId(first.id()).build()))
        .isInstanceOfSatisfying(BadRequestException.class,
            e -> assertThat(e.code()).hasValue("mutually_exclusive_parameters"));
  }

  // --- bad input ---

  static Stream<Arguments> badBodies() {
    byte[] invalidUtf8 = "{\"model\":\"gpt-4.1\",\"input\":\"caf\u00e9\"}".getBytes(StandardCharsets.ISO_8859_1);
    return Stream.of(
        Arguments.of("not JSON", "this is not json".getBytes(StandardCharsets.UTF_8), null),
        Arguments.of("JSON array", "[1,2,3]".getBytes(StandardCharsets.UTF_8), null),
        Arguments.of("empty body", new byte[0], null),
        Arguments.of("invalid UTF-8 in a string", invalidUtf8, null),
        Arguments.of("invalid UTF-8 lead bytes", new byte[] {0, 0, (byte) 0xfe, (byte) 0xff, 0x7b}, null),
        Arguments.of("truncated JSON", "{\"model\":\"gpt-4.1\",\"inp".getBytes(StandardCharsets.UTF_8), null),
        Arguments.of("model: 5", utf8("{\"model\":5,\"input\":\"hi\"}"), "model"),
        Arguments.of("input: 5", utf8("{\"model\":\"gpt-4.1\",\"input\":5}"), "input"),
        Arguments.of("store: \"yes\"", utf8("{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"store\":\"yes\"}"), "store"),
        Arguments.of("unknown field", utf8("{\"model\":\"gpt-4.1\",\"input\":\"hi\",\"temprature\":1}"), "temprature"),
        Arguments.of("missing model", utf8("{\"input\":\"hi\"}"), "model"),
        Arguments.of("input item not an object", utf8("{\"model\":\"gpt-4.1\",\"input\":[5]}"), "input[0]"),
        Arguments.of("bad role", utf8("{\"model\":\"gpt-4.1\",\"input\":[{\"role\":\"robot\",\"content\":\"x\"}]}"),
            "input[0].role"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badBodies")
  void create_badBody_400InOpenAiErrorShapeAndServerKeepsServing(
      String name, byte[] body, String param) throws IOException {
    OpenAIClient client = start(1);

    Raw raw = post("/openai/v1/responses", body);

    assertThat(raw.status).as(name).isEqualTo(400);
    JsonNode error = raw.json().get("error");
    assertThat(raw.json().size()).isEqualTo(1);
    assertThat(error.fieldNames()).toIterable()
        .containsExactlyInAnyOrder("message", "type", "param", "code");
    assertThat(error.get("message").asText()).isNotBlank();
    assertThat(error.get("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.get("param").isNull() ? null : error.get("param").asText()).isEqualTo(param);
    assertThat(answer(client.responses().create(turn("still there?").build())).userMessages())
        .isEqualTo(1);
  }

  @Test
  void create_unknownTopLevelFieldThroughSdk_badRequestNamesIt() {
    OpenAIClient client = start(1);

    assertThatThrownBy(() -> client.responses().create(
            turn("hi").putAdditionalBodyProperty("temprature", JsonValue.from(1)).build()))
        .isInstanceOfSatisfying(BadRequestException.class, e -> {
          assertThat(e.code()).hasValue("unknown_parameter");
          assertThat(e.param()).hasValue("temprature");
        });
  }

  @Test
  void create_optionalFieldsTheSdkKnows_accepted() {
    OpenAIClient client = start(1);

    Response response = client.responses().create(turn("hi")
        .moderation(ResponseCreateParams.Moderation.builder().model("omni-moderation-latest").build())
        .build());

    assertThat(answer(response).userMessages()).isEqualTo(1);
  }

  // --- helpers ---

  private OpenAIClient start(int backends) {
    sim = ApimSimulator.builder().backends(backends).start();
    return client(sim.openAiBaseUrl());
  }

  private OpenAIClient client(String baseUrl) {
    OpenAIOkHttpClient.Builder builder = OpenAIOkHttpClient.builder()
        .baseUrl(baseUrl)
        .apiKey("test-key")
        .maxRetries(0)
        .timeout(Duration.ofSeconds(10));
    if (!baseUrl.endsWith("/v1")) {
      // Azure's path without /v1 needs the api-version query on every request.
      builder.putQueryParam("api-version", API_VERSION);
    }
    OpenAIClient client = builder.build();
    clients.add(client);
    return client;
  }

  private static ResponseCreateParams.Builder turn(String text) {
    return ResponseCreateParams.builder().model(MODEL).input(text);
  }

  private static ResponseCreateParams.Builder reasoningTurn(String text) {
    return ResponseCreateParams.builder().model("o4-mini").input(text)
        .reasoning(Reasoning.builder().effort(ReasoningEffort.LOW).build())
        .addInclude(ResponseIncludable.REASONING_ENCRYPTED_CONTENT);
  }

  private static EasyInputMessage user(String text) {
    return EasyInputMessage.builder().role(EasyInputMessage.Role.USER).content(text).build();
  }

  private static FunctionTool weatherTool() {
    return FunctionTool.builder()
        .name("get_weather")
        .parameters(FunctionTool.Parameters.builder()
            .putAdditionalProperty("type", JsonValue.from("object"))
            .putAdditionalProperty("properties", JsonValue.from(Map.of()))
            .build())
        .strict(false)
        .build();
  }

  /** The item as a stateless client replays it: no id, which its builder cannot unset. */
  @SuppressWarnings("unchecked")
  private static ResponseReasoningItem withoutId(ResponseReasoningItem item) {
    return item.toBuilder().id((JsonField<String>) (JsonField<?>) JsonMissing.of()).build();
  }

  private static ResponseOutputItem single(Response response) {
    assertThat(response.validate().output()).hasSize(1);
    return response.output().get(0);
  }

  /** The text of the response's last output item, which must be an assistant message. */
  private static String text(Response response) {
    List<ResponseOutputItem> output = response.validate().output();
    return output.get(output.size() - 1).asMessage().content().get(0).asOutputText().text();
  }

  private static SimulatedAnswer answer(Response response) {
    return SimulatedAnswer.parse(text(response));
  }

  private static List<String> collapsedTypes(List<ResponseStreamEvent> events) {
    List<String> types = new ArrayList<>();
    for (ResponseStreamEvent event : events) {
      String type = field(event, "type").asText();
      if (types.isEmpty() || !types.get(types.size() - 1).equals(type)) {
        types.add(type);
      }
    }
    return types;
  }

  private static long sequenceNumber(ResponseStreamEvent event) {
    return field(event, "sequence_number").longValue();
  }

  private static JsonNode field(ResponseStreamEvent event, String name) {
    return event._json().orElseThrow().convert(JsonNode.class).get(name);
  }

  private static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static JsonNode json(String text) {
    try {
      return MAPPER.readTree(text);
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + text, e);
    }
  }

  private static int fixtureStatus(String file) throws IOException {
    return MAPPER.readTree(FIXTURES.resolve(file).toFile()).get("status").asInt();
  }

  /** The fixture's body with the id quoted in its message replaced by {@code id}. */
  private static JsonNode fixtureBody(String file, String id) throws IOException {
    ObjectNode body = (ObjectNode) MAPPER.readTree(Files.readString(FIXTURES.resolve(file))).get("body");
    ObjectNode error = (ObjectNode) body.get("error");
    Matcher quoted = Pattern.compile("'([^']+)'").matcher(error.get("message").asText());
    assertThat(quoted.find()).as("fixture %s quotes an id", file).isTrue();
    error.put("message", error.get("message").asText().replace(quoted.group(1), id));
    return body;
  }

  private Raw post(String path, String body) throws IOException {
    return post(path, utf8(body));
  }

  private Raw post(String path, byte[] body) throws IOException {
    Request request = new Request.Builder().url(sim.url() + path)
        .post(RequestBody.create(body, JSON)).build();
    try (okhttp3.Response response = http.newCall(request).execute()) {
      return new Raw(response.code(), response.body().string());
    }
  }

  private record Raw(int status, String body) {
    JsonNode json() {
      return ResponsesBackendTest.json(body);
    }
  }
}
