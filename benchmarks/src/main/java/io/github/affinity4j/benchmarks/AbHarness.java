package io.github.affinity4j.benchmarks;

import java.lang.management.ManagementFactory;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Two builds of the benchmarks jar in one process, their turns interleaved: the overhead harness's
 * pinned turn and bare OkHttp's, JSON and SSE, of each build, every one once per round in a shuffled
 * order. On a machine shared with other work, two runs of {@code overhead} differ by more than a
 * change to the request path; here both builds meet the same load at the same moments, so their
 * medians compare. Each build runs in a class loader of its own, so its OkHttp, core and
 * interceptor are its own; both jars need the harness's {@code LoopbackResponses} (any build since
 * issue 7 has it).
 *
 * <pre>
 * java -jar benchmarks/target/affinity4j-benchmarks.jar ab before.jar after.jar [--quick]
 * </pre>
 *
 * <p>Prints, per build and answer, the median and p90 of a turn, the pinned turn's ratio to the
 * same build's bare OkHttp, and the CPU time and bytes the calling thread spends per turn (the
 * CPU being the interceptor's own work plus OkHttp's, without the server's or the scheduler's). Reports only: no
 * target. Quick: 2 000 warm-up and 4 000 measured rounds; else 5 000 and 20 000.
 */
final class AbHarness {
  private static final String PACKAGE = "io.github.affinity4j.benchmarks.";
  private static final List<String> CLIENTS = List.of("BARE", "AFFINITY");

  private AbHarness() {}

  /** Runs the comparison; returns false on a usage error. */
  static boolean run(String[] args) throws Exception {
    if (args.length < 3 || !Files.isRegularFile(Path.of(args[1])) || !Files.isRegularFile(Path.of(args[2]))) {
      System.out.println("usage: ab <before.jar> <after.jar> [--quick]: two affinity4j-benchmarks.jar builds");
      return false;
    }
    boolean quick = List.of(args).contains("--quick");
    int warmup = quick ? 2_000 : 5_000;
    int rounds = quick ? 4_000 : 20_000;
    System.out.println("A/B, interleaved in one process: " + args[1] + " (A) and " + args[2] + " (B); "
        + rounds + " rounds after " + warmup + " warm-up, every turn once per round in a shuffled order");
    List<Side> sides = new ArrayList<>();
    for (int jar = 1; jar <= 2; jar++) {
      sides.addAll(sides(jar == 1 ? "A" : "B", Path.of(args[jar]), rounds));
    }
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    Random random = new Random(42);
    List<Side> order = new ArrayList<>(sides);
    for (int round = -warmup; round < rounds; round++) {
      Collections.shuffle(order, random);
      for (Side side : order) {
        long allocated = threads.getCurrentThreadAllocatedBytes();
        long cpu = threads.getCurrentThreadCpuTime();
        long start = System.nanoTime();
        side.call();
        long elapsed = System.nanoTime() - start;
        if (round >= 0) {
          side.nanos[round] = elapsed;
          side.cpu += threads.getCurrentThreadCpuTime() - cpu;
          side.allocated += threads.getCurrentThreadAllocatedBytes() - allocated;
        }
      }
    }
    System.out.println();
    System.out.printf("| %-5s | %-9s | %-6s | %10s | %10s | %8s | %8s | %12s |%n", "build", "client", "answer",
        "median us", "p90 us", "ratio", "CPU us", "bytes/turn");
    System.out.println("|-------|-----------|--------|------------|------------|----------|----------|--------------|");
    for (Side side : sides) {
      Arrays.sort(side.nanos);
    }
    for (Side side : sides) {
      Side bare = sides.stream().filter(s -> s.build.equals(side.build) && s.stream == side.stream
          && s.client.equals("BARE")).findFirst().orElseThrow();
      System.out.printf("| %-5s | %-9s | %-6s | %10.1f | %10.1f | %8.3f | %8.1f | %12d |%n", side.build, side.client,
          side.stream ? "SSE" : "JSON", side.median() / 1_000, side.p90() / 1_000, side.median() / bare.median(),
          side.cpu / 1_000.0 / rounds, side.allocated / rounds);
    }
    return true;
  }

  /** The turns of one build: bare and pinned, JSON and SSE, each on its own loopback server. */
  private static List<Side> sides(String build, Path jar, int rounds) throws Exception {
    // Not closed: the build's classes are used to the end of the run.
    URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
    Class<?> servers = loader.loadClass(PACKAGE + "LoopbackResponses");
    Class<?> clients = loader.loadClass(PACKAGE + "LoopbackResponses$Client");
    Class<?> okhttp = loader.loadClass("okhttp3.OkHttpClient");
    Class<?> request = loader.loadClass("okhttp3.Request");
    Constructor<?> newServer = accessible(servers.getDeclaredConstructor());
    Method make = accessible(clients.getDeclaredMethod("build", okhttp));
    Method seed = accessible(servers.getDeclaredMethod("seed", okhttp));
    Method turn = accessible(servers.getDeclaredMethod("turn", boolean.class));
    Method call = accessible(servers.getDeclaredMethod("call", okhttp, request));
    List<Side> sides = new ArrayList<>();
    for (String name : CLIENTS) {
      Object server = newServer.newInstance();
      Object client = make.invoke(enumConstant(clients, name), okhttp.getConstructor().newInstance());
      seed.invoke(server, client);
      for (boolean stream : new boolean[] {false, true}) {
        sides.add(new Side(build, name, stream, call, client, turn.invoke(server, stream), new long[rounds]));
      }
    }
    return sides;
  }

  private static Object enumConstant(Class<?> type, String name) {
    return Arrays.stream(type.getEnumConstants()).filter(c -> ((Enum<?>) c).name().equals(name)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no client " + name + " in " + type));
  }

  private static <T extends java.lang.reflect.AccessibleObject> T accessible(T member) {
    member.setAccessible(true); // package-private in the harness; both builds are on the class path
    return member;
  }

  /** One build's turns of one client and answer, and their times. */
  private static final class Side {
    final String build;
    final String client;
    final boolean stream;
    final Method call;
    final Object okhttp;
    final Object request;
    final long[] nanos;
    long cpu;
    long allocated;

    Side(String build, String client, boolean stream, Method call, Object okhttp, Object request, long[] nanos) {
      this.build = build;
      this.client = client;
      this.stream = stream;
      this.call = call;
      this.okhttp = okhttp;
      this.request = request;
      this.nanos = nanos;
    }

    void call() throws Exception {
      call.invoke(null, okhttp, request);
    }

    double median() {
      return nanos[nanos.length / 2];
    }

    double p90() {
      return nanos[(int) (nanos.length * 0.9)];
    }
  }
}
