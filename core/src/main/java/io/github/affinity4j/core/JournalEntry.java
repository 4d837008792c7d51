package io.github.affinity4j.core;

import org.jspecify.annotations.Nullable;

/**
 * What {@link CaffeineHistoryJournal} keeps per cache key: a turn ({@link Link}) or a conversation
 * ({@link Root}). Immutable: an update replaces the entry.
 */
abstract class JournalEntry {

  private JournalEntry() {}

  /** The bytes of items this entry holds, for the cache's weigher. */
  abstract long bytes();

  /** One turn, its items as arrays. Items are null in a marker past the bytes-per-chain bound. */
  static class Link extends JournalEntry {
    /** This turn's key, and its children's {@code parent}. */
    final ChainKey id;
    /** The parent's key: a response's, a conversation's, or null at a start. */
    final @Nullable ChainKey parent;
    private final byte @Nullable [] input;
    private final byte @Nullable [] output;
    final long chainBytes;
    final int depth;

    Link(ChainKey id, @Nullable ChainKey parent, byte @Nullable [] input, byte @Nullable [] output,
        long chainBytes, int depth) {
      this.id = id;
      this.parent = parent;
      this.input = input;
      this.output = output;
      this.chainBytes = chainBytes;
      this.depth = depth;
    }

    boolean isMarker() {
      return input == null;
    }

    /** The input items, without copying those kept as arrays; null in a marker. */
    byte @Nullable [] input() {
      return input;
    }

    /** The output items, as {@link #input()}. */
    byte @Nullable [] output() {
      return output;
    }

    @Override
    long bytes() {
      return input == null || output == null ? 0 : (long) input.length + output.length;
    }
  }

  /** One turn whose items are still in the bytes received: read out only when its history is. */
  static final class Received extends Link {
    private static final byte[] UNREAD = {};
    private final JournalTurn turn;

    Received(ChainKey id, @Nullable ChainKey parent, JournalTurn turn, long chainBytes, int depth) {
      super(id, parent, UNREAD, UNREAD, chainBytes, depth); // not a marker
      this.turn = turn;
    }

    @Override
    byte[] input() {
      return turn.input();
    }

    @Override
    byte[] output() {
      return turn.output();
    }

    @Override
    long bytes() {
      return turn.retainedBytes();
    }
  }

  /** One conversation: its initial items (null if its creation was not recorded) and latest turn. */
  static final class Root extends JournalEntry {
    final byte @Nullable [] items;
    final @Nullable ChainKey head;

    Root(byte @Nullable [] items, @Nullable ChainKey head) {
      this.items = items;
      this.head = head;
    }

    @Override
    long bytes() {
      return items == null ? 0 : items.length;
    }
  }
}
