package io.github.affinity4j.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The shared error fixtures, read from {@code ../fixtures/errors/} (Surefire runs in {@code core/}). */
public final class ErrorFixtures {

  public static final Path DIRECTORY = Path.of("..", "fixtures", "errors");

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private ErrorFixtures() {}

  /** One fixture: its HTTP status and its body as the server would send it. */
  public record Fixture(String name, int status, byte[] body) {}

  public static Fixture load(String name) {
    try {
      JsonNode root = MAPPER.readTree(DIRECTORY.resolve(name).toFile());
      return new Fixture(name, root.get("status").asInt(), MAPPER.writeValueAsBytes(root.get("body")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every {@code .json} fixture file name, sorted. */
  public static List<String> names() {
    try (Stream<Path> files = Files.list(DIRECTORY)) {
      return files.map(path -> path.getFileName().toString())
          .filter(name -> name.endsWith(".json"))
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
