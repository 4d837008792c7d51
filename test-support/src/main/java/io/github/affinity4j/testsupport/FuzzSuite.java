package io.github.affinity4j.testsupport;

import java.time.Duration;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs seeded, reproducible bad-input cases for the {@code …FuzzTest} suites, quick by default and
 * long on demand, each suite within a time bound, so a hang fails the test instead of the build.
 *
 * <pre>{@code
 * FuzzSuite.run("SseParser stream", 300, 30_000, Duration.ofSeconds(20), (random, index) -> {
 *   byte[] input = BadInput.mutate(random, SEED_STREAM);
 *   assertThat(scan(input)).satisfies(...);
 * });
 * }</pre>
 *
 * <p>System properties (Surefire passes {@code -D} options of the {@code mvn} command on):
 *
 * <ul>
 *   <li>{@value #SUITE_PROPERTY}: {@code quick} (the default, what CI runs: a few seconds per
 *       suite) or {@code full} (the full case counts; the time bound grows in proportion).
 *   <li>{@value #SEED_PROPERTY}: the seed every case's {@link Random} is derived from; default
 *       {@value #DEFAULT_SEED}, so every run tries the same cases.
 *   <li>{@value #CASE_PROPERTY}: run only the case with this index, to reproduce a failure.
 * </ul>
 *
 * <p>A failing case is reported with its suite, index, seed and the command line that reruns it
 * alone. Each suite prints one line to standard output: cases run, time taken, mode and seed.
 * Thread-safe: suites share nothing.
 */
public final class FuzzSuite {

  /** The system property choosing {@code quick} or {@code full}. */
  public static final String SUITE_PROPERTY = "affinity4j.suite";
  /** The system property holding the seed. */
  public static final String SEED_PROPERTY = "affinity4j.seed";
  /** The system property naming the one case to run. */
  public static final String CASE_PROPERTY = "affinity4j.case";
  /** The seed used unless {@value #SEED_PROPERTY} sets another. */
  public static final long DEFAULT_SEED = 20_261_122L;

  /** One case: gets its own seeded {@link Random} and its index. */
  @FunctionalInterface
  public interface Case {
    /** Runs the case; any exception or assertion error fails it. */
    void run(Random random, int index) throws Exception;
  }

  private FuzzSuite() {}

  /** True when {@value #SUITE_PROPERTY} is {@code full}. */
  public static boolean isFull() {
    return "full".equals(System.getProperty(SUITE_PROPERTY, "quick"));
  }

  /** The seed of this run. */
  public static long seed() {
    return Long.getLong(SEED_PROPERTY, DEFAULT_SEED);
  }

  /** {@code quick} or {@code full}, as the mode of this run says. */
  public static int cases(int quick, int full) {
    return isFull() ? full : quick;
  }

  /**
   * Runs {@code quick} cases ({@code full} in the full suite) of {@code body}, in a thread of its
   * own, and fails if they take longer than {@code quickBudget} (scaled by {@code full / quick} in
   * the full suite): the thread is interrupted and its stack is part of the failure.
   *
   * @throws AssertionError naming the failed case, or the time bound
   */
  public static void run(String name, int quick, int full, Duration quickBudget, Case body) {
    int count = cases(quick, full);
    long budgetMillis = isFull()
        ? (long) (quickBudget.toMillis() * Math.max(1.0, (double) full / quick))
        : quickBudget.toMillis();
    String only = System.getProperty(CASE_PROPERTY);
    long seed = seed();
    long nameHash = name.hashCode();
    int[] current = {-1};
    Thread[] worker = new Thread[1];
    ExecutorService executor = Executors.newSingleThreadExecutor(task -> {
      Thread thread = new Thread(task, "fuzz-" + name);
      thread.setDaemon(true);
      worker[0] = thread;
      return thread;
    });
    long start = System.nanoTime();
    Future<?> run = executor.submit(() -> {
      for (int i = 0; i < count; i++) {
        if (only != null && Integer.parseInt(only) != i) {
          continue;
        }
        current[0] = i;
        Random random = new Random(seed * 0x9E3779B97F4A7C15L + nameHash * 31 + i);
        try {
          body.run(random, i);
        } catch (Throwable failure) {
          throw new AssertionError(describe(name, i, seed) + " failed: " + failure, failure);
        }
      }
      return null;
    });
    try {
      run.get(budgetMillis, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      AssertionError hang = new AssertionError(describe(name, current[0], seed) + " did not finish: "
          + count + " cases took over " + budgetMillis + " ms");
      if (worker[0] != null) {
        Throwable stack = new Throwable("stack of the fuzz thread");
        stack.setStackTrace(worker[0].getStackTrace());
        hang.addSuppressed(stack);
      }
      run.cancel(true);
      throw hang;
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof AssertionError error) {
        throw error;
      }
      throw new AssertionError(cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    } finally {
      executor.shutdownNow();
    }
    long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    System.out.println("fuzz " + name + ": " + (only == null ? count : 1) + " cases in " + took
        + " ms (suite=" + (isFull() ? "full" : "quick") + ", seed=" + seed + ")");
  }

  private static String describe(String name, int index, long seed) {
    return "Fuzz case " + index + " of '" + name + "' (seed " + seed + "; rerun alone with -D"
        + SEED_PROPERTY + "=" + seed + " -D" + CASE_PROPERTY + "=" + index
        + (isFull() ? " -D" + SUITE_PROPERTY + "=full" : "") + ")";
  }
}
