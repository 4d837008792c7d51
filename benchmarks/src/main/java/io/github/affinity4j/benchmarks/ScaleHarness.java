package io.github.affinity4j.benchmarks;

import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.ConnectionPool;
import okhttp3.OkHttpClient;
import okhttp3.Response;

/**
 * Issue 7, point 4: 10 000 chains alive at once, advanced by 64 threads, against a loopback
 * server that answers a continuing turn without the affinity cookie with HTTP 400, as a backend
 * that lacks the previous response would. Thread {@code t} owns chains {@code t, t + 64, …}, so
 * every chain stays open for the whole run and the store holds all of them.
 *
 * <p>Three clients, each with its own loopback server, {@code OkHttpClient} and chains: bare OkHttp
 * (whose continuing turns are accepted without a pin), and OkHttp with the
 * {@link AffinityInterceptor} at its default bounds and with repair off. They are interleaved, as
 * {@link AbHarness} and {@link OverheadHarness} interleave theirs, so that all three meet the same
 * load of a shared machine: a round is one slice of one turn (each thread advances 16 of its
 * chains, about a thousand turns in all), and in each round the clients run their slice one after
 * another, on all 64 threads, in an order shuffled per round. Only one client runs at any
 * moment. Wall time, this process's CPU time and GC time are taken per slice and summed per client;
 * the verdict uses turns per CPU-second, the throughput the process would have on a machine of its
 * own (the loopback servers are in the process too). The 64 calling threads' own CPU per turn is
 * printed beside it: where the interceptor's work is done, apart from the servers, the JIT and GC.
 * The per-round ratios' spread is printed, so that a reader sees the noise. A warm-up of two turns
 * over other chains, not counted, goes first.
 * After the run the heap is read (after GC, with only the default-bounds interceptor still
 * reachable) and compared with the bounds its store and journal were given.
 */
final class ScaleHarness {
  private static final int CHAINS = 10_000;
  private static final int THREADS = 64;
  /** Chains each thread advances per slice: 1 024 turns, a small part of a second. */
  private static final int SLICE = 16;
  private static final int WARMUP_CHAINS = 4_096;
  private static final int ID_LENGTH = "resp_0000000000".length();
  /** The ids of the calling threads, read for their CPU time. */
  private static final List<Long> CALLERS = new java.util.concurrent.CopyOnWriteArrayList<>();

  private ScaleHarness() {}

  /** Measures, prints the table; returns whether every target holds. */
  static boolean run(String[] args) throws Exception {
    boolean quick = List.of(args).contains("--quick");
    int turns = quick ? 3 : 8;
    System.out.println("Scale: " + CHAINS + " chains x " + turns + " turns, all open at once, on " + THREADS
        + " threads; per client a loopback server (4 threads) that rejects an unpinned continuation; clients"
        + " interleaved in slices of " + SLICE + " chains per thread, shuffled per round, after a warm-up of 2"
        + " turns over " + WARMUP_CHAINS + " other chains");
    long baseline = MemoryHarness.usedHeap();
    AffinityInterceptor defaults = AffinityInterceptor.builder()
        .store(CaffeineAffinityStore.builder().build())
        .journal(CaffeineHistoryJournal.builder().build())
        .build();
    List<Run> runs = interleaved(defaults, turns);
    Run bare = runs.get(0);
    Run affinity = runs.get(1);
    Run pinOnly = runs.get(2);
    long heapAfter = MemoryHarness.usedHeap(); // the other clients are gone; defaults is used below
    long storeKeys = defaults.store().estimatedSize();
    long journalEntries = defaults.journal().estimatedSize();
    long retained = heapAfter - baseline;
    // The bounds the defaults give: the journal's maximumBytes (which counts its per-entry
    // overhead) plus the store's keys at the measured per-key cost (memory benchmark: < 350 B).
    long bound = CaffeineHistoryJournal.DEFAULT_MAXIMUM_BYTES + CaffeineAffinityStore.DEFAULT_MAXIMUM_SIZE * 350L;

    System.out.println();
    System.out.printf("| %-40s | %8s | %10s | %6s | %16s | %6s | %11s | %10s | %14s |%n", "client", "turns/s",
        "turns/CPU-s", "errors", "unpinned", "GC ms", "ratio (CPU)", "ratio (wall)", "caller CPU us");
    System.out.println("|" + "-".repeat(42) + "|" + "-".repeat(10) + "|" + "-".repeat(12) + "|" + "-".repeat(8)
        + "|" + "-".repeat(18) + "|" + "-".repeat(8) + "|" + "-".repeat(13) + "|" + "-".repeat(12)
        + "|" + "-".repeat(16) + "|");
    row("bare OkHttp", bare, bare, bare.unpinned + " (accepted)");
    row("+ AffinityInterceptor (defaults)", affinity, bare, String.valueOf(affinity.unpinned));
    row("+ AffinityInterceptor, RepairPolicy.FAIL", pinOnly, bare, String.valueOf(pinOnly.unpinned));
    double ratio = affinity.turnsPerCpuSecond() / bare.turnsPerCpuSecond();
    System.out.println();
    spread("defaults", affinity, bare);
    spread("RepairPolicy.FAIL", pinOnly, bare);
    System.out.printf("  heap retained after the run: %.1f MiB (store %d keys, journal %d entries);"
        + " bound from the defaults: %.1f MiB%n", retained / 1048576.0, storeKeys, journalEntries, bound / 1048576.0);
    boolean throughput = ratio >= 0.95;
    boolean clean = affinity.errors == 0 && affinity.unpinned == 0 && bare.errors == 0
        && pinOnly.errors == 0 && pinOnly.unpinned == 0;
    boolean bounded = retained <= bound;
    System.out.printf("  %-4s %-55s measured %.3fx%n", throughput ? "PASS" : "MISS",
        "throughput (turns per CPU-second) >= 0.95x bare", ratio);
    System.out.printf("  %-4s %-55s measured %d%n", clean ? "PASS" : "MISS", "no errors, every continuation pinned",
        affinity.errors + affinity.unpinned + bare.errors + pinOnly.errors + pinOnly.unpinned);
    System.out.printf("  %-4s %-55s measured %.1f MiB%n", bounded ? "PASS" : "MISS", "heap within the store and journal bounds",
        retained / 1048576.0);
    System.out.println(throughput && clean && bounded ? "scale: all targets PASS" : "scale: some targets MISS");
    return throughput && clean && bounded;
  }

  /** Runs the three clients interleaved; returns bare's, the defaults' and RepairPolicy.FAIL's runs. */
  private static List<Run> interleaved(AffinityInterceptor defaults, int turns) throws Exception {
    AtomicInteger threadNumber = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(THREADS, task -> {
      Thread thread = new Thread(task, "scale-" + threadNumber.getAndIncrement());
      CALLERS.add(thread.getId());
      thread.setDaemon(true);
      return thread;
    });
    List<Client> clients = new ArrayList<>();
    try {
      clients.add(new Client(null));
      clients.add(new Client(defaults));
      clients.add(new Client(AffinityInterceptor.builder().repairPolicy(RepairPolicy.FAIL).build()));
      for (Client client : clients) {
        client.warmUp(pool);
      }
      int slices = (chainsOf(0, CHAINS) + SLICE - 1) / SLICE;
      List<Client> order = new ArrayList<>(clients);
      Random random = new Random(42);
      for (int turn = 0; turn < turns; turn++) {
        for (int slice = 0; slice < slices; slice++) {
          Collections.shuffle(order, random);
          for (Client client : order) {
            client.measure(pool, slice * SLICE, (slice + 1) * SLICE);
          }
        }
      }
      List<Run> runs = new ArrayList<>();
      for (Client client : clients) {
        runs.add(client.result());
      }
      return runs;
    } finally {
      pool.shutdownNow();
      for (Client client : clients) {
        client.close();
      }
    }
  }

  /** How many of {@code chains} chains thread {@code t} owns: {@code t, t + 64, …}. */
  private static int chainsOf(int t, int chains) {
    return (chains - t + THREADS - 1) / THREADS;
  }

  /** Prints the spread of a client's per-round ratio (turns per CPU-second) to bare's. */
  private static void spread(String label, Run run, Run bare) {
    double[] ratios = new double[run.roundRates.length];
    for (int i = 0; i < ratios.length; i++) {
      ratios[i] = run.roundRates[i] / bare.roundRates[i];
    }
    Arrays.sort(ratios);
    System.out.printf("  per-round ratio (CPU) of %s over %d rounds: min %.3f, median %.3f, max %.3f%n", label,
        ratios.length, ratios[0], ratios[ratios.length / 2], ratios[ratios.length - 1]);
  }

  private static void row(String label, Run run, Run bare, String unpinned) {
    System.out.printf("| %-40s | %8.0f | %10.0f | %6d | %16s | %6d | %11.3f | %10.3f | %14.1f |%n", label,
        run.turnsPerSecond(), run.turnsPerCpuSecond(), run.errors, unpinned, run.gcMillis,
        run.turnsPerCpuSecond() / bare.turnsPerCpuSecond(), run.turnsPerSecond() / bare.turnsPerSecond(),
        run.callerMicros());
  }

  /** A client's sums over its slices, and each round's turns per CPU-second. */
  private record Run(long turns, long errors, long unpinned, long nanos, long gcMillis, long cpuNanos,
      long callerNanos, double[] roundRates) {
    /** CPU per turn on the calling threads, in microseconds. */
    double callerMicros() {
      return callerNanos / 1e3 / turns;
    }

    double turnsPerSecond() {
      return turns * 1e9 / nanos;
    }

    /** Turns per second of this process's CPU: the throughput on a machine of its own. */
    double turnsPerCpuSecond() {
      return turns * 1e9 / cpuNanos;
    }
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** The CPU time of the 64 calling threads: where an interceptor's work is done. */
  private static long callerCpuNanos() {
    java.lang.management.ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (long id : CALLERS) {
      sum += Math.max(0, threads.getThreadCpuTime(id));
    }
    return sum;
  }

  private static long gcMillis() {
    return ManagementFactory.getGarbageCollectorMXBeans().stream()
        .mapToLong(GarbageCollectorMXBean::getCollectionTime).sum();
  }

  /** One client: bare OkHttp ({@code interceptor} null) or with the interceptor, its server and chains. */
  private static final class Client implements AutoCloseable {
    private final LoopbackResponses server;
    private final OkHttpClient okhttp;
    /** {@code chains[t][k]}: the last response id of chain {@code t + 64 k}, null before its first turn. */
    private final String[][] chains = chains(CHAINS);
    private final AtomicLong errors = new AtomicLong();
    private final AtomicReference<Throwable> firstError = new AtomicReference<>();
    private final List<Double> roundRates = new ArrayList<>();
    private long unpinnedBefore;
    private long turns;
    private long nanos;
    private long cpuNanos;
    private long callerNanos;
    private long gcMillis;

    Client(AffinityInterceptor interceptor) throws IOException {
      server = new LoopbackResponses(4, interceptor != null);
      // Synchronous calls: the dispatcher's limits do not apply, the pool keeps a connection per thread.
      OkHttpClient.Builder builder = new OkHttpClient.Builder()
          .connectionPool(new ConnectionPool(THREADS, 1, TimeUnit.MINUTES));
      if (interceptor != null) {
        builder.addInterceptor(interceptor);
      }
      okhttp = builder.build();
    }

    private static String[][] chains(int count) {
      String[][] chains = new String[THREADS][];
      for (int t = 0; t < THREADS; t++) {
        chains[t] = new String[chainsOf(t, count)];
      }
      return chains;
    }

    /** Two turns over chains of their own, so that the JIT has compiled a start and a pinned continuation. */
    void warmUp(ExecutorService pool) throws Exception {
      String[][] warmUp = chains(WARMUP_CHAINS);
      for (int turn = 0; turn < 2; turn++) {
        advance(pool, warmUp, 0, Integer.MAX_VALUE);
      }
      errors.set(0);
      unpinnedBefore = server.unpinned();
    }

    /** Advances this client's chains {@code [from, to)} of every thread's share by one turn, measured. */
    void measure(ExecutorService pool, int from, int to) throws Exception {
      long gcBefore = gcMillis();
      long callersBefore = callerCpuNanos();
      long cpuBefore = processCpuNanos();
      long begin = System.nanoTime();
      long done = advance(pool, chains, from, to);
      long cpu = processCpuNanos() - cpuBefore;
      callerNanos += callerCpuNanos() - callersBefore;
      nanos += System.nanoTime() - begin;
      cpuNanos += cpu;
      gcMillis += gcMillis() - gcBefore;
      turns += done;
      roundRates.add(done * 1e9 / cpu);
    }

    /** One turn of each thread's chains {@code [from, to)}, all 64 threads at once; returns the turns done. */
    private long advance(ExecutorService pool, String[][] chains, int from, int to) throws Exception {
      List<Callable<Integer>> tasks = new ArrayList<>(THREADS);
      for (String[] own : chains) {
        tasks.add(() -> {
          int done = 0;
          for (int c = from; c < Math.min(to, own.length); c++) {
            String next = turn(own[c]);
            if (next != null) {
              own[c] = next;
              done++;
            }
          }
          return done;
        });
      }
      long done = 0;
      for (Future<Integer> task : pool.invokeAll(tasks)) {
        done += task.get();
      }
      return done;
    }

    /** One turn continuing {@code previousId}; returns the new response id, or null on an error. */
    private String turn(String previousId) {
      try (Response response = okhttp.newCall(server.request(previousId)).execute()) {
        String body = response.body().string();
        if (!response.isSuccessful()) {
          errors.incrementAndGet();
          return null;
        }
        return body.substring(7, 7 + ID_LENGTH);
      } catch (IOException e) {
        errors.incrementAndGet();
        firstError.compareAndSet(null, e);
        return null;
      }
    }

    Run result() {
      if (firstError.get() != null) {
        System.out.println("  first error: " + firstError.get());
      }
      return new Run(turns, errors.get(), server.unpinned() - unpinnedBefore, nanos, gcMillis, cpuNanos,
          callerNanos, roundRates.stream().mapToDouble(Double::doubleValue).toArray());
    }

    @Override
    public void close() {
      okhttp.dispatcher().executorService().shutdown();
      okhttp.connectionPool().evictAll();
      server.close();
    }
  }
}
