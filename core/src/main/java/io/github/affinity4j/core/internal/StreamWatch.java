package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.ChainKey;
import java.util.Optional;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a successful stream go by, fed with its bytes as the caller reads them: reports the
 * response {@code response.created} names, and the output {@code response.completed} carries. A
 * {@link Turn}'s watch binds and journals with them ({@link Turn#stream()}); the routing log's
 * only wants the id ({@link #ids}). Holds one event at most, never the stream. Not API; not
 * thread-safe (a stream is read by one thread at a time).
 */
public final class StreamWatch {
  private static final Logger logger = LoggerFactory.getLogger(StreamWatch.class);

  private final Consumer<ChainKey> created;
  private final @Nullable Consumer<TurnOutput> completed;
  // What the watch is for, in its log lines: its toString is made only for a line logged.
  private final Object name;
  private final SseResponseIdScanner ids = new SseResponseIdScanner();
  private final @Nullable SseCompletedScanner output;
  private boolean finished;

  StreamWatch(Consumer<ChainKey> created, @Nullable Consumer<TurnOutput> completed, Object name) {
    this.created = created;
    this.completed = completed;
    this.name = name;
    this.output = completed == null ? null : new SseCompletedScanner();
  }

  /** A watch that reports the created response's key (unscoped) only. */
  public static StreamWatch ids(Consumer<ChainKey> created) {
    return new StreamWatch(requireNonNull(created, "created"), null, "a stream");
  }

  /** Returns true once the watch needs no more bytes. */
  public boolean isDone() {
    return finished;
  }

  /** Feeds bytes the caller has just read. */
  public void feed(byte[] bytes, int offset, int length) {
    if (finished) {
      return;
    }
    try {
      if (!ids.isDone()) {
        Optional<ChainKey> key = ids.feed(bytes, offset, length);
        if (key.isPresent()) {
          created.accept(key.get());
        } else if (ids.isDone()) {
          logger.debug("Stream for {} did not start with response.created; nothing bound", name);
        }
      }
      if (output != null && completed != null && !output.isDone()) {
        output.feed(bytes, offset, length).ifPresent(completed);
      }
      finished = ids.isDone() && (output == null || output.isDone());
    } catch (RuntimeException e) {
      finished = true;
      logger.error("Affinity not recorded for stream of {}: unexpected failure", name, e);
    }
  }

  /** The stream ended: says, at DEBUG, what it never carried. */
  public void end() {
    if (finished) {
      return;
    }
    finished = true;
    if (!ids.isDone()) {
      logger.debug("Stream for {} ended before response.created; nothing bound", name);
    } else if (output != null && !output.isDone()) {
      logger.debug("Stream for {} ended before response.completed; turn not journaled", name);
    }
  }
}
