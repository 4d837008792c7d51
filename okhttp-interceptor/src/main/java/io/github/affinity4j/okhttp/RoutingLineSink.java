package io.github.affinity4j.okhttp;

import static io.github.affinity4j.okhttp.RoutingLogInterceptor.MDC_CHAIN;
import static io.github.affinity4j.okhttp.RoutingLogInterceptor.MDC_REGION;

import io.github.affinity4j.core.ChainKey;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.slf4j.event.Level;

/**
 * Where the routing log's lines go: a caller's {@link RoutingLogInterceptor.Logger}, or the SLF4J
 * logger named after the interceptor at a chosen level; each line is handed over with the chain and
 * region in MDC, and a sink that throws costs one WARN, never the call. Thread-safe when the
 * caller's logger is.
 */
final class RoutingLineSink {
  // Named after the interceptor: that is the logger users configure for the routing log.
  private static final Logger logger = LoggerFactory.getLogger(RoutingLogInterceptor.class);

  private final RoutingLogInterceptor.Logger sink;
  private final @Nullable Level logLevel; // null with a caller's logger

  /** Lines to {@code custom} if not null, else to SLF4J at {@code logLevel}. */
  RoutingLineSink(RoutingLogInterceptor.@Nullable Logger custom, Level logLevel) {
    this.logLevel = custom == null ? logLevel : null;
    this.sink = custom != null ? custom : slf4j(logLevel);
  }

  /** Whether a line would be logged; false only when the SLF4J logger is off at the level. */
  boolean enabled() {
    return logLevel == null || logger.isEnabledForLevel(logLevel);
  }

  /** Logs {@code message} with {@code chain} and {@code region}, when not null, in MDC. */
  void log(String message, @Nullable ChainKey chain, @Nullable String region) {
    String previousChain = MDC.get(MDC_CHAIN);
    String previousRegion = MDC.get(MDC_REGION);
    try {
      if (chain != null) {
        MDC.put(MDC_CHAIN, chain.toString());
      }
      if (region != null) {
        MDC.put(MDC_REGION, RoutingLineFormat.cleanField(region));
      }
      sink.log(message);
    } catch (RuntimeException e) {
      logger.warn("The routing log's Logger threw {}; line dropped", e.getClass().getName());
    } finally {
      restore(MDC_CHAIN, previousChain);
      restore(MDC_REGION, previousRegion);
    }
  }

  @Override
  public String toString() {
    return logLevel == null ? "custom logger" : logLevel.toString();
  }

  private static void restore(String key, String value) {
    if (value == null) {
      MDC.remove(key);
    } else {
      MDC.put(key, value);
    }
  }

  private static RoutingLogInterceptor.Logger slf4j(Level level) {
    return switch (level) {
      case ERROR -> message -> logger.error("{}", message);
      case WARN -> message -> logger.warn("{}", message);
      case INFO -> message -> logger.info("{}", message);
      case DEBUG -> message -> logger.debug("{}", message);
      case TRACE -> message -> logger.trace("{}", message);
    };
  }
}
