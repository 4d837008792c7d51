package io.github.affinity4j.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every Java block of the README and of {@code docs/*.md} is either a snippet that a test runs
 * ({@code <!-- snippet: name -->} on the line before its fence, and {@code // snippet: name} in a
 * test source of some module), or says why not ({@code <!-- not-compiled: reason -->}). Every
 * relative link of those pages and of RELIABILITY.md names a file and heading that exist, except
 * on lines marked {@code <!-- after merge: … -->} (pages another branch of the same issue adds).
 */
final class DocsPagesTest {
  private static final Path ROOT = Path.of("..");
  private static final String SNIPPET = "<!-- snippet: ";
  private static final String NOT_COMPILED = "<!-- not-compiled: ";
  private static final String AFTER_MERGE = "<!-- after merge";
  private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");

  @Test
  void everyJavaBlock_isASnippetOrSaysWhyNot() {
    List<String> unmarked = new ArrayList<>();
    for (Path page : pages()) {
      List<String> lines = read(page);
      for (int i = 0; i < lines.size(); i++) {
        if (!lines.get(i).strip().equals("```java")) {
          continue;
        }
        String mark = i == 0 ? "" : lines.get(i - 1).strip();
        boolean marked = mark.startsWith(SNIPPET) && mark.endsWith("-->")
            || mark.startsWith(NOT_COMPILED) && mark.endsWith("-->") && mark.length() > NOT_COMPILED.length() + 3;
        if (!marked) {
          unmarked.add(ROOT.relativize(page) + ":" + (i + 1));
        }
      }
    }
    assertThat(unmarked).as("java blocks without <!-- snippet: name --> or <!-- not-compiled: reason -->").isEmpty();
  }

  @Test
  void everySnippet_isInATestSource() {
    Set<String> inSources = testSources().stream()
        .flatMap(source -> read(source).stream())
        .map(String::strip)
        .filter(line -> line.startsWith("// snippet: "))
        .map(line -> line.substring("// snippet: ".length()).strip())
        .collect(Collectors.toCollection(HashSet::new));
    // The README's dependencies block is the getting-started project's (GettingStartedPomTest).
    read(ROOT.resolve("examples/getting-started/pom.xml")).stream()
        .map(String::strip)
        .filter(line -> line.startsWith("<!-- snippet: "))
        .map(line -> line.substring("<!-- snippet: ".length()).split("[ (]")[0])
        .forEach(inSources::add);
    List<String> missing = new ArrayList<>();
    for (Path page : pages()) {
      for (String name : DocSnippets.pageSnippets(page).keySet()) {
        if (!inSources.contains(name)) {
          missing.add(ROOT.relativize(page) + ": " + name);
        }
      }
    }
    assertThat(missing).as("snippets no test source marks with // snippet: name").isEmpty();
  }

  @Test
  void everyRelativeLink_namesAFileAndHeadingThatExist() {
    List<String> broken = new ArrayList<>();
    List<Path> pages = new ArrayList<>(pages());
    pages.add(ROOT.resolve("RELIABILITY.md"));
    for (Path page : pages) {
      List<String> lines = read(page);
      for (int i = 0; i < lines.size(); i++) {
        String line = lines.get(i);
        if (line.contains(AFTER_MERGE)) {
          continue;   // names a page another branch of the same issue adds
        }
        Matcher link = LINK.matcher(line);
        while (link.find()) {
          String target = link.group(1);
          if (target.startsWith("http://") || target.startsWith("https://")) {
            continue;
          }
          int hash = target.indexOf('#');
          String file = hash < 0 ? target : target.substring(0, hash);
          Path resolved = file.isEmpty() ? page : page.getParent().resolve(file).normalize();
          if (!Files.exists(resolved)) {
            broken.add(ROOT.relativize(page) + ":" + (i + 1) + " " + target);
          } else if (hash >= 0 && (file.isEmpty() || file.endsWith(".md"))) {
            if (!headingAnchors(resolved).contains(target.substring(hash + 1))) {
              broken.add(ROOT.relativize(page) + ":" + (i + 1) + " " + target);
            }
          }
        }
      }
    }
    assertThat(broken).as("relative links to missing files or headings").isEmpty();
  }

  /** GitHub's anchors: a heading in lower case, punctuation dropped, spaces as hyphens. */
  private static Set<String> headingAnchors(Path page) {
    Set<String> anchors = new HashSet<>();
    boolean inCode = false;
    for (String line : read(page)) {
      if (line.startsWith("```")) {
        inCode = !inCode;
      } else if (!inCode && line.startsWith("#")) {
        String heading = line.replaceFirst("^#+", "").strip().toLowerCase(Locale.ROOT);
        anchors.add(heading.replaceAll("[^\\p{L}\\p{N}_\\- ]", "").replace(' ', '-'));
      }
    }
    return anchors;
  }

  @Test
  void readme_isALandingPage_ofAtMost300Lines() {
    assertThat(read(ROOT.resolve("README.md"))).hasSizeLessThanOrEqualTo(300);
  }

  private static List<Path> pages() {
    List<Path> pages = new ArrayList<>();
    pages.add(ROOT.resolve("README.md"));
    try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
      docs.filter(path -> path.toString().endsWith(".md")).sorted().forEach(pages::add);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return pages;
  }

  /** The test sources of every module, and of the getting-started project under examples/. */
  private static List<Path> testSources() {
    List<Path> roots = new ArrayList<>();
    try (Stream<Path> modules = Files.list(ROOT)) {
      modules.map(module -> module.resolve("src/test/java")).forEach(roots::add);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    roots.add(ROOT.resolve("examples/getting-started/src/test/java"));
    roots.add(ROOT.resolve("examples/getting-started/src/main/java"));
    List<Path> sources = new ArrayList<>();
    for (Path root : roots) {
      if (!Files.isDirectory(root)) {
        continue;
      }
      try (Stream<Path> files = Files.walk(root)) {
        files.filter(path -> path.toString().endsWith(".java")).forEach(sources::add);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return sources;
  }

  private static List<String> read(Path file) {
    try {
      return Files.readAllLines(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
