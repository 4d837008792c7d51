package io.github.affinity4j.core.internal;

import io.github.affinity4j.core.ChainKey;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class ChainKeysTest {

  @Test
  void isAffected_responsesAndConversationsAndThreads_true() {
    assertThat(ChainKeys.isAffected("POST", "/openai/v1/responses")).isTrue();
    assertThat(ChainKeys.isAffected("POST", "/openai/v1/responses/")).isTrue();
    assertThat(ChainKeys.isAffected("GET", "/openai/v1/responses/resp_1")).isTrue();
    assertThat(ChainKeys.isAffected("POST", "/openai/v1/responses/resp_1/cancel")).isTrue();
    assertThat(ChainKeys.isAffected("POST", "/v1/conversations")).isTrue();
    assertThat(ChainKeys.isAffected("POST", "/v1/conversations/conv_1/items")).isTrue();
    assertThat(ChainKeys.isAffected("POST", "/v1/threads")).isTrue();
    assertThat(ChainKeys.isAffected("GET", "/v1/threads/thread_1/messages")).isTrue();
  }

  @Test
  void isAffected_otherRequests_false() {
    assertThat(ChainKeys.isAffected("GET", "/openai/v1/responses")).isFalse();
    assertThat(ChainKeys.isAffected("POST", "/openai/v1/chat/completions")).isFalse();
    assertThat(ChainKeys.isAffected("POST", "/openai/v1/myresponses")).isFalse();
    assertThat(ChainKeys.isAffected("POST", "/openai/v1/responsesx/resp_1")).isFalse();
    assertThat(ChainKeys.isAffected("GET", "/v1/threads")).isFalse();
    assertThat(ChainKeys.isAffected("GET", "/v1/threads/")).isFalse();
    assertThat(ChainKeys.isAffected("post", "/v1/responses")).isFalse();
    assertThat(ChainKeys.isAffected(null, "/v1/responses")).isFalse();
    assertThat(ChainKeys.isAffected("POST", null)).isFalse();
  }

  @Test
  void hasBodyKey_onlyPostResponses_true() {
    assertThat(ChainKeys.hasBodyKey("POST", "/openai/v1/responses")).isTrue();
    assertThat(ChainKeys.hasBodyKey("POST", "/openai/v1/responses/")).isTrue();
    assertThat(ChainKeys.hasBodyKey("GET", "/openai/v1/responses")).isFalse();
    assertThat(ChainKeys.hasBodyKey("POST", "/openai/v1/responses/resp_1")).isFalse();
    assertThat(ChainKeys.hasBodyKey("POST", "/v1/threads/thread_1/runs")).isFalse();
  }

  @Test
  void fromPath_idAfterLastChainSegment_returnsKey() {
    assertThat(ChainKeys.fromPath("/openai/v1/threads/thread_abc/runs"))
        .contains(ChainKey.thread("thread_abc"));
    assertThat(ChainKeys.fromPath("/openai/v1/threads/thread_abc"))
        .contains(ChainKey.thread("thread_abc"));
    assertThat(ChainKeys.fromPath("/v1/conversations/conv_1/items/msg_2"))
        .contains(ChainKey.conversation("conv_1"));
    assertThat(ChainKeys.fromPath("/v1/responses/resp_1/input_items"))
        .contains(ChainKey.response("resp_1"));
  }

  @Test
  void fromPath_noIdOrOperationName_returnsEmpty() {
    assertThat(ChainKeys.fromPath("/v1/responses")).isEmpty();
    assertThat(ChainKeys.fromPath("/v1/responses/")).isEmpty();
    assertThat(ChainKeys.fromPath("/v1/responses/input_tokens")).isEmpty();
    assertThat(ChainKeys.fromPath("/v1/responses/compact")).isEmpty();
    assertThat(ChainKeys.fromPath("/v1/threads/runs")).isEmpty();
    assertThat(ChainKeys.fromPath("/v1/threads//runs")).isEmpty();
    assertThat(ChainKeys.fromPath("/v1/threads/" + "t".repeat(300))).isEmpty();
    assertThat(ChainKeys.fromPath("/v1/chat/completions")).isEmpty();
    assertThat(ChainKeys.fromPath(null)).isEmpty();
  }

  @Test
  void fromRequestBody_previousResponseId_returnsResponseKey() {
    assertThat(request("{\"model\":\"gpt-4o\",\"input\":\"hi\",\"previous_response_id\":\"resp_1\"}"))
        .contains(ChainKey.response("resp_1"));
  }

  @Test
  void fromRequestBody_conversationAsString_returnsConversationKey() {
    assertThat(request("{\"conversation\":\"conv_1\",\"input\":\"hi\"}"))
        .contains(ChainKey.conversation("conv_1"));
  }

  @Test
  void fromRequestBody_conversationAsObject_returnsConversationKey() {
    assertThat(request("{\"conversation\":{\"meta\":{\"id\":\"no\"},\"id\":\"conv_1\",\"x\":[1]},"
        + "\"input\":\"hi\"}"))
        .contains(ChainKey.conversation("conv_1"));
  }

  @Test
  void fromRequestBody_bothFields_previousResponseIdWins() {
    assertThat(request("{\"conversation\":\"conv_1\",\"previous_response_id\":\"resp_1\"}"))
        .contains(ChainKey.response("resp_1"));
    assertThat(request("{\"previous_response_id\":\"resp_1\",\"conversation\":\"conv_1\"}"))
        .contains(ChainKey.response("resp_1"));
  }

  @Test
  void fromRequestBody_newChain_returnsEmpty() {
    assertThat(request("{\"model\":\"gpt-4o\",\"input\":\"hi\"}")).isEmpty();
    assertThat(request("{\"previous_response_id\":null,\"conversation\":null}")).isEmpty();
  }

  @Test
  void fromRequestBody_nestedFieldsOnly_returnsEmpty() {
    assertThat(request("{\"input\":[{\"previous_response_id\":\"resp_evil\","
        + "\"conversation\":\"conv_evil\"}],\"metadata\":{\"previous_response_id\":\"resp_x\"}}"))
        .isEmpty();
  }

  @Test
  void fromRequestBody_wrongTypes_returnsEmpty() {
    assertThat(request("{\"previous_response_id\":42,\"conversation\":[\"conv_1\"]}")).isEmpty();
    assertThat(request("{\"previous_response_id\":{\"id\":\"resp_1\"}}")).isEmpty();
    assertThat(request("{\"conversation\":{\"id\":7}}")).isEmpty();
  }

  @Test
  void fromRequestBody_invalidIds_returnsEmpty() {
    assertThat(request("{\"previous_response_id\":\"" + "r".repeat(257) + "\"}")).isEmpty();
    assertThat(request("{\"previous_response_id\":\"\"}")).isEmpty();
    assertThat(request("{\"previous_response_id\":\"resp 1\"}")).isEmpty();
    assertThat(request("{\"conversation\":\"conv\\u0000\"}")).isEmpty();
  }

  @Test
  void fromRequestBody_invalidPreviousResponseIdAndValidConversation_returnsConversation() {
    assertThat(request("{\"previous_response_id\":\"\",\"conversation\":\"conv_1\"}"))
        .contains(ChainKey.conversation("conv_1"));
  }

  @Test
  void fromRequestBody_notJson_returnsEmpty() {
    assertThat(request("")).isEmpty();
    assertThat(request("previous_response_id=resp_1")).isEmpty();
    assertThat(request("[{\"previous_response_id\":\"resp_1\"}]")).isEmpty();
    assertThat(request("\"resp_1\"")).isEmpty();
    assertThat(request("{\"input\":\"hi\",\"conversation\":\"conv_1\"")).isEmpty(); // truncated
    assertThat(request("{\"conversation\":\"conv_1\",}")).isEmpty();
    byte[] binary = {(byte) 0xff, (byte) 0xfe, 0, 1, 2, '{'};
    assertThat(ChainKeys.fromRequestBody(binary, 0, binary.length)).isEmpty();
  }

  @Test
  void fromRequestBody_nestingBeyondParserLimit_returnsEmptyWithoutThrowing() {
    String deep = "{\"input\":" + "[".repeat(100_000) + "]".repeat(100_000)
        + ",\"previous_response_id\":\"resp_1\"}";
    assertThat(request(deep)).isEmpty();
    assertThat(response(deep)).isEmpty();
  }

  @Test
  void fromRequestBody_largeInputBeforeKey_returnsKey() {
    String image = "A".repeat(4 << 20);
    String body = "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\""
        + image + "\"}]}],\"model\":\"gpt-4o\",\"previous_response_id\":\"resp_9\"}";
    assertThat(request(body)).contains(ChainKey.response("resp_9"));
  }

  @Test
  void fromRequestBody_slice_readsOnlyTheSlice() {
    byte[] bytes = "xx{\"previous_response_id\":\"resp_1\"}yy".getBytes(StandardCharsets.UTF_8);
    assertThat(ChainKeys.fromRequestBody(bytes, 2, bytes.length - 4))
        .contains(ChainKey.response("resp_1"));
    assertThatThrownBy(() -> ChainKeys.fromRequestBody(bytes, 2, bytes.length))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void fromResponseBody_responseObject_returnsResponseKey() {
    assertThat(response("{\"id\":\"resp_2\",\"object\":\"response\",\"output\":[{\"id\":\"msg_1\","
        + "\"type\":\"message\"}],\"conversation\":{\"id\":\"conv_1\"}}"))
        .contains(ChainKey.response("resp_2"));
    assertThat(response("{\"output\":[{\"id\":\"msg_1\"}],\"object\":\"response\",\"id\":\"resp_2\"}"))
        .contains(ChainKey.response("resp_2"));
  }

  @Test
  void fromResponseBody_conversationAndThreadObjects_returnTheirKeys() {
    assertThat(response("{\"id\":\"conv_1\",\"object\":\"conversation\",\"metadata\":{}}"))
        .contains(ChainKey.conversation("conv_1"));
    assertThat(response("{\"id\":\"thread_1\",\"object\":\"thread\"}"))
        .contains(ChainKey.thread("thread_1"));
    assertThat(response("{\"id\":\"run_1\",\"object\":\"thread.run\",\"thread_id\":\"thread_2\"}"))
        .contains(ChainKey.thread("thread_2"));
  }

  @Test
  void fromResponseBody_noObject_kindFromIdPrefix() {
    assertThat(response("{\"id\":\"resp_1\"}")).contains(ChainKey.response("resp_1"));
    assertThat(response("{\"id\":\"conv_1\"}")).contains(ChainKey.conversation("conv_1"));
    assertThat(response("{\"id\":\"thread_1\"}")).contains(ChainKey.thread("thread_1"));
    assertThat(response("{\"id\":\"msg_1\",\"type\":\"message\"}")).isEmpty();
  }

  @Test
  void fromResponseBody_noChain_returnsEmpty() {
    assertThat(response("{\"object\":\"response\",\"status\":\"completed\"}")).isEmpty();
    assertThat(response("{\"object\":\"list\",\"data\":[{\"id\":\"msg_1\"}]}")).isEmpty();
    assertThat(response("{\"id\":\"resp_1\",\"object\":\"response.deleted\",\"deleted\":true}"))
        .isEmpty();
    assertThat(response("{\"id\":\"run_1\",\"object\":\"thread.run\"}")).isEmpty();
    assertThat(response("{\"error\":{\"message\":\"Previous response with id 'resp_1' not found.\","
        + "\"code\":\"previous_response_not_found\"}}")).isEmpty();
    assertThat(response("{\"id\":42,\"object\":\"response\"}")).isEmpty();
    assertThat(response("{\"id\":\"" + "r".repeat(257) + "\",\"object\":\"response\"}")).isEmpty();
  }

  @Test
  void fromResponseBody_notJson_returnsEmpty() {
    assertThat(response("")).isEmpty();
    assertThat(response("<html>502 Bad Gateway</html>")).isEmpty();
    assertThat(response("[\"resp_1\"]")).isEmpty();
    assertThat(response("{\"id\":\"resp_1\"")).isEmpty(); // truncated before object is known
  }

  @Test
  void fromResponseBody_answerKnown_stopsReading() {
    // Garbage after the first two fields is never parsed: the scan stops once both are read.
    assertThat(response("{\"id\":\"resp_3\",\"object\":\"response\",\"output\":[ not json at all"))
        .contains(ChainKey.response("resp_3"));
  }

  private static Optional<ChainKey> request(String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return ChainKeys.fromRequestBody(bytes, 0, bytes.length);
  }

  private static Optional<ChainKey> response(String body) {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    return ChainKeys.fromResponseBody(bytes, 0, bytes.length);
  }
}
