package io.github.affinity4j.testsupport;

import java.util.Iterator;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.AbstractLogger;
import org.slf4j.helpers.BasicMDCAdapter;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.helpers.NOP_FallbackServiceProvider;
import org.slf4j.spi.LoggingEventBuilder;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * The SLF4J provider behind {@link LogCapture}. Select it explicitly, never through the service
 * loader: {@code -Dslf4j.provider=io.github.affinity4j.testsupport.CapturingSlf4jProvider}. It
 * passes every event on to the first other provider on the class path (or to none), and records
 * every event, at every level, while a {@link LogCapture} is open (at the backend's levels only,
 * for {@link LogCapture#startAtConfiguredLevels()}). MDC is slf4j's map-backed adapter, so
 * captured events carry it. Thread-safe.
 */
public final class CapturingSlf4jProvider implements SLF4JServiceProvider {

  private final MDCAdapter mdc = new BasicMDCAdapter();
  private SLF4JServiceProvider delegate;
  private Factory factory;

  /** Called by SLF4J. */
  public CapturingSlf4jProvider() {}

  @Override
  public ILoggerFactory getLoggerFactory() {
    return factory;
  }

  @Override
  public IMarkerFactory getMarkerFactory() {
    return delegate.getMarkerFactory();
  }

  @Override
  public MDCAdapter getMDCAdapter() {
    return mdc;
  }

  @Override
  public String getRequestedApiVersion() {
    return "2.0.99";
  }

  @Override
  public void initialize() {
    SLF4JServiceProvider found = null;
    // This class's own loader, not the thread's: a test may load SLF4J again in a loader of its own.
    Iterator<SLF4JServiceProvider> providers = ServiceLoader.load(SLF4JServiceProvider.class,
        CapturingSlf4jProvider.class.getClassLoader()).iterator();
    while (found == null) {
      try {
        if (!providers.hasNext()) {
          break;
        }
        SLF4JServiceProvider provider = providers.next();
        if (!(provider instanceof CapturingSlf4jProvider)) {
          found = provider;
        }
      } catch (ServiceConfigurationError e) {
        // A provider of another class loader's SLF4J: not ours to use.
      }
    }
    delegate = found != null ? found : new NOP_FallbackServiceProvider();
    delegate.initialize();
    factory = new Factory(delegate.getLoggerFactory(), mdc);
  }

  /** Hands out capturing loggers that wrap the backend's. */
  static final class Factory implements ILoggerFactory {
    private final ILoggerFactory backend;
    private final MDCAdapter mdc;
    private final ConcurrentMap<String, Logger> loggers = new ConcurrentHashMap<>();

    Factory(ILoggerFactory backend, MDCAdapter mdc) {
      this.backend = backend;
      this.mdc = mdc;
    }

    @Override
    public Logger getLogger(String name) {
      return loggers.computeIfAbsent(name, n -> new CapturingLogger(n, backend.getLogger(n), mdc));
    }
  }

  /**
   * Every level enabled while a capture that turns them all on is open; otherwise exactly the
   * backend's levels.
   */
  private static final class CapturingLogger extends AbstractLogger {
    private static final long serialVersionUID = 1L;

    private final transient Logger backend;
    private final transient MDCAdapter mdc;

    CapturingLogger(String name, Logger backend, MDCAdapter mdc) {
      this.name = name;
      this.backend = backend;
      this.mdc = mdc;
    }

    private boolean enabled(Level level) {
      return LogCapture.enablesAllLevels() || backend.isEnabledForLevel(level);
    }

    @Override
    public boolean isTraceEnabled() {
      return enabled(Level.TRACE);
    }

    @Override
    public boolean isTraceEnabled(Marker marker) {
      return enabled(Level.TRACE);
    }

    @Override
    public boolean isDebugEnabled() {
      return enabled(Level.DEBUG);
    }

    @Override
    public boolean isDebugEnabled(Marker marker) {
      return enabled(Level.DEBUG);
    }

    @Override
    public boolean isInfoEnabled() {
      return enabled(Level.INFO);
    }

    @Override
    public boolean isInfoEnabled(Marker marker) {
      return enabled(Level.INFO);
    }

    @Override
    public boolean isWarnEnabled() {
      return enabled(Level.WARN);
    }

    @Override
    public boolean isWarnEnabled(Marker marker) {
      return enabled(Level.WARN);
    }

    @Override
    public boolean isErrorEnabled() {
      return enabled(Level.ERROR);
    }

    @Override
    public boolean isErrorEnabled(Marker marker) {
      return enabled(Level.ERROR);
    }

    @Override
    protected String getFullyQualifiedCallerName() {
      return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern,
        Object[] arguments, Throwable throwable) {
      if (LogCapture.isCapturing()
          && (LogCapture.enablesAllLevels() || backend.isEnabledForLevel(level))) {
        Map<String, String> context = mdc.getCopyOfContextMap();
        LogCapture.record(level, name, MessageFormatter.basicArrayFormat(pattern, arguments), context,
            throwable);
      }
      if (LogCapture.passesOn() && backend.isEnabledForLevel(level)) {
        LoggingEventBuilder event = backend.atLevel(level);
        if (throwable != null) {
          event = event.setCause(throwable);
        }
        if (arguments != null) {
          for (Object argument : arguments) {
            event = event.addArgument(argument);
          }
        }
        event.log(pattern);
      }
    }
  }
}
