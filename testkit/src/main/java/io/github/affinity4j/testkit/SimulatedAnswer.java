package io.github.affinity4j.testkit;

import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The deterministic answer of a simulated model, parsed from a response's output text. It names
 * the backend that answered and counts the user messages in the model's context, so a test can
 * prove that no context was lost:
 *
 * <pre>{@code
 * SimulatedAnswer answer = SimulatedAnswer.parse(response.output().get(0).asMessage()...text());
 * assertThat(answer.userMessages()).isEqualTo(turn);   // the whole conversation was seen
 * assertThat(answer.backend()).isEqualTo("backend-2");
 * }</pre>
 *
 * <p>The text reads {@code Backend backend-2 (West US) saw 3 user messages in context. Last: …},
 * with {@code Tool output: …. } before {@code Last:} when the turn carried function call outputs.
 *
 * @param backend name of the backend that answered
 * @param region region of the backend that answered
 * @param userMessages user messages in the model's context, this turn's included
 * @param toolOutput this turn's function call outputs joined by {@code "; "}, or empty
 * @param lastUserMessage text of the latest user message in the context
 */
public record SimulatedAnswer(
    String backend, String region, int userMessages, String toolOutput, String lastUserMessage) {

  private static final Pattern FORMAT = Pattern.compile(
      "Backend (\\S+) \\((.*?)\\) saw (\\d+) user messages? in context\\."
          + "(?: Tool output: (.*?)\\.)? Last: (.*)",
      Pattern.DOTALL);

  /** Checks for nulls. */
  public SimulatedAnswer {
    Objects.requireNonNull(backend, "backend");
    Objects.requireNonNull(region, "region");
    Objects.requireNonNull(toolOutput, "toolOutput");
    Objects.requireNonNull(lastUserMessage, "lastUserMessage");
  }

  /**
   * Parses the output text of a simulated response.
   *
   * @throws IllegalArgumentException if the text is not a simulated answer
   */
  public static SimulatedAnswer parse(String text) {
    Matcher matcher = FORMAT.matcher(Objects.requireNonNull(text, "text"));
    if (!matcher.matches()) {
      throw new IllegalArgumentException("not an answer of the APIM simulator: " + text);
    }
    String toolOutput = matcher.group(4) == null ? "" : matcher.group(4);
    return new SimulatedAnswer(matcher.group(1), matcher.group(2),
        Integer.parseInt(matcher.group(3)), toolOutput, matcher.group(5));
  }

  static String format(String backend, String region, int userMessages, String lastUserMessage,
      List<String> toolOutputs) {
    return "Backend " + backend + " (" + region + ") saw " + userMessages + " user message"
        + (userMessages == 1 ? "" : "s") + " in context."
        + (toolOutputs.isEmpty() ? "" : " Tool output: " + String.join("; ", toolOutputs) + ".")
        + " Last: " + lastUserMessage;
  }

  /** The answer as the simulator writes it. */
  @Override
  public String toString() {
    return format(backend, region, userMessages, lastUserMessage,
        toolOutput.isEmpty() ? List.of() : List.of(toolOutput));
  }
}
