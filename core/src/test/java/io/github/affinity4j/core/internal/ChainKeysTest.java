package io.github.affinity4j.core.internal;

import io.github.affinity4j.core.ChainKey;
import static org.assertj.core.api.Assertions.assertThat;

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
}
