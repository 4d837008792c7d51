package io.github.affinity4j.core.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.internal.JsonScanner.MalformedJsonException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The envelope's reader accepts exactly the JSON values Jackson accepts (the items inside are read
 * by Jackson later, so the two must not disagree on where a value ends), and reads names and
 * strings as Jackson decodes them.
 */
final class JsonScannerTest {

  private static final ObjectMapper JACKSON = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  @ParameterizedTest
  @ValueSource(strings = {
      "{}", "[]", "\"\"", "0", "-0", "12.5e-3", "1E+2", "true", "false", "null",
      "{\"a\":[1,{\"b\":null},\"x\\\"y\"],\"c\":{}}",
      " [ 1 , 2 ] ",
      "\"eight by eight bytes, quote at the end of a word: 1234567\\\"\"",
      "\"\\u00e9\\n\\t\\/\\\\\"",
      "\"caf\u00e9 \u4e2d\u6587 \ud83d\ude00\"",
      // Malformed: each must be refused by both.
      "{", "[1,]", "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "[1 2]", "01", "1.", "-", "1e",
      "tru", "nul", "\"open", "\"bad \\x escape\"", "\"\\u12G4\"", "'single'", "{a:1}", "[1]]", "\"tab\there\"",
      "\"\\u12\"", "NaN", "+1", ".5"})
  void skipValue_acceptsWhatJacksonAccepts(String json) {
    byte[] bytes = json.getBytes(UTF_8);
    assertThat(scannerAccepts(bytes)).as(json).isEqualTo(jacksonAccepts(bytes));
  }

  @Test
  void skipValue_invalidUtf8InAString_refusedAsByJackson() {
    for (byte[] bytes : List.of(
        new byte[] {'"', (byte) 0xB5, '"'},                      // a continuation byte first
        new byte[] {'"', (byte) 0xC3, '"'},                      // a lead byte cut short by the quote
        new byte[] {'"', (byte) 0xE2, (byte) 0x82, 'x', '"'},    // a 3-byte sequence, one byte missing
        new byte[] {'"', (byte) 0xF8, (byte) 0x80, '"'},         // no such lead byte
        new byte[] {'"', (byte) 0xC3, (byte) 0xA9, '"'})) {      // é: valid
      assertThat(scannerAccepts(bytes)).isEqualTo(jacksonAccepts(bytes));
    }
    assertThat(scannerAccepts(new byte[] {'"', (byte) 0xC3, (byte) 0xA9, '"'})).isTrue();
  }

  @Test
  void skipValue_everyCutOfABody_refusedLikeJackson() {
    byte[] body = ("{\"model\":\"gpt-4.1\",\"input\":[{\"type\":\"message\",\"content\":\"Hi \\\"there\\\" "
        + "caf\u00e9\"},{\"id\":\"rs_1\",\"n\":-1.5e3,\"ok\":true}],\"store\":false}").getBytes(UTF_8);
    for (int cut = 0; cut < body.length; cut++) {
      byte[] part = java.util.Arrays.copyOf(body, cut);
      assertThat(scannerAccepts(part)).as("cut at %d", cut).isEqualTo(jacksonAccepts(part));
    }
    assertThat(scannerAccepts(body)).isTrue();
  }

  @Test
  void skipValue_nestingBeyondTheLimit_malformed() {
    String deep = "[".repeat(JsonScanner.MAX_DEPTH + 1) + "]".repeat(JsonScanner.MAX_DEPTH + 1);
    String allowed = "[".repeat(JsonScanner.MAX_DEPTH) + "]".repeat(JsonScanner.MAX_DEPTH);
    assertThat(scannerAccepts(deep.getBytes(UTF_8))).isFalse();
    assertThat(scannerAccepts(allowed.getBytes(UTF_8))).isTrue();
  }

  @Test
  void fields_escapedNamesAndStrings_readAsDecoded() throws Exception {
    JsonScanner json = scanner("{\"previous\\u005fresponse_id\":\"resp_\\u0031\","
        + "\"pl\\u00e4in\":\"\\u00e9\\ud83d\\ude00\"}");
    assertThat(json.enterObject()).isTrue();
    assertThat(json.nextField()).isTrue();
    assertThat(json.fieldIs("previous_response_id")).isTrue();
    assertThat(json.readString()).isEqualTo("resp_1");
    assertThat(json.nextField()).isTrue();
    assertThat(json.fieldIs("pl\u00e4in")).isTrue();
    assertThat(json.readString()).isEqualTo("\u00e9\ud83d\ude00");
    assertThat(json.nextField()).isFalse();
  }

  @Test
  void readString_notAString_skippedAndNull() throws Exception {
    JsonScanner json = scanner("{\"id\":{\"nested\":[1,2]},\"status\":\"completed\"}");
    json.enterObject();
    List<String> values = new ArrayList<>();
    while (json.nextField()) {
      values.add(String.valueOf(json.readString()));
    }
    assertThat(values).containsExactly("null", "completed");
  }

  @Test
  void leaveTo_afterAReadingThatStoppedEarly_continuesWithTheOuterFields() throws Exception {
    JsonScanner json =
        scanner("{\"response\":{\"id\":\"resp_1\",\"output\":[{\"a\":[1]}],\"x\":{}},\"type\":\"done\"}");
    json.enterObject();
    assertThat(json.nextField()).isTrue();
    int depth = json.depth();
    json.enterObject();
    json.nextField();
    assertThat(json.readString()).isEqualTo("resp_1"); // stops here, inside the response
    json.leaveTo(depth);
    assertThat(json.nextField()).isTrue();
    assertThat(json.fieldIs("type")).isTrue();
    assertThat(json.readString()).isEqualTo("done");
    assertThat(json.nextField()).isFalse();
    assertThat(json.depth()).isZero();
  }

  @Test
  void valueRange_isTheValueAsSent() throws Exception {
    byte[] body = "{\"input\" :  [ {\"a\":1} ] ,\"b\":2}".getBytes(UTF_8);
    JsonScanner json = new JsonScanner(body, 0, body.length);
    json.enterObject();
    json.nextField();
    int start = json.valueStart();
    int end = json.skipValue();
    assertThat(new String(body, start, end - start, UTF_8)).isEqualTo("[ {\"a\":1} ]");
  }

  @Test
  void malformed_hasNoStackTrace() {
    JsonScanner json = scanner("{\"a\" 1}");
    json.enterObject();
    assertThatThrownBy(json::nextField).isInstanceOf(MalformedJsonException.class)
        .satisfies(e -> assertThat(e.getStackTrace()).isEmpty());
  }

  private static JsonScanner scanner(String json) {
    byte[] bytes = json.getBytes(UTF_8);
    return new JsonScanner(bytes, 0, bytes.length);
  }

  private static boolean scannerAccepts(byte[] bytes) {
    JsonScanner json = new JsonScanner(bytes, 0, bytes.length);
    try {
      json.skipValue();
      return json.peek() == -1; // nothing but whitespace after the value
    } catch (MalformedJsonException e) {
      return false;
    }
  }

  private static boolean jacksonAccepts(byte[] bytes) {
    try {
      return !JACKSON.readTree(bytes).isMissingNode(); // empty input: a missing node
    } catch (Exception e) {
      return false;
    }
  }
}
