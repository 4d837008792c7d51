package io.github.affinity4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.testsupport.DocSnippets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The README's dependencies are those of the getting-started project, which CI builds against the
 * freshly installed artifacts; and both name the version this build makes.
 */
final class GettingStartedPomTest {
  private static final Path POM = Path.of("getting-started", "pom.xml");

  @Test
  void readmeDependencies_areTheGettingStartedProjects() throws IOException {
    String readme = DocSnippets.inPage(DocSnippets.page("README.md"), "dependencies");

    assertThat(stripped(readme)).isEqualTo(stripped(pomRegion()));
  }

  @Test
  void gettingStartedBom_isThisBuildsVersion() throws IOException {
    String rootPom = Files.readString(Path.of("..", "pom.xml"));
    String version = rootPom.substring(rootPom.indexOf("<version>") + "<version>".length(), rootPom.indexOf("</version>"));

    assertThat(pomRegion()).contains("<version>" + version + "</version>");
  }

  private static String pomRegion() throws IOException {
    List<String> lines = Files.readAllLines(POM);
    int start = indexOf(lines, "<!-- snippet: dependencies");
    int end = indexOf(lines, "<!-- snippet: end -->");
    return String.join("\n", lines.subList(start + 1, end));
  }

  private static int indexOf(List<String> lines, String prefix) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).strip().startsWith(prefix)) {
        return i;
      }
    }
    throw new AssertionError(POM + " has no line starting " + prefix);
  }

  /** Indentation differs (the pom nests the block); everything else must match. */
  private static List<String> stripped(String block) {
    return Arrays.stream(block.split("\n")).map(String::strip).collect(Collectors.toList());
  }
}
