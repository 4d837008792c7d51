package io.github.affinity4j.openai;

import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIException;
import com.openai.errors.OpenAIInvalidDataException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseStreamEvent;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SDK's stream of a turn, passed through unchanged while the caller reads it: the response id
 * is bound at {@code response.created}, and the turn is journaled and the conversation moved on at
 * {@code response.completed} (or {@code response.incomplete}), before the caller sees that event.
 * The turn ends there, at {@code response.failed} or {@code error}, or at {@link #close()},
 * whichever comes first. Nothing is buffered. A failure of the stream mid-way is not repaired (the
 * caller has its first events): it reaches the caller with a {@link io.github.affinity4j.core.ChainNote}
 * naming the chain.
 */
final class ObservedStream implements StreamResponse<ResponseStreamEvent> {
  private static final Logger logger = LoggerFactory.getLogger(ObservedStream.class);

  private final StreamResponse<ResponseStreamEvent> delegate;
  private final TurnExchange.Success success;
  private final Consumer<Response> onCompleted;
  private final Runnable onEnded;
  // Guarded by this: the caller may close on one thread while another reads.
  private boolean ended;

  ObservedStream(StreamResponse<ResponseStreamEvent> delegate, TurnExchange.Success success,
      Consumer<Response> onCompleted, Runnable onEnded) {
    this.delegate = delegate;
    this.success = success;
    this.onCompleted = onCompleted;
    this.onEnded = onEnded;
  }

  @Override
  public Stream<ResponseStreamEvent> stream() {
    Stream<ResponseStreamEvent> events = delegate.stream();
    return StreamSupport.stream(new Observed(events.spliterator()), false).onClose(events::close);
  }

  /**
   * The SDK's events, each observed before the caller sees it; a failure of the stream (cut
   * mid-way, an unreadable event) reaches the caller naming the chain.
   */
  private final class Observed extends Spliterators.AbstractSpliterator<ResponseStreamEvent>
      implements Consumer<ResponseStreamEvent> {
    private final Spliterator<ResponseStreamEvent> events;
    private @Nullable ResponseStreamEvent next;

    Observed(Spliterator<ResponseStreamEvent> events) {
      super(Long.MAX_VALUE, Spliterator.ORDERED);
      this.events = events;
    }

    @Override
    public boolean tryAdvance(Consumer<? super ResponseStreamEvent> action) {
      try {
        if (!events.tryAdvance(this)) {
          return false;
        }
      } catch (OpenAIException e) {
        throw success.brokeOff(e);
      }
      ResponseStreamEvent event = next;
      next = null;
      observe(event);
      action.accept(event);
      return true;
    }

    @Override
    public void accept(@Nullable ResponseStreamEvent event) {
      next = event;
    }
  }

  @Override
  public void close() {
    try {
      delegate.close();
    } finally {
      end();
    }
  }

  private void observe(@Nullable ResponseStreamEvent event) {
    if (event == null) {
      return; // the SDK reads an event whose data is the JSON null as null: nothing to record
    }
    try {
      if (event.isCreated()) {
        success.created(event.asCreated().response().id());
      } else if (event.isCompleted()) {
        complete(event.asCompleted().response());
      } else if (event.isIncomplete()) {
        complete(event.asIncomplete().response());
      } else if (event.isFailed() || event.isError()) {
        logger.debug("Stream ended with a failure event; turn not journaled, conversation unchanged");
        end();
      }
    } catch (OpenAIInvalidDataException e) {
      // The gateway's bad data (a required field missing or mistyped), not a failure of ours. Its
      // message may quote the data, so only its type is logged.
      logger.debug("Affinity not recorded for a streamed event: the SDK could not read it ({})",
          e.getClass().getSimpleName());
    } catch (RuntimeException e) {
      // Bookkeeping never breaks the caller's stream.
      logger.error("Affinity not recorded for a streamed turn: unexpected failure", e);
    }
  }

  private synchronized void complete(Response response) {
    if (ended) {
      return; // closed first: the conversation was released without this turn
    }
    try {
      success.completed(response);
      onCompleted.accept(response);
    } finally {
      end();
    }
  }

  private synchronized void end() {
    if (!ended) {
      ended = true;
      onEnded.run();
    }
  }
}
