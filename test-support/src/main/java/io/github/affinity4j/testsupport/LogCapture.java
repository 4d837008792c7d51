package io.github.affinity4j.testsupport;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * Records every SLF4J event of the process, at every level from TRACE to ERROR, while it is open:
 * for tests that must prove a secret never reaches a log line, whatever level an application runs
 * its loggers at.
 *
 * <pre>{@code
 * try (LogCapture logs = LogCapture.start()) {
 *   client.newCall(request).execute().close();
 *   assertThat(logs.text()).doesNotContain(apiKey);
 * }
 * }</pre>
 *
 * <p>It needs {@link CapturingSlf4jProvider} as the SLF4J provider of the test JVM: run the tests
 * with {@code -Dslf4j.provider=io.github.affinity4j.testsupport.CapturingSlf4jProvider}
 * (Surefire's {@code systemPropertyVariables}). That provider passes every event on to the SLF4J
 * backend found on the class path (slf4j-simple, logback), at the levels that backend is configured
 * for, so other tests see no difference; while a capture is open, every logger reports every level enabled, so
 * code guarded by {@code isTraceEnabled()} runs too, and every event is recorded.
 *
 * <p>{@link #during} runs a piece of code with a capture open, for a test that wants the log of
 * one call: {@code String log = LogCapture.during(() -> execute(call)).text();}. A test of what
 * code does while a level is off uses {@link #startAtConfiguredLevels()} instead, which leaves the
 * backend's levels as they are.
 *
 * <p>One capture at a time per JVM; events from every thread are recorded. Thread-safe.
 */
public final class LogCapture implements AutoCloseable {

  private static final AtomicReference<LogCapture> ACTIVE = new AtomicReference<>();

  private final List<CapturedLog> events = new ArrayList<>();
  private final boolean passOn;
  private final boolean allLevels;

  private LogCapture(boolean passOn, boolean allLevels) {
    this.passOn = passOn;
    this.allLevels = allLevels;
  }

  /**
   * Starts recording.
   *
   * @throws IllegalStateException if {@link CapturingSlf4jProvider} is not the SLF4J provider of
   *     this JVM, or another capture is open
   */
  public static LogCapture start() {
    return start(true);
  }

  /**
   * Starts recording; with {@code passOn} false, events are recorded only, not passed on to the
   * backend meanwhile (for suites that log a great deal and check every event themselves).
   *
   * @throws IllegalStateException as {@link #start()}
   */
  public static LogCapture start(boolean passOn) {
    return open(passOn, true);
  }

  /**
   * Starts recording with every logger's levels left as the backend has them: a level the backend
   * has off stays off (code guarded by {@code isTraceEnabled()} does not run) and its events are
   * not recorded. For tests of what code does while a level is off; events are passed on.
   *
   * @throws IllegalStateException as {@link #start()}
   */
  public static LogCapture startAtConfiguredLevels() {
    return open(true, false);
  }

  /**
   * Runs {@code action} with a capture open, as {@link #start()} opens one, and returns that
   * capture, closed (its events stay readable), also when {@code action} throws.
   *
   * @param <E> the checked exception {@code action} may throw
   * @param action the code whose log is wanted
   * @throws E what {@code action} throws
   * @throws IllegalStateException as {@link #start()}
   */
  public static <E extends Exception> LogCapture during(Action<E> action) throws E {
    try (LogCapture capture = start()) {
      action.run();
      return capture;
    }
  }

  private static LogCapture open(boolean passOn, boolean allLevels) {
    ILoggerFactory factory = LoggerFactory.getILoggerFactory();
    if (!(factory instanceof CapturingSlf4jProvider.Factory)) {
      throw new IllegalStateException("SLF4J's provider is " + factory.getClass().getName()
          + ", not the capturing one: run the tests with -Dslf4j.provider="
          + CapturingSlf4jProvider.class.getName());
    }
    LogCapture capture = new LogCapture(passOn, allLevels);
    if (!ACTIVE.compareAndSet(null, capture)) {
      throw new IllegalStateException("another LogCapture is open; close it first");
    }
    return capture;
  }

  /** Every event recorded so far, in the order logged; a copy. */
  public List<CapturedLog> events() {
    synchronized (events) {
      return List.copyOf(events);
    }
  }

  /**
   * Every event recorded so far as text, one per line (continued over several for a throwable):
   * level, logger, message, MDC, and the throwable's full {@code printStackTrace} output, causes and
   * suppressed exceptions included.
   */
  public String text() {
    StringBuilder out = new StringBuilder();
    for (CapturedLog event : events()) {
      out.append(event).append('\n');
    }
    return out.toString();
  }

  /** Stops recording; the events stay readable. */
  @Override
  public void close() {
    ACTIVE.compareAndSet(this, null);
  }

  static boolean isCapturing() {
    return ACTIVE.get() != null;
  }

  /** Whether a capture is open that turns every level on. */
  static boolean enablesAllLevels() {
    LogCapture capture = ACTIVE.get();
    return capture != null && capture.allLevels;
  }

  static boolean passesOn() {
    LogCapture capture = ACTIVE.get();
    return capture == null || capture.passOn;
  }

  static void record(Level level, String logger, String message, Map<String, String> mdc,
      Throwable throwable) {
    LogCapture capture = ACTIVE.get();
    if (capture == null) {
      return;
    }
    String trace = null;
    if (throwable != null) {
      StringWriter text = new StringWriter();
      throwable.printStackTrace(new PrintWriter(text));
      trace = text.toString();
    }
    CapturedLog event = new CapturedLog(level, logger, message, mdc == null ? Map.of() : Map.copyOf(mdc), trace);
    synchronized (capture.events) {
      capture.events.add(event);
    }
  }

  /**
   * Code that {@link #during} runs.
   *
   * @param <E> the checked exception it may throw; {@code RuntimeException} for none
   */
  @FunctionalInterface
  public interface Action<E extends Exception> {
    /**
     * Runs the code.
     *
     * @throws E as the code does
     */
    void run() throws E;
  }

  /**
   * One recorded event.
   *
   * @param level the level it was logged at
   * @param logger the logger's name
   * @param message the formatted message
   * @param mdc the MDC of the logging thread at the time; empty if none
   * @param throwable the throwable's {@code printStackTrace} output, or null if none was logged
   */
  public record CapturedLog(Level level, String logger, String message, Map<String, String> mdc,
      String throwable) {

    /** The level, logger, message, MDC and stack trace, as {@link LogCapture#text()} shows them. */
    @Override
    public String toString() {
      return level + " " + logger + " - " + message + (mdc.isEmpty() ? "" : " " + mdc)
          + (throwable == null ? "" : "\n" + throwable);
    }
  }
}
