package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.ChainKey;
import org.junit.jupiter.api.Test;

final class TurnInputPathTest {

  @Test
  void isAffected_responsesAndConversationsAndThreads_true() {
    assertThat(TurnInput.isAffected("POST", "/openai/v1/responses")).isTrue();
    assertThat(TurnInput.isAffected("POST", "/openai/v1/responses/")).isTrue();
    assertThat(TurnInput.isAffected("GET", "/openai/v1/responses/resp_1")).isTrue();
    assertThat(TurnInput.isAffected("POST", "/openai/v1/responses/resp_1/cancel")).isTrue();
    assertThat(TurnInput.isAffected("POST", "/v1/conversations")).isTrue();
    assertThat(TurnInput.isAffected("POST", "/v1/conversations/conv_1/items")).isTrue();
    assertThat(TurnInput.isAffected("POST", "/v1/threads")).isTrue();
    assertThat(TurnInput.isAffected("GET", "/v1/threads/thread_1/messages")).isTrue();
  }

  @Test
  void isAffected_otherRequests_false() {
    assertThat(TurnInput.isAffected("GET", "/openai/v1/responses")).isFalse();
    assertThat(TurnInput.isAffected("POST", "/openai/v1/chat/completions")).isFalse();
    assertThat(TurnInput.isAffected("POST", "/openai/v1/myresponses")).isFalse();
    assertThat(TurnInput.isAffected("POST", "/openai/v1/responsesx/resp_1")).isFalse();
    assertThat(TurnInput.isAffected("GET", "/v1/threads")).isFalse();
    assertThat(TurnInput.isAffected("GET", "/v1/threads/")).isFalse();
    assertThat(TurnInput.isAffected("post", "/v1/responses")).isFalse();
    assertThat(TurnInput.isAffected(null, "/v1/responses")).isFalse();
    assertThat(TurnInput.isAffected("POST", null)).isFalse();
  }

  @Test
  void hasBodyKey_onlyPostResponses_true() {
    assertThat(TurnInput.hasBodyKey("POST", "/openai/v1/responses")).isTrue();
    assertThat(TurnInput.hasBodyKey("POST", "/openai/v1/responses/")).isTrue();
    assertThat(TurnInput.hasBodyKey("GET", "/openai/v1/responses")).isFalse();
    assertThat(TurnInput.hasBodyKey("POST", "/openai/v1/responses/resp_1")).isFalse();
    assertThat(TurnInput.hasBodyKey("POST", "/v1/threads/thread_1/runs")).isFalse();
  }

  @Test
  void fromPath_idAfterLastChainSegment_returnsKey() {
    assertThat(TurnInput.fromPath("/openai/v1/threads/thread_abc/runs"))
        .contains(ChainKey.thread("thread_abc"));
    assertThat(TurnInput.fromPath("/openai/v1/threads/thread_abc"))
        .contains(ChainKey.thread("thread_abc"));
    assertThat(TurnInput.fromPath("/v1/conversations/conv_1/items/msg_2"))
        .contains(ChainKey.conversation("conv_1"));
    assertThat(TurnInput.fromPath("/v1/responses/resp_1/input_items"))
        .contains(ChainKey.response("resp_1"));
  }

  @Test
  void fromPath_noIdOrOperationName_returnsEmpty() {
    assertThat(TurnInput.fromPath("/v1/responses")).isEmpty();
    assertThat(TurnInput.fromPath("/v1/responses/")).isEmpty();
    assertThat(TurnInput.fromPath("/v1/responses/input_tokens")).isEmpty();
    assertThat(TurnInput.fromPath("/v1/responses/compact")).isEmpty();
    assertThat(TurnInput.fromPath("/v1/threads/runs")).isEmpty();
    assertThat(TurnInput.fromPath("/v1/threads//runs")).isEmpty();
    assertThat(TurnInput.fromPath("/v1/threads/" + "t".repeat(300))).isEmpty();
    assertThat(TurnInput.fromPath("/v1/chat/completions")).isEmpty();
    assertThat(TurnInput.fromPath(null)).isEmpty();
  }
}
