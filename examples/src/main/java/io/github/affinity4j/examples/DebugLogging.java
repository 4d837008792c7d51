package io.github.affinity4j.examples;

import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.LogLevel;
import io.github.affinity4j.okhttp.RoutingLogInterceptor;
import java.util.Collection;
import org.jspecify.annotations.Nullable;

/**
 * What {@code --debug} turns on: DEBUG for affinity4j's SLF4J loggers (slf4j-simple reads a
 * logger's level when the logger is created, at its class's first use, so {@link #on(boolean)}
 * must run before any affinity4j client is built), the SDK's own request log at {@link LogLevel#DEBUG} (what
 * {@code OPENAI_LOG=debug} does, redacting the credentials the SDK sets), and a
 * {@link RoutingLogInterceptor} at {@code HEADERS}, logging at DEBUG. Everything goes to standard
 * error; standard output keeps the command's own lines. Without {@code --debug} the SDK keeps its
 * default, {@code OPENAI_LOG}.
 *
 * <p>{@link #close()} restores the logging property, so that a command run inside a test leaves
 * the JVM as it found it. Not thread-safe.
 */
final class DebugLogging implements AutoCloseable {
  /** slf4j-simple's level for the loggers under {@code io.github.affinity4j}. */
  static final String PROPERTY = "org.slf4j.simpleLogger.log.io.github.affinity4j";

  private final boolean enabled;
  /** The property's value before, restored by {@link #close()}; null if it was not set. */
  private final @Nullable String previous;

  private DebugLogging(boolean enabled) {
    this.enabled = enabled;
    this.previous = System.getProperty(PROPERTY);
    if (enabled) {
      System.setProperty(PROPERTY, "debug");
    }
  }

  /** Turns debug logging on if {@code enabled}; otherwise changes nothing. */
  static DebugLogging on(boolean enabled) {
    return new DebugLogging(enabled);
  }

  boolean enabled() {
    return enabled;
  }

  /**
   * Raises the SDK's log and adds the routing log, when enabled. Call it last on the SDK's builder
   * (after affinity4j's interceptor is added) so the routing log sees the pins.
   *
   * @param cookieNames the affinity cookie names, shown as fingerprints
   * @param redact header names to show as the routing log's marker ({@code [redacted]}), in addition to the default credentials
   */
  void apply(OpenAIOkHttpClient.Builder sdk, Collection<String> cookieNames, Collection<String> redact) {
    if (!enabled) {
      return;
    }
    sdk.logLevel(LogLevel.DEBUG);
    RoutingLogInterceptor.Builder routing = RoutingLogInterceptor.builder()
        .level(RoutingLogInterceptor.Level.HEADERS)
        .logLevel(org.slf4j.event.Level.DEBUG)
        .cookieNames(cookieNames.toArray(String[]::new));
    redact.forEach(routing::redactHeader);
    sdk.addInterceptor(routing.build());
  }

  @Override
  public void close() {
    if (!enabled) {
      return;
    }
    if (previous == null) {
      System.clearProperty(PROPERTY);
    } else {
      System.setProperty(PROPERTY, previous);
    }
  }
}
