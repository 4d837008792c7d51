package io.github.affinity4j.core.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
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
  /** How much the waiting turns may hold, in bytes of the request bodies their input is in. */
  static final long MAX_BYTES = 32L << 20;
  /** How long a turn waits for the poll that brings its output. */
  static final Duration WAIT = Duration.ofHours(24);

  /** A turn waiting for its output: all of its journal entry but the output. */
  record Pending(ChainScope scope, String responseId, @Nullable String previousResponseId,
      @Nullable String conversationId, ItemSource input) {
    ChainKey key() {
      return ChainKey.response(responseId).in(scope);
    }
  }

  private final Cache<ChainKey, Pending> waiting;

  BackgroundTurns(Clock clock) {
    this.waiting = Caffeine.newBuilder()
        .maximumWeight(MAX_BYTES)
        .weigher((ChainKey key, Pending turn) -> (int) Math.min(Integer.MAX_VALUE, turn.input().retained()))
        .expireAfterWrite(WAIT)
        .ticker(Tickers.of(clock))
        .build();
  }

  /** Keeps {@code pending} until its output comes. */
  void await(Pending pending) {
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
    Pending pending = waiting.asMap().remove(key);
    return pending == null ? null : JournalTurn.received(pending.scope(), pending.responseId(),
        pending.previousResponseId(), pending.conversationId(), pending.input(), output.itemSource());
  }
}
