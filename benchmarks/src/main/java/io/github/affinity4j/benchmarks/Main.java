package io.github.affinity4j.benchmarks;

import java.util.List;

/**
 * Entry point of {@code affinity4j-benchmarks.jar}.
 *
 * <pre>
 * java -jar benchmarks/target/affinity4j-benchmarks.jar all --quick
 * java -jar benchmarks/target/affinity4j-benchmarks.jar compare
 * </pre>
 *
 * <p>Exits 0 when every target of the commands run holds, 1 when one is missed (the tables say
 * which), 2 on a usage error. With {@code --report-only} a missed target is printed (MISS) but
 * exits 0, for a CI gate on a shared machine where speed ratios vary by more than they measure;
 * an error (a failed turn, an exception) still exits non-zero.
 */
public final class Main {
  private Main() {}

  public static void main(String[] args) throws Exception {
    String command = args.length == 0 ? "" : args[0];
    boolean pass;
    switch (command) {
      case "repair-cost":
        pass = RepairCostHarness.run(args);
        break;
      case "compare":
        pass = CompareHarness.run(args);
        break;
      case "memory":
        pass = MemoryHarness.run(args);
        break;
      case "overhead":
        pass = OverheadHarness.run(args);
        break;
      case "scale":
        pass = ScaleHarness.run(args);
        break;
      case "ab":
        pass = AbHarness.run(args);
        if (!pass) {
          System.exit(2);
        }
        break;
      case "redis":
        pass = StoreLookupBenchmark.run(args);
        break;
      case "all":
        System.out.println("JDK " + System.getProperty("java.version") + ", "
            + Runtime.getRuntime().availableProcessors() + " CPUs, " + System.getProperty("os.name")
            + " " + System.getProperty("os.arch") + ", max heap "
            + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB");
        System.out.println();
        // Memory first, on a heap nothing else has used yet.
        pass = MemoryHarness.run(args);
        System.out.println();
        pass &= CompareHarness.run(args);
        System.out.println();
        pass &= OverheadHarness.run(args);
        System.out.println();
        pass &= ScaleHarness.run(args);
        break;
      default:
        System.out.println("usage: java -jar affinity4j-benchmarks.jar <command> [--quick]");
        System.out.println();
        System.out.println("  all           memory, compare, overhead and scale in sequence");
        System.out.println("  compare       plain SDK, process-wide cookie jar, stateless resend and");
        System.out.println("                affinity4j on one simulated pool: survival, fairness, bytes");
        System.out.println("  memory        heap per tracked chain and per journaled turn");
        System.out.println("  overhead      one turn through each interceptor, ratio to bare OkHttp");
        System.out.println("                (interleaved in one JVM, then JMH; --no-jmh skips JMH)");
        System.out.println("  scale         10 000 open chains on 64 threads: throughput, errors, heap");
        System.out.println("  redis         Redis store and journal vs Caffeine on loopback, one node and a");
        System.out.println("                cluster (starts redis-server from the PATH; --redis-uri URI,");
        System.out.println("                --cluster-uri URI,URI for others)");
        System.out.println("  ab A.jar B.jar  two builds of this jar in one process, turns interleaved: a");
        System.out.println("                pinned turn's median and bytes allocated, before vs after a change");
        System.out.println("  repair-cost   bytes, requests and added latency of one chain repair");
        System.out.println("                versus history length (1, 10, 100 turns), on the simulator");
        System.out.println();
        System.out.println("  --quick       smaller workloads and fewer iterations (all: under 5 minutes)");
        System.out.println("  --report-only print each target's PASS or MISS, but exit 0 on a MISS (an error");
        System.out.println("                still exits non-zero): for CI on a shared machine");
        System.exit(command.isEmpty() || command.equals("--help") ? 0 : 2);
        return;
    }
    // A missed target fails the command, so that a build can gate on it; unless only reported.
    boolean reportOnly = List.of(args).contains("--report-only");
    if (!pass && reportOnly) {
      System.out.println("(--report-only: a missed target is reported, not failed)");
    }
    System.exit(pass || reportOnly ? 0 : 1);
  }
}
