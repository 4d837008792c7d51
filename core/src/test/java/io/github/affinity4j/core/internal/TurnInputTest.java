package io.github.affinity4j.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainKey;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

final class TurnInputTest {

  @Test
  void fromRequestBody_stringInput_normalisedToOneUserMessage() {
    TurnInput turn = parse("{\"model\":\"gpt-4.1\",\"input\":\"Explain \\\"photosynthesis\\\" \\u00e9 \\\\\"}").orElseThrow();

    assertThat(text(turn.items())).as("the string as sent, escapes kept")
        .isEqualTo("[{\"type\":\"message\",\"role\":\"user\",\"content\":\"Explain \\\"photosynthesis\\\" \\u00e9 \\\\\"}]");
    assertThat(turn.itemCount()).isEqualTo(1);
    assertThat(turn.itemIds()).isEmpty();
    assertThat(turn.chain()).isEmpty();
    assertThat(turn.store()).isTrue();
  }

  @Test
  void fromRequestBody_stringInputAmidWhitespace_copiedToItsClosingQuote() {
    assertThat(text(parse("{ \"input\" :\t\"say \\\"hi\\\"\" \n, \"model\":\"m\"}").orElseThrow().items()))
        .isEqualTo("[{\"type\":\"message\",\"role\":\"user\",\"content\":\"say \\\"hi\\\"\"}]");
    assertThat(text(parse("{\"input\":\"\"}").orElseThrow().items()))
        .isEqualTo("[{\"type\":\"message\",\"role\":\"user\",\"content\":\"\"}]");
    assertThat(parse("{\"input\":\"open")).as("truncated string").isEmpty();
    assertThat(parse("{\"input\":\"closed\"")).as("object not closed").isEmpty();
  }

  @Test
  void fromRequestBody_arrayInput_keptAsSentWithItemIds() {
    TurnInput turn = parse("{\"input\": [\n"
        + "  {\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"hi\", \"id\": \"nested\"}]},\n"
        + "  {\"id\": \"rs_1\", \"type\": \"reasoning\", \"summary\": [], \"encrypted_content\": \"gAAA\"},\n"
        + "  {\"type\": \"item_reference\", \"id\": \"msg_2\"},\n"
        + "  {\"type\": \"function_call_output\", \"call_id\": \"call_1\", \"output\": \"{\\\"t\\\":21}\"}\n"
        + "], \"model\": \"m\", \"previous_response_id\": \"resp_1\", \"store\": false}").orElseThrow();

    assertThat(text(turn.items())).as("byte for byte, whitespace included").isEqualTo("[\n"
        + "  {\"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"hi\", \"id\": \"nested\"}]},\n"
        + "  {\"id\": \"rs_1\", \"type\": \"reasoning\", \"summary\": [], \"encrypted_content\": \"gAAA\"},\n"
        + "  {\"type\": \"item_reference\", \"id\": \"msg_2\"},\n"
        + "  {\"type\": \"function_call_output\", \"call_id\": \"call_1\", \"output\": \"{\\\"t\\\":21}\"}\n"
        + "]");
    assertThat(turn.itemCount()).isEqualTo(4);
    assertThat(turn.itemIds()).as("top-level ids only").containsExactly("rs_1", "msg_2");
    assertThat(turn.previousResponseId()).contains("resp_1");
    assertThat(turn.chain()).contains(ChainKey.response("resp_1"));
    assertThat(turn.store()).isFalse();
  }

  @Test
  void fromRequestBody_conversationAsStringOrObject_isTheChain() {
    assertThat(parse("{\"conversation\":\"conv_1\",\"input\":\"x\"}").orElseThrow().chain())
        .contains(ChainKey.conversation("conv_1"));
    TurnInput object = parse("{\"conversation\":{\"id\":\"conv_2\",\"extra\":[1]},\"input\":\"x\"}").orElseThrow();
    assertThat(object.conversationId()).contains("conv_2");
    assertThat(object.chain()).contains(ChainKey.conversation("conv_2"));
    assertThat(parse("{\"conversation\":\"conv_1\",\"previous_response_id\":\"resp_1\"}").orElseThrow().chain())
        .as("previous_response_id wins").contains(ChainKey.response("resp_1"));
  }

  @Test
  void fromRequestBody_inputRepeated_lastOneWithOnlyItsCountAndIds() {
    // As the API reads JSON: the last input wins (TurnInputFuzzTest found the count and ids kept).
    TurnInput turn = parse("{\"input\":[{\"id\":\"msg_1\"},{\"id\":\"msg_2\"}],\"input\":\"x\","
        + "\"input\":[{\"id\":\"fc_3\",\"type\":\"function_call\"}]}").orElseThrow();

    assertThat(turn.itemCount()).isEqualTo(1);
    assertThat(turn.itemIds()).containsExactly("fc_3");
    assertThat(text(turn.items())).isEqualTo("[{\"id\":\"fc_3\",\"type\":\"function_call\"}]");
  }

  @Test
  void fromRequestBody_manyItems_keepsTheLatestIdsOnly_itemsWhole() {
    int many = TurnInput.MAX_ITEM_IDS + 10;
    StringBuilder input = new StringBuilder();
    for (int i = 0; i < many; i++) {
      input.append(i == 0 ? "" : ",").append("{\"id\":\"msg_").append(i).append("\"}");
    }
    TurnInput turn = parse("{\"input\":[" + input + "]}").orElseThrow();

    assertThat(turn.itemCount()).isEqualTo(many);
    assertThat(turn.itemIds()).hasSize(TurnInput.MAX_ITEM_IDS).doesNotContain("msg_9")
        .startsWith("msg_10").endsWith("msg_" + (many - 1));
  }

  @Test
  void fromRequestBody_noInputOrNull_emptyArray() {
    TurnInput none = parse("{\"model\":\"m\",\"prompt\":{\"id\":\"pmpt_1\"}}").orElseThrow();
    assertThat(text(none.items())).isEqualTo("[]");
    assertThat(none.itemCount()).isZero();
    assertThat(text(parse("{\"input\":null}").orElseThrow().items())).isEqualTo("[]");
  }

  @Test
  void fromRequestBody_badData_emptyNeverThrows() {
    assertThat(parse("[1,2]")).isEmpty();
    assertThat(parse("not json")).isEmpty();
    assertThat(parse("{\"input\":42}")).isEmpty();
    assertThat(parse("{\"input\":[{\"role\":\"user\"")).as("truncated").isEmpty();
    assertThat(parse("")).isEmpty();
    TurnInput junkIds = parse("{\"previous_response_id\":\"resp 1\",\"conversation\":7,\"store\":{\"x\":1},"
        + "\"input\":[{\"id\":\"bad id\",\"type\":\"message\"}],\"model\":\"m\"}").orElseThrow();
    assertThat(junkIds.chain()).isEmpty();
    assertThat(junkIds.itemIds()).isEmpty();
    assertThat(junkIds.store()).isTrue();
  }

  @Test
  void fromRequestBody_offsetAndLength_readsThatSlice() {
    byte[] padded = bytes("xx{\"input\":\"hi\"}yy");
    assertThat(TurnInput.fromRequestBody(padded, 2, padded.length - 4)).isPresent();
    assertThatThrownBy(() -> TurnInput.fromRequestBody(padded, 2, padded.length))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  @Test
  void itemsAndToString_copiesAndNoContent() {
    TurnInput turn = parse("{\"input\":\"secret words\"}").orElseThrow();
    turn.items()[0] = 'X';

    assertThat(text(turn.items())).startsWith("[");
    assertThat(turn.toString()).doesNotContain("secret").contains("items=1");
  }

  @Test
  void chain_previousResponseId_returnsResponseKey() {
    assertThat(chainOf("{\"model\":\"gpt-4o\",\"input\":\"hi\",\"previous_response_id\":\"resp_1\"}"))
        .contains(ChainKey.response("resp_1"));
  }

  @Test
  void chain_conversationAsString_returnsConversationKey() {
    assertThat(chainOf("{\"conversation\":\"conv_1\",\"input\":\"hi\"}"))
        .contains(ChainKey.conversation("conv_1"));
  }

  @Test
  void chain_conversationAsObject_returnsConversationKey() {
    assertThat(chainOf("{\"conversation\":{\"meta\":{\"id\":\"no\"},\"id\":\"conv_1\",\"x\":[1]},"
        + "\"input\":\"hi\"}"))
        .contains(ChainKey.conversation("conv_1"));
  }

  @Test
  void chain_bothFields_previousResponseIdWins() {
    assertThat(chainOf("{\"conversation\":\"conv_1\",\"previous_response_id\":\"resp_1\"}"))
        .contains(ChainKey.response("resp_1"));
    assertThat(chainOf("{\"previous_response_id\":\"resp_1\",\"conversation\":\"conv_1\"}"))
        .contains(ChainKey.response("resp_1"));
  }

  @Test
  void chain_newChain_returnsEmpty() {
    assertThat(chainOf("{\"model\":\"gpt-4o\",\"input\":\"hi\"}")).isEmpty();
    assertThat(chainOf("{\"previous_response_id\":null,\"conversation\":null}")).isEmpty();
  }

  @Test
  void chain_nestedFieldsOnly_returnsEmpty() {
    assertThat(chainOf("{\"input\":[{\"previous_response_id\":\"resp_evil\","
        + "\"conversation\":\"conv_evil\"}],\"metadata\":{\"previous_response_id\":\"resp_x\"}}"))
        .isEmpty();
  }

  @Test
  void chain_wrongTypes_returnsEmpty() {
    assertThat(chainOf("{\"previous_response_id\":42,\"conversation\":[\"conv_1\"]}")).isEmpty();
    assertThat(chainOf("{\"previous_response_id\":{\"id\":\"resp_1\"}}")).isEmpty();
    assertThat(chainOf("{\"conversation\":{\"id\":7}}")).isEmpty();
  }

  @Test
  void chain_invalidIds_returnsEmpty() {
    assertThat(chainOf("{\"previous_response_id\":\"" + "r".repeat(257) + "\"}")).isEmpty();
    assertThat(chainOf("{\"previous_response_id\":\"\"}")).isEmpty();
    assertThat(chainOf("{\"previous_response_id\":\"resp 1\"}")).isEmpty();
    assertThat(chainOf("{\"conversation\":\"conv\\u0000\"}")).isEmpty();
  }

  @Test
  void chain_invalidPreviousResponseIdAndValidConversation_returnsConversation() {
    assertThat(chainOf("{\"previous_response_id\":\"\",\"conversation\":\"conv_1\"}"))
        .contains(ChainKey.conversation("conv_1"));
  }

  @Test
  void chain_notJson_returnsEmpty() {
    assertThat(chainOf("")).isEmpty();
    assertThat(chainOf("previous_response_id=resp_1")).isEmpty();
    assertThat(chainOf("[{\"previous_response_id\":\"resp_1\"}]")).isEmpty();
    assertThat(chainOf("\"resp_1\"")).isEmpty();
    assertThat(chainOf("{\"input\":\"hi\",\"conversation\":\"conv_1\"")).isEmpty(); // truncated
    assertThat(chainOf("{\"conversation\":\"conv_1\",}")).isEmpty();
    byte[] binary = {(byte) 0xff, (byte) 0xfe, 0, 1, 2, '{'};
    assertThat(TurnInput.fromRequestBody(binary, 0, binary.length).flatMap(TurnInput::chain)).isEmpty();
  }

  @Test
  void chain_nestingBeyondParserLimit_returnsEmptyWithoutThrowing() {
    String deep = "{\"input\":" + "[".repeat(100_000) + "]".repeat(100_000)
        + ",\"previous_response_id\":\"resp_1\"}";
    assertThat(chainOf(deep)).isEmpty();
    assertThat(TurnOutputTest.chainOf(deep)).isEmpty();
  }

  @Test
  void chain_largeInputBeforeKey_returnsKey() {
    String image = "A".repeat(4 << 20);
    String body = "{\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_image\",\"image_url\":\""
        + image + "\"}]}],\"model\":\"gpt-4o\",\"previous_response_id\":\"resp_9\"}";
    assertThat(chainOf(body)).contains(ChainKey.response("resp_9"));
  }

  @Test
  void chain_slice_readsOnlyTheSlice() {
    byte[] bytes = "xx{\"previous_response_id\":\"resp_1\"}yy".getBytes(StandardCharsets.UTF_8);
    assertThat(TurnInput.fromRequestBody(bytes, 2, bytes.length - 4).flatMap(TurnInput::chain))
        .contains(ChainKey.response("resp_1"));
    assertThatThrownBy(() -> TurnInput.fromRequestBody(bytes, 2, bytes.length))
        .isInstanceOf(IndexOutOfBoundsException.class);
  }

  private static Optional<ChainKey> chainOf(String body) {
    byte[] bytes = bytes(body);
    return TurnInput.fromRequestBody(bytes, 0, bytes.length).flatMap(TurnInput::chain);
  }

  private static Optional<TurnInput> parse(String json) {
    byte[] body = bytes(json);
    return TurnInput.fromRequestBody(body, 0, body.length);
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }
}
