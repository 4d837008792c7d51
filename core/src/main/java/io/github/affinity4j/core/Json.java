package io.github.affinity4j.core;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;

/** Jackson plumbing shared by the journal and repair classes. Stateless and thread-safe. */
final class Json {

  /** Thread-safe once configured; its factory serves the streaming parsers too. */
  static final ObjectMapper MAPPER = new ObjectMapper();

  static final JsonFactory FACTORY = MAPPER.getFactory();

  static final byte[] EMPTY_ARRAY = {'[', ']'};

  private Json() {}

  /** Returns {@code {"type":"message","role":"user","content":text}}: how the API reads a string input. */
  static byte[] userMessage(String text) {
    ByteArrayBuilder out = new ByteArrayBuilder(text.length() + 48);
    try (JsonGenerator generator = FACTORY.createGenerator(out)) {
      generator.writeStartObject();
      generator.writeStringField("type", "message");
      generator.writeStringField("role", "user");
      generator.writeStringField("content", text);
      generator.writeEndObject();
    } catch (IOException e) {
      // A ByteArrayBuilder does no I/O; only a Jackson bug gets here.
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** Returns {@code [item]} for one serialised item. */
  static byte[] arrayOf(byte[] item) {
    byte[] array = new byte[item.length + 2];
    array[0] = '[';
    System.arraycopy(item, 0, array, 1, item.length);
    array[array.length - 1] = ']';
    return array;
  }

  /**
   * Copies the value the parser is on (an array, usually) and its children, compactly re-serialised.
   *
   * @throws IOException if the JSON is malformed
   */
  static byte[] copyValue(JsonParser parser) throws IOException {
    ByteArrayBuilder out = new ByteArrayBuilder(256);
    try (JsonGenerator generator = FACTORY.createGenerator(out)) {
      generator.copyCurrentStructure(parser);
    }
    return out.toByteArray();
  }
}
