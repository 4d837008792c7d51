package io.github.affinity4j.benchmarks;

/**
 * Entry point of {@code affinity4j-benchmarks.jar}.
 *
 * <pre>
 * java -jar benchmarks/target/affinity4j-benchmarks.jar repair-cost
 * </pre>
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    String command = args.length == 0 ? "" : args[0];
    switch (command) {
      case "repair-cost":
        RepairCostHarness.main(args);
        break;
      default:
        System.out.println("usage: java -jar affinity4j-benchmarks.jar repair-cost [--quick]");
        System.out.println();
        System.out.println("  repair-cost   bytes, requests and added latency of one chain repair");
        System.out.println("                versus history length (1, 10, 100 turns), on the simulator");
        System.exit(command.isEmpty() || command.equals("--help") ? 0 : 2);
    }
  }
}
