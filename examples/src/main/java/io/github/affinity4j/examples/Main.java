package io.github.affinity4j.examples;

import java.io.PrintStream;

/**
 * Entry point of {@code affinity4j-examples.jar}.
 *
 * <pre>
 * java -jar examples/target/affinity4j-examples.jar demo
 * </pre>
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    PrintStream out = System.out;
    String command = args.length == 0 ? "" : args[0];
    switch (command) {
      case "demo":
        System.exit(new SessionAffinityDemo(out).run());
        break;
      default:
        out.println("usage: java -jar affinity4j-examples.jar demo");
        out.println();
        out.println("  demo   runs a multi-turn conversation against the embedded APIM simulator");
        out.println("         (3 backends, round-robin, cookie affinity) and prints what happens.");
        System.exit(command.isEmpty() || command.equals("--help") ? 0 : 2);
    }
  }
}
