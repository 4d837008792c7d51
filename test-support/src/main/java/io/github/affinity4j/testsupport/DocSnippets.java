package io.github.affinity4j.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Keeps the docs' code what the tests run. A page marks a code block with an HTML comment on the
 * line before its fence, {@code <!-- snippet: name -->}; a test source marks the same code with
 * {@code // snippet: name} and {@code // snippet: end} lines. The test runs the code, and compares
 * {@link #inPage} with {@link #inSource}: a page edited alone, or code changed alone, fails.
 *
 * <pre>{@code
 * assertThat(DocSnippets.inPage(DocSnippets.page("docs/conversations.md"), "stateless"))
 *     .isEqualTo(DocSnippets.inSource(DocSnippets.testSource(getClass()), "stateless"));
 * }</pre>
 */
public final class DocSnippets {
  private static final String PAGE_MARK = "<!-- snippet: ";
  private static final String SOURCE_MARK = "// snippet: ";

  private DocSnippets() {}

  /** A page of the project, by its path from the repository's root (tests run in a module's directory). */
  public static Path page(String fromRoot) {
    return Path.of("..").resolve(fromRoot);
  }

  /** The source file of a test class in this module ({@code src/test/java/…}). */
  public static Path testSource(Class<?> test) {
    return Path.of("src", "test", "java").resolve(test.getName().replace('.', '/') + ".java");
  }

  /**
   * Returns the code block after {@code <!-- snippet: name -->} in {@code page}, without its fences.
   *
   * @throws IllegalArgumentException if the page has no such snippet, or its block is not closed
   */
  public static String inPage(Path page, String name) {
    String snippet = pageSnippets(page).get(name);
    if (snippet == null) {
      throw new IllegalArgumentException(page + " has no snippet " + name);
    }
    return snippet;
  }

  /** Returns every marked snippet of {@code page}, by name, in page order. */
  public static Map<String, String> pageSnippets(Path page) {
    List<String> lines = read(page);
    Map<String, String> snippets = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (!line.startsWith(PAGE_MARK) || !line.endsWith("-->")) {
        continue;
      }
      String name = line.substring(PAGE_MARK.length(), line.length() - "-->".length()).strip();
      if (i + 1 >= lines.size() || !lines.get(i + 1).startsWith("```")) {
        throw new IllegalArgumentException(page + ": snippet " + name + " is not followed by a code block");
      }
      List<String> code = new ArrayList<>();
      int j = i + 2;
      while (j < lines.size() && !lines.get(j).startsWith("```")) {
        code.add(lines.get(j++));
      }
      if (j == lines.size()) {
        throw new IllegalArgumentException(page + ": snippet " + name + "'s code block is not closed");
      }
      snippets.put(name, String.join("\n", code));
      i = j;
    }
    return snippets;
  }

  /**
   * Returns the lines between {@code // snippet: name} and the next {@code // snippet: end} in
   * {@code source}, less the indentation of the opening mark.
   *
   * @throws IllegalArgumentException if the source has no such region
   */
  public static String inSource(Path source, String name) {
    List<String> lines = read(source);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (!line.strip().equals(SOURCE_MARK + name)) {
        continue;
      }
      int indent = line.indexOf(SOURCE_MARK);
      List<String> code = new ArrayList<>();
      for (int j = i + 1; j < lines.size(); j++) {
        String next = lines.get(j);
        if (next.strip().equals(SOURCE_MARK + "end")) {
          return String.join("\n", code);
        }
        code.add(next.length() >= indent && next.substring(0, indent).isBlank() ? next.substring(indent) : next.strip());
      }
      throw new IllegalArgumentException(source + ": snippet " + name + " has no end mark");
    }
    throw new IllegalArgumentException(source + " has no snippet " + name);
  }

  private static List<String> read(Path file) {
    try {
      return Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
