package io.github.affinity4j.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.testsupport.DocSnippets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Checks that {@code docs/simulator.md} shows, word for word, the test of
 * {@code snippets.BackgroundPollsTest} (a whole source file, imports included), which runs as a
 * test of its own. The page's JUnit example of a conversation runs in the {@code openai} module,
 * which has the SDK wrapper this module cannot depend on.
 */
final class SimulatorDocsTest {
  @Test
  void simulatorPage_showsTheBackgroundPollTestAsItRuns() {
    Path source = Path.of("src", "test", "java", "io", "github", "affinity4j", "testkit", "snippets",
        "BackgroundPollsTest.java");
    assertThat(DocSnippets.inPage(DocSnippets.page("docs/simulator.md"), "background-polls"))
        .isEqualTo(DocSnippets.inSource(source, "background-polls"));
  }
}
