package io.github.affinity4j.redis;

import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.JournalTurn;
import org.jspecify.annotations.Nullable;

/**
 * A write of a {@link RedisHistoryJournal}, as the script call it makes: run at once while Redis
 * answers, else kept in the {@link JournalQueue} and sent later. Immutable; thread-safe.
 */
sealed interface PendingWrite {

  /** The bytes of items it holds, for the queue's bound. */
  long bytes();

  /** The turn or conversation written or forgotten. */
  ChainKey chain();

  /**
   * The script call that makes this write in Redis.
   *
   * @param root the root of the chain's slot (see {@link ChainRoots}); empty on one node
   */
  LuaScript.Call call(JournalScripts scripts, String root);

  /** A turn, its items copied once and shared with the local fallback. */
  final class Turn implements PendingWrite {
    final ChainScope scope;
    final String id;
    final @Nullable String previous;
    final @Nullable String conversation;
    final byte[] input;
    final byte[] output;

    Turn(JournalTurn turn) {
      this.scope = turn.scope();
      this.id = turn.responseId();
      this.previous = turn.previousResponseId().orElse(null);
      this.conversation = turn.conversationId().orElse(null);
      this.input = turn.input();
      this.output = turn.output();
    }

    ChainKey key() {
      return ChainKey.response(id).in(scope);
    }

    /** The response it continues, in its scope; null if none (a new chain, or a conversation's turn). */
    @Nullable ChainKey parent() {
      return previous == null ? null : ChainKey.response(previous).in(scope);
    }

    @Override
    public ChainKey chain() {
      return key();
    }

    @Override
    public long bytes() {
      return (long) input.length + output.length;
    }

    @Override
    public LuaScript.Call call(JournalScripts scripts, String root) {
      return scripts.record(this, root);
    }
  }

  /** The items a conversation was created with. */
  record Conversation(ChainKey key, byte[] items) implements PendingWrite {
    @Override
    public long bytes() {
      return items.length;
    }

    @Override
    public ChainKey chain() {
      return key;
    }

    @Override
    public LuaScript.Call call(JournalScripts scripts, String root) {
      return scripts.recordConversation(key, items);
    }
  }

  /** A turn or conversation to forget. */
  record Forget(ChainKey key) implements PendingWrite {
    @Override
    public long bytes() {
      return 0;
    }

    @Override
    public ChainKey chain() {
      return key;
    }

    @Override
    public LuaScript.Call call(JournalScripts scripts, String root) {
      return scripts.forget(key, root);
    }
  }
}
