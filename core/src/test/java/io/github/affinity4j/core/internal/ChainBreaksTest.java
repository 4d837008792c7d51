package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainBreak.Kind;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ErrorFixtures.Fixture;
import io.github.affinity4j.core.ErrorFixtures;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

final class ChainBreaksTest {

  private static final TurnInput CONTINUES_RESPONSE = request(
      "{\"model\":\"m\",\"previous_response_id\":\"resp_68af1c2e9d548190a0c1b3f0e2d4a7b50c6f2e8d1a9b3c4d\","
          + "\"input\":\"next\"}");
  private static final TurnInput CONTINUES_ABC = request(
      "{\"model\":\"m\",\"previous_response_id\":\"resp_abc123\",\"input\":\"next\"}");
  private static final TurnInput CONTINUES_CONVERSATION = request(
      "{\"model\":\"m\",\"conversation\":{\"id\":\"conv_6851a3f0c9e08191b2a7d4e5f6a7b8c9\"},\"input\":\"next\"}");
  private static final TurnInput NEW_CHAIN = request("{\"model\":\"m\",\"input\":\"hello\"}");
  private static final TurnInput CARRIES_REASONING = request("{\"model\":\"m\",\"store\":false,\"input\":["
      + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"q\"},"
      + "{\"id\":\"rs_68af1c3a1b2c8190\",\"type\":\"reasoning\",\"summary\":[]},"
      + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"and?\"}]}");
  private static final TurnInput CARRIES_OTHER_ITEM = request("{\"model\":\"m\",\"input\":["
      + "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":\"a\"}]}");

  /** What each fixture is, for a request that carries what the error is about, pinned. */
  private static final Map<String, Optional<Kind>> EXPECTED = Map.of(
      "previous_response_not_found.json", Optional.of(Kind.PREVIOUS_RESPONSE_NOT_FOUND),
      "previous_response_404.json", Optional.of(Kind.PREVIOUS_RESPONSE_NOT_FOUND),
      "previous_response_invalid_terse.json", Optional.of(Kind.PREVIOUS_RESPONSE_NOT_FOUND),
      "conversation_not_found.json", Optional.of(Kind.CONVERSATION_NOT_FOUND),
      "item_not_found_store_false.json", Optional.of(Kind.ITEM_NOT_FOUND),
      "breaker_open_503.json", Optional.of(Kind.BACKEND_UNAVAILABLE),
      "apim_backend_connection_failure_500.json", Optional.of(Kind.BACKEND_UNAVAILABLE),
      "invalid_encrypted_content.json", Optional.empty(),
      "rate_limited_429.json", Optional.empty());

  @Test
  void classify_everyFixture_matchesItsKind() {
    assertThat(ErrorFixtures.names()).as("every fixture has an expectation here")
        .containsExactlyInAnyOrderElementsOf(EXPECTED.keySet());
    for (String name : ErrorFixtures.names()) {
      Fixture fixture = ErrorFixtures.load(name);
      TurnInput request = switch (name) {
        case "previous_response_404.json", "previous_response_invalid_terse.json" -> CONTINUES_ABC;
        case "conversation_not_found.json" -> CONTINUES_CONVERSATION;
        case "item_not_found_store_false.json" -> CARRIES_REASONING;
        default -> CONTINUES_RESPONSE;
      };
      assertThat(classify(fixture, request, true).map(ChainBreak::kind)).as(name).isEqualTo(EXPECTED.get(name));
    }
  }

  @Test
  void classify_previousResponseNotFound_keepsCodeAndIdNotMessage() {
    ChainBreak broke = classify(ErrorFixtures.load("previous_response_not_found.json"), CONTINUES_RESPONSE, false)
        .orElseThrow();

    assertThat(broke).isEqualTo(new ChainBreak(Kind.PREVIOUS_RESPONSE_NOT_FOUND, 400,
        "previous_response_not_found", "resp_68af1c2e9d548190a0c1b3f0e2d4a7b50c6f2e8d1a9b3c4d"));
    assertThat(broke.toString()).doesNotContain("Previous response with id");
    assertThat(broke.describe()).isEqualTo("previous response "
        + "resp_68af1c2e9d548190a0c1b3f0e2d4a7b50c6f2e8d1a9b3c4d not found (HTTP 400)");
  }

  @Test
  void classify_notFoundVariants_needTheRequestToCarryWhatTheyNameNotAPin() {
    for (String name : new String[] {"previous_response_not_found.json", "previous_response_404.json",
        "previous_response_invalid_terse.json"}) {
      Fixture fixture = ErrorFixtures.load(name);
      assertThat(classify(fixture, CONTINUES_ABC, false)).as(name + " unpinned")
          .map(ChainBreak::kind).contains(Kind.PREVIOUS_RESPONSE_NOT_FOUND);
      assertThat(classify(fixture, NEW_CHAIN, true)).as(name + " on a new chain").isEmpty();
      assertThat(classify(fixture, CONTINUES_CONVERSATION, true)).as(name + " in a conversation").isEmpty();
    }
    Fixture conversation = ErrorFixtures.load("conversation_not_found.json");
    assertThat(classify(conversation, CONTINUES_RESPONSE, true)).isEmpty();
    assertThat(classify(conversation, NEW_CHAIN, true)).isEmpty();
  }

  @Test
  void classify_itemNotFound_onlyWhenTheRequestCarriedThatItem() {
    Fixture fixture = ErrorFixtures.load("item_not_found_store_false.json");

    assertThat(classify(fixture, CARRIES_REASONING, false)).contains(
        new ChainBreak(Kind.ITEM_NOT_FOUND, 400, null, "rs_68af1c3a1b2c8190"));
    assertThat(classify(fixture, NEW_CHAIN, true)).as("no ids sent").isEmpty();
    assertThat(classify(fixture, CONTINUES_RESPONSE, true)).as("no ids sent").isEmpty();
    assertThat(classify(fixture, CARRIES_OTHER_ITEM, true)).as("another id sent").isEmpty();
  }

  @Test
  void classify_breakerOpen503_onlyForAPinnedChain() {
    Fixture fixture = ErrorFixtures.load("breaker_open_503.json");

    assertThat(classify(fixture, CONTINUES_RESPONSE, true))
        .contains(new ChainBreak(Kind.BACKEND_UNAVAILABLE, 503, null, null));
    assertThat(classify(fixture, CONTINUES_CONVERSATION, true)).map(ChainBreak::kind)
        .contains(Kind.BACKEND_UNAVAILABLE);
    assertThat(classify(fixture, CONTINUES_RESPONSE, false)).as("unpinned").isEmpty();
    assertThat(classify(fixture, NEW_CHAIN, true)).as("no chain").isEmpty();
    for (int status : new int[] {502, 504}) {
      assertThat(ChainBreaks.classify(status, new byte[0], 0, 0, CONTINUES_RESPONSE, true))
          .map(ChainBreak::kind).contains(Kind.BACKEND_UNAVAILABLE);
    }
    byte[] modelShaped = bytes("{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}");
    assertThat(ChainBreaks.classify(500, modelShaped, 0, modelShaped.length, CONTINUES_RESPONSE, true))
        .as("a 500 in the model's shape is the backend's own error, not its absence").isEmpty();
  }

  @Test
  void classify_rateLimited429_neverABreak() {
    Fixture fixture = ErrorFixtures.load("rate_limited_429.json");

    for (TurnInput request : new TurnInput[] {CONTINUES_RESPONSE, CONTINUES_CONVERSATION, CARRIES_REASONING,
        NEW_CHAIN}) {
      assertThat(classify(fixture, request, true)).isEmpty();
      assertThat(classify(fixture, request, false)).isEmpty();
    }
    byte[] notFoundBody = ErrorFixtures.load("previous_response_not_found.json").body();
    assertThat(ChainBreaks.classify(429, notFoundBody, 0, notFoundBody.length, CONTINUES_RESPONSE, true))
        .as("the status decides first").isEmpty();
  }

  @Test
  void classify_400AboutSomethingElse_notABreak() {
    String[] bodies = {
        error("Invalid type for 'previous_response_id': expected a string, but got an integer instead.",
            "previous_response_id", "invalid_type"),
        error("Unknown parameter: 'foo'.", "foo", "unknown_parameter"),
        error("Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id'"
            + " or 'conversation'.", null, "mutually_exclusive_parameters"),
        error("Your input exceeds the context window of this model.", "input", "context_length_exceeded"),
        error("Missing required parameter: 'model'.", "model", "missing_required_parameter"),
        "{\"error\":{\"code\":\"404\",\"message\":\"Resource not found\"}}",
        "{\"error\":{\"code\":\"DeploymentNotFound\",\"message\":\"The API deployment for this resource"
            + " does not exist.\"}}",
        "not json at all",
        "",
    };
    for (String body : bodies) {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      assertThat(ChainBreaks.classify(400, bytes, 0, bytes.length, CONTINUES_RESPONSE, true)).as(body).isEmpty();
      assertThat(ChainBreaks.classify(404, bytes, 0, bytes.length, CONTINUES_RESPONSE, true)).as(body).isEmpty();
    }
  }

  @Test
  void classify_byParamOrQuotedIdWhenCodeIsVague_breaks() {
    byte[] byParam = bytes(error("Something about it.", "previous_response_id", null));
    byte[] quoted = bytes(error("Response with id 'resp_abc123' not found.", null, "404"));
    byte[] quotedOther = bytes(error("Response with id 'resp_other' not found.", null, null));
    byte[] conversationParam = bytes(error("Not here.", "conversation", "invalid_request_error"));

    assertThat(ChainBreaks.classify(400, byParam, 0, byParam.length, CONTINUES_ABC, false))
        .map(ChainBreak::kind).contains(Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertThat(ChainBreaks.classify(404, quoted, 0, quoted.length, CONTINUES_ABC, false))
        .contains(new ChainBreak(Kind.PREVIOUS_RESPONSE_NOT_FOUND, 404, "404", "resp_abc123"));
    assertThat(ChainBreaks.classify(404, quotedOther, 0, quotedOther.length, CONTINUES_ABC, false)).isEmpty();
    assertThat(ChainBreaks.classify(404, conversationParam, 0, conversationParam.length, CONTINUES_CONVERSATION,
        false)).map(ChainBreak::kind).contains(Kind.CONVERSATION_NOT_FOUND);
  }

  @Test
  void classify_bodyCutShortByReadBound_judgedByWhatWasRead() {
    byte[] body = ErrorFixtures.load("previous_response_not_found.json").body();
    String text = new String(body, StandardCharsets.UTF_8);
    int cut = text.lastIndexOf("previous_response_not_found") + "previous_response_not_found\"".length();
    assertThat(cut).isLessThan(body.length); // the closing braces are cut off

    assertThat(ChainBreaks.classify(400, body, 0, cut, CONTINUES_RESPONSE, true)).map(ChainBreak::kind)
        .contains(Kind.PREVIOUS_RESPONSE_NOT_FOUND);
  }

  @Test
  void classifyConnectionFailure_onlyAPinnedChain() {
    assertThat(ChainBreaks.classifyConnectionFailure(CONTINUES_RESPONSE, true))
        .contains(new ChainBreak(Kind.BACKEND_UNAVAILABLE, 0, null, null));
    assertThat(ChainBreaks.classifyConnectionFailure(CONTINUES_RESPONSE, false)).isEmpty();
    assertThat(ChainBreaks.classifyConnectionFailure(NEW_CHAIN, true)).isEmpty();
    assertThat(new ChainBreak(Kind.BACKEND_UNAVAILABLE, 0, null, null).describe())
        .isEqualTo("pinned backend unavailable (connection failed)");
  }

  @Test
  void classify_badArguments_throw() {
    assertThatThrownBy(() -> ChainBreaks.classify(400, new byte[4], 2, 3, NEW_CHAIN, true))
        .isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> ChainBreaks.classify(400, new byte[0], 0, 0, null, true))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> new ChainBreak(Kind.ITEM_NOT_FOUND, 600, null, null))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void classify_gatewayShaped500_backendUnavailableOnlyPinnedAndOnlyInTheGatewaysShape() {
    Fixture apim = ErrorFixtures.load("apim_backend_connection_failure_500.json");
    byte[] modelShaped = bytes("{\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\","
        + "\"param\":null,\"code\":null}}");

    assertThat(classify(apim, CONTINUES_RESPONSE, true).map(ChainBreak::kind)).contains(Kind.BACKEND_UNAVAILABLE);
    assertThat(classify(apim, CONTINUES_RESPONSE, false)).as("unpinned: the gateway chose").isEmpty();
    assertThat(ChainBreaks.classify(500, modelShaped, 0, modelShaped.length, CONTINUES_RESPONSE, true))
        .as("the model answered: the backend is there").isEmpty();
    assertThat(ChainBreaks.classify(500, apim.body(), 0, apim.body().length, CONTINUES_RESPONSE, true, Set.of(502)))
        .as("500 left out of the configured set").isEmpty();
    byte[] apim502 = bytes("{\"statusCode\":502,\"message\":\"Bad gateway\"}");
    assertThat(ChainBreaks.classify(502, apim502, 0, apim502.length, CONTINUES_RESPONSE, true, Set.of()))
        .as("502 counts in any shape").map(ChainBreak::kind).contains(Kind.BACKEND_UNAVAILABLE);
  }

  @Test
  void classify_invalidEncryptedContent_aBreakOnlyForARequestThatCarriedCiphertext() {
    Fixture refused = ErrorFixtures.load("invalid_encrypted_content.json");
    TurnInput sealed = request("{\"model\":\"m\",\"store\":false,\"input\":["
        + "{\"type\":\"message\",\"role\":\"user\",\"content\":\"q\"},"
        + "{\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAAAAsealed\"}]}");

    assertThat(sealed.encryptedItems()).isEqualTo(1);
    assertThat(classify(refused, sealed, false).map(ChainBreak::kind)).as("unpinned too: no pin is needed")
        .contains(Kind.INVALID_ENCRYPTED_CONTENT);
    assertThat(classify(refused, CARRIES_REASONING, true)).as("reasoning without ciphertext").isEmpty();
    assertThat(classify(refused, CONTINUES_RESPONSE, true)).isEmpty();
  }

  private static Optional<ChainBreak> classify(Fixture fixture, TurnInput request, boolean pinned) {
    return ChainBreaks.classify(fixture.status(), fixture.body(), 0, fixture.body().length, request, pinned);
  }

  private static TurnInput request(String json) {
    byte[] body = bytes(json);
    return TurnInput.fromRequestBody(body, 0, body.length).orElseThrow();
  }

  private static String error(String message, String param, String code) {
    return "{\"error\":{\"message\":\"" + message + "\",\"type\":\"invalid_request_error\",\"param\":"
        + (param == null ? "null" : "\"" + param + "\"") + ",\"code\":"
        + (code == null ? "null" : "\"" + code + "\"") + "}}";
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
