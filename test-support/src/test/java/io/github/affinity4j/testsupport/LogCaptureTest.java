package io.github.affinity4j.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * {@link LogCapture} over slf4j-simple at INFO (src/test/resources), through the capturing
 * provider that the build selects for this module's tests.
 */
final class LogCaptureTest {
  private static final Logger logger = LoggerFactory.getLogger(LogCaptureTest.class);

  @Test
  void start_levelOffInTheBackend_enabledAndRecorded() {
    assertThat(logger.isDebugEnabled()).isFalse();
    try (LogCapture logs = LogCapture.start()) {
      assertThat(logger.isDebugEnabled()).isTrue();
      logger.debug("debug {}", 1);

      assertThat(logs.events()).extracting(CapturedLog::level, CapturedLog::message)
          .containsExactly(tuple(Level.DEBUG, "debug 1"));
    }
    assertThat(logger.isDebugEnabled()).isFalse();
  }

  @Test
  void during_actionLogs_returnsTheCaptureClosedWithTheActionsEvents() {
    logger.info("before");

    LogCapture logs = LogCapture.during(() -> {
      logger.info("inside {}", "info");
      logger.trace("inside trace");
    });
    logger.info("after");

    assertThat(logs.text()).isEqualTo("INFO " + LogCaptureTest.class.getName() + " - inside info\n"
        + "TRACE " + LogCaptureTest.class.getName() + " - inside trace\n");
    assertThat(logger.isTraceEnabled()).isFalse();
    LogCapture.start().close(); // none is open any more
  }

  @Test
  void during_actionThrows_exceptionPassedOnAndCaptureClosed() {
    assertThatThrownBy(() -> LogCapture.during(() -> {
      logger.warn("about to fail");
      throw new IOException("broken");
    })).isInstanceOf(IOException.class).hasMessage("broken");

    LogCapture.start().close(); // none is open any more
  }

  @Test
  void startAtConfiguredLevels_levelOffInTheBackend_staysOffAndIsNotRecorded() {
    try (LogCapture logs = LogCapture.startAtConfiguredLevels()) {
      assertThat(logger.isDebugEnabled()).isFalse();
      assertThat(logger.isInfoEnabled()).isTrue();
      logger.debug("debug");
      logger.atTrace().log("trace");
      logger.info("info");

      assertThat(logs.events()).extracting(CapturedLog::message).containsExactly("info");
    }
  }

  @Test
  void start_whileAnotherIsOpen_refused() {
    try (LogCapture logs = LogCapture.startAtConfiguredLevels()) {
      assertThatThrownBy(LogCapture::start).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("another LogCapture is open");
      assertThatThrownBy(() -> LogCapture.during(() -> logger.info("not run")))
          .isInstanceOf(IllegalStateException.class);
      assertThat(logs.events()).isEmpty();
    }
  }
}
