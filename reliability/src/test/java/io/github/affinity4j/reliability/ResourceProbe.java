package io.github.affinity4j.reliability;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;

/**
 * What a run leaves behind: threads, connections, heap. Take {@link #before()} first, release
 * everything, then {@link #after(Duration)}.
 */
final class ResourceProbe {
  private final Set<Thread> threadsBefore;
  private final long heapBefore;

  private ResourceProbe(Set<Thread> threadsBefore, long heapBefore) {
    this.threadsBefore = threadsBefore;
    this.heapBefore = heapBefore;
  }

  /**
   * An OkHttp client's state: calls running or queued in its dispatcher, connections in its pool
   * and how many of those are idle (a connection that is neither idle nor serving a call was
   * leaked: a response body nobody closed).
   */
  record Pool(int runningCalls, int queuedCalls, int connections, int idleConnections) {
    boolean quiet() {
      return runningCalls == 0 && queuedCalls == 0 && connections == idleConnections;
    }
  }

  /**
   * After the run.
   *
   * @param heapBeforeBytes heap in use before the run, after a full GC
   * @param heapAfterBytes heap in use after the run and its release, after a full GC
   * @param leftThreads non-daemon threads started since {@link #before()} and still alive
   */
  record After(long heapBeforeBytes, long heapAfterBytes, List<String> leftThreads) {
    long retainedBytes() {
      return heapAfterBytes - heapBeforeBytes;
    }
  }

  static ResourceProbe before() {
    return new ResourceProbe(new HashSet<>(Thread.getAllStackTraces().keySet()), usedHeapAfterGc());
  }

  static Pool pool(OkHttpClient client) {
    Dispatcher dispatcher = client.dispatcher();
    ConnectionPool pool = client.connectionPool();
    return new Pool(dispatcher.runningCallsCount(), dispatcher.queuedCallsCount(), pool.connectionCount(),
        pool.idleConnectionCount());
  }

  /**
   * Waits up to {@code patience} for the non-daemon threads started since {@link #before()} to end
   * (an executor shut down lets its idle threads go at once), then measures the heap.
   */
  After after(Duration patience) throws InterruptedException {
    long deadline = System.nanoTime() + patience.toNanos();
    List<String> left = new ArrayList<>();
    for (Thread thread : Thread.getAllStackTraces().keySet()) {
      if (thread.isDaemon() || threadsBefore.contains(thread) || thread == Thread.currentThread()) {
        continue;
      }
      long wait = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
      thread.join(wait);
      if (thread.isAlive()) {
        left.add(thread.getName() + " " + thread.getState());
      }
    }
    return new After(heapBefore, usedHeapAfterGc(), List.copyOf(left));
  }

  /**
   * The JVM's class histogram (live objects, after a full GC), as {@code jcmd GC.class_histogram}
   * prints it; for finding what a run retained ({@code -Daffinity4j.histogram=true}).
   */
  static String classHistogram() {
    try {
      return (String) java.lang.management.ManagementFactory.getPlatformMBeanServer().invoke(
          new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
          new Object[] {new String[0]}, new String[] {String[].class.getName()});
    } catch (javax.management.JMException e) {
      return "no class histogram: " + e;
    }
  }

  /** Heap in use after full collections; System.gc() is a full, blocking collection on G1 and Parallel. */
  static long usedHeapAfterGc() {
    Runtime runtime = Runtime.getRuntime();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      System.gc();
      used = Math.min(used, runtime.totalMemory() - runtime.freeMemory());
    }
    return used;
  }
}
