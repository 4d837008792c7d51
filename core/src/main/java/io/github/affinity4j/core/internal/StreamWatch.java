package io.github.affinity4j.core.internal;

import io.github.affinity4j.core.ChainKey;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a successful stream go by for its {@link Turn}: binds the chain at
 * {@code response.created}, journals the turn at {@code response.completed}. Holds one event at
 * most, never the stream. Not API; not thread-safe (a stream is read by one thread at a time).
 */
public final class StreamWatch {
  private static final Logger logger = LoggerFactory.getLogger(StreamWatch.class);

  private final Turn turn;
  private final SseResponseIdScanner ids = new SseResponseIdScanner();
  private final @Nullable SseCompletedScanner completed;
  private boolean finished;

  StreamWatch(Turn turn) {
    this.turn = turn;
    this.completed = turn.journals() ? new SseCompletedScanner() : null;
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
        Optional<ChainKey> created = ids.feed(bytes, offset, length);
        if (created.isPresent()) {
          turn.bind(created.get());
        } else if (ids.isDone()) {
          logger.debug("Stream for {} did not start with response.created; nothing bound",
              Turn.describe(turn.chain()));
        }
      }
      if (completed != null && !completed.isDone()) {
        completed.feed(bytes, offset, length).ifPresent(turn::record);
      }
      finished = ids.isDone() && (completed == null || completed.isDone());
    } catch (RuntimeException e) {
      finished = true;
      logger.error("Affinity not recorded for stream of {}: unexpected failure", Turn.describe(turn.chain()), e);
    }
  }

  /** The stream ended: says, at DEBUG, what it never carried. */
  public void end() {
    if (finished) {
      return;
    }
    finished = true;
    if (!turn.isBound()) {
      logger.debug("Stream for {} ended before response.created; nothing bound", Turn.describe(turn.chain()));
    } else if (completed != null && !completed.isDone()) {
      logger.debug("Stream for {} ended before response.completed; turn not journaled",
          Turn.describe(turn.chain()));
    }
  }
}
