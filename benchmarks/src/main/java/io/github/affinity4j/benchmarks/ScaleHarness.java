package io.github.affinity4j.benchmarks;

import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Issue 7, point 4: 10 000 chains alive at once, advanced by 64 threads, against a loopback
 * server that answers a continuing turn without the affinity cookie with HTTP 400, as a backend
 * that lacks the previous response would. Thread {@code t} owns chains {@code t, t + 64, …} and
 * advances them round-robin one turn at a time, so every chain stays open for the whole run and
 * the store holds all of them. Bare OkHttp (whose continuing turns are accepted without a pin) and
 * OkHttp with the {@link AffinityInterceptor} at its default bounds (and with repair off) run the
 * same workload twice each, alternately. Throughput is counted per second of wall time and per
 * second of this process's CPU time; the verdict uses the second, the throughput the process would
 * have on a machine of its own (the loopback server is in the process too), because on a shared
 * machine the wall-time figure moves with whatever else runs. The best run of each counts. After the affinity runs the
 * heap is read (after GC) and compared with the bounds the store and journal were given.
 */
final class ScaleHarness {
  private static final int CHAINS = 10_000;
  private static final int THREADS = 64;

  private ScaleHarness() {}

  /** Measures, prints the table; returns whether every target holds. */
  static boolean run(String[] args) throws Exception {
    boolean quick = List.of(args).contains("--quick");
    int turns = quick ? 3 : 8;
    System.out.println("Scale: " + CHAINS + " chains x " + turns + " turns, all open at once, on " + THREADS
        + " threads; loopback server (4 threads) that rejects an unpinned continuation; best of 2 runs each");
    long baseline = MemoryHarness.usedHeap();
    Run bare = null;
    Run affinity = null;
    Run pinOnly = null;
    long heapAfter = 0;
    AffinityInterceptor kept = null;
    for (int round = 0; round < 2; round++) {
      Run b = run(null, turns);
      bare = best(bare, b);
      Run p = run(AffinityInterceptor.builder().repairPolicy(RepairPolicy.FAIL).build(), turns);
      pinOnly = best(pinOnly, p);
      AffinityInterceptor interceptor = AffinityInterceptor.builder()
          .store(CaffeineAffinityStore.builder().build())
          .journal(CaffeineHistoryJournal.builder().build())
          .build();
      Run a = run(interceptor, turns);
      affinity = best(affinity, a);
      kept = interceptor;
      heapAfter = MemoryHarness.usedHeap(); // this round's store and journal are still reachable through kept
    }
    long storeKeys = kept.store().estimatedSize();
    long journalEntries = kept.journal().estimatedSize();
    long retained = heapAfter - baseline;
    // The bounds the defaults give: the journal's maximumBytes (which counts its per-entry
    // overhead) plus the store's keys at the measured per-key cost (memory benchmark: < 350 B).
    long bound = CaffeineHistoryJournal.DEFAULT_MAXIMUM_BYTES + CaffeineAffinityStore.DEFAULT_MAXIMUM_SIZE * 350L;

    System.out.println();
    System.out.printf("| %-40s | %8s | %10s | %6s | %16s | %6s | %11s | %10s |%n", "client", "turns/s",
        "turns/CPU-s", "errors", "unpinned", "GC ms", "ratio (CPU)", "ratio (wall)");
    System.out.println("|" + "-".repeat(42) + "|" + "-".repeat(10) + "|" + "-".repeat(12) + "|" + "-".repeat(8)
        + "|" + "-".repeat(18) + "|" + "-".repeat(8) + "|" + "-".repeat(13) + "|" + "-".repeat(12) + "|");
    row("bare OkHttp", bare, bare, bare.unpinned + " (accepted)");
    row("+ AffinityInterceptor (defaults)", affinity, bare, String.valueOf(affinity.unpinned));
    row("+ AffinityInterceptor, RepairPolicy.FAIL", pinOnly, bare, String.valueOf(pinOnly.unpinned));
    double ratio = affinity.turnsPerCpuSecond() / bare.turnsPerCpuSecond();
    System.out.println();
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

  /** The run with more turns per CPU-second; {@code best} may be null. */
  private static Run best(Run best, Run run) {
    return best == null || run.turnsPerCpuSecond() > best.turnsPerCpuSecond() ? run : best;
  }

  private static void row(String label, Run run, Run bare, String unpinned) {
    System.out.printf("| %-40s | %8.0f | %10.0f | %6d | %16s | %6d | %11.3f | %10.3f |%n", label,
        run.turnsPerSecond(), run.turnsPerCpuSecond(), run.errors, unpinned, run.gcMillis,
        run.turnsPerCpuSecond() / bare.turnsPerCpuSecond(), run.turnsPerSecond() / bare.turnsPerSecond());
  }

  private record Run(long turns, long errors, long unpinned, long nanos, long gcMillis, long cpuNanos) {
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

  private static long gcMillis() {
    return ManagementFactory.getGarbageCollectorMXBeans().stream()
        .mapToLong(GarbageCollectorMXBean::getCollectionTime).sum();
  }

  /** Runs the workload through bare OkHttp ({@code interceptor} null) or with the interceptor. */
  private static Run run(AffinityInterceptor interceptor, int turns) throws Exception {
    try (LoopbackResponses server = new LoopbackResponses(4, interceptor != null)) {
      Dispatcher dispatcher = new Dispatcher();
      dispatcher.setMaxRequests(THREADS);
      dispatcher.setMaxRequestsPerHost(THREADS);
      OkHttpClient.Builder builder = new OkHttpClient.Builder()
          .dispatcher(dispatcher)
          .connectionPool(new ConnectionPool(THREADS, 1, TimeUnit.MINUTES));
      if (interceptor != null) {
        builder.addInterceptor(interceptor);
      }
      OkHttpClient client = builder.build();
      AtomicLong done = new AtomicLong();
      AtomicLong errors = new AtomicLong();
      AtomicReference<Throwable> firstError = new AtomicReference<>();
      CountDownLatch start = new CountDownLatch(1);
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < THREADS; t++) {
        int first = t;
        Thread thread = new Thread(() -> {
          List<String> last = new ArrayList<>();
          for (int c = first; c < CHAINS; c += THREADS) {
            last.add(null);
          }
          try {
            start.await();
            for (int turn = 0; turn < turns; turn++) {
              for (int c = 0; c < last.size(); c++) {
                Request request = server.request(last.get(c));
                try (Response response = client.newCall(request).execute()) {
                  String body = response.body().string();
                  if (!response.isSuccessful()) {
                    errors.incrementAndGet();
                    continue;
                  }
                  last.set(c, body.substring(7, 7 + "resp_0000000000".length()));
                  done.incrementAndGet();
                } catch (IOException e) {
                  errors.incrementAndGet();
                  firstError.compareAndSet(null, e);
                }
              }
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }, "scale-" + t);
        threads.add(thread);
        thread.start();
      }
      long gcBefore = gcMillis();
      long cpuBefore = processCpuNanos();
      long begin = System.nanoTime();
      start.countDown();
      for (Thread thread : threads) {
        thread.join();
      }
      long nanos = System.nanoTime() - begin;
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
      if (firstError.get() != null) {
        System.out.println("  first error: " + firstError.get());
      }
      return new Run(done.get(), errors.get(), server.unpinned(), nanos, gcMillis() - gcBefore,
          processCpuNanos() - cpuBefore);
    }
  }
}
