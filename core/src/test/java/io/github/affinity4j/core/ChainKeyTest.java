package io.github.affinity4j.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainKey.Kind;
import org.junit.jupiter.api.Test;

final class ChainKeyTest {

  @Test
  void factories_validId_keepKindAndId() {
    assertThat(ChainKey.response("resp_1")).isEqualTo(new ChainKey(Kind.RESPONSE, "resp_1"));
    assertThat(ChainKey.conversation("conv_1").kind()).isEqualTo(Kind.CONVERSATION);
    assertThat(ChainKey.thread("thread_1").kind()).isEqualTo(Kind.THREAD);
    assertThat(ChainKey.response("resp_1")).isNotEqualTo(ChainKey.conversation("resp_1"));
  }

  @Test
  void constructor_invalidId_throwsWithoutEchoingIt() {
    String junk = "x".repeat(300);
    assertThatThrownBy(() -> ChainKey.response(junk))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageNotContaining(junk);
    assertThatThrownBy(() -> ChainKey.response(null)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ChainKey(null, "resp_1")).isInstanceOf(NullPointerException.class);
  }

  @Test
  void parse_junk_returnsEmpty() {
    for (String junk : new String[] {null, "", " ", "resp 1", "resp_\u00e9", "resp_\n", "\u0000",
        "x".repeat(ChainKey.MAX_ID_LENGTH + 1)}) {
      assertThat(ChainKey.parse(Kind.RESPONSE, junk)).as("%s", junk).isEmpty();
    }
  }

  @Test
  void parse_longestAllowedId_returnsKey() {
    String id = "r".repeat(ChainKey.MAX_ID_LENGTH);
    assertThat(ChainKey.parse(Kind.RESPONSE, id)).contains(ChainKey.response(id));
    assertThat(ChainKey.parse(Kind.THREAD, "!~")).contains(ChainKey.thread("!~"));
  }
}
