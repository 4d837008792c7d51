package io.github.affinity4j.core.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.JournalTurn;
import java.time.Clock;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Background turns whose output has not come yet: a {@code background: true} response is
 * {@code queued} when created, and its output arrives on a poll of the backend that holds it.
 * Each turn's input waits here, bounded in bytes and in time, until then. Thread-safe. Not API.
 */
final class BackgroundTurns {
  /** How much the waiting turns may hold, in bytes of input. */
  static final long MAX_BYTES = 32L << 20;
  /** How long a turn waits for the poll that brings its output. */
  static final Duration WAIT = Duration.ofHours(24);

  private final Cache<ChainKey, JournalTurn> waiting;

  BackgroundTurns(Clock clock) {
    this.waiting = Caffeine.newBuilder()
        .maximumWeight(MAX_BYTES)
        .weigher((ChainKey key, JournalTurn turn) -> (int) Math.min(Integer.MAX_VALUE, turn.bytes()))
        .expireAfterWrite(WAIT)
        .ticker(Tickers.of(clock))
        .build();
  }

  /** Keeps {@code pending} (its output empty) until its output comes. */
  void await(JournalTurn pending) {
    waiting.put(pending.key(), pending);
  }

  /** Returns true if {@code key} is a turn waiting for its output. */
  boolean awaits(@Nullable ChainKey key) {
    return key != null && waiting.getIfPresent(key) != null;
  }

  /**
   * Returns the whole turn of {@code key} if {@code output} finishes it, and forgets it; null if
   * no turn waits for it, or the output is not finished yet (it goes on waiting).
   */
  @Nullable JournalTurn done(ChainKey key, TurnOutput output) {
    if (!output.isContinuable() || !key.id().equals(output.responseId())) {
      return null;
    }
    JournalTurn pending = waiting.asMap().remove(key);
    return pending == null ? null : JournalTurn.of(pending.scope(), pending.responseId(),
        pending.previousResponseId().orElse(null), pending.conversationId().orElse(null), pending.input(),
        output.itemBytes());
  }
}
