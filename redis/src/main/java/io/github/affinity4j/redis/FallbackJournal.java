package io.github.affinity4j.redis;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The turns a {@link RedisHistoryJournal} keeps in this process, to replay a chain while Redis is
 * unavailable: every turn this instance recorded, with the link Redis gave it (or, while Redis was
 * unavailable, the link the turn named), and the conversations it saw created. Bounded in entries
 * and bytes, expiring after access as the journal does.
 *
 * <p>Entries are keyed by their scoped {@link ChainKey}, so scopes never meet here either. It
 * answers only what it can vouch for: a response chain whose every link it holds, back to its start.
 * A link it does not hold, a chain past a bound, a conversation's latest turn (which instances move
 * in Redis without telling this one) and a turn linked to it while Redis was unavailable all give
 * no answer, never a partial history. Thread-safe.
 */
final class FallbackJournal {

  /** About what an entry costs besides its items: its key, the record, the arrays' headers, the cache's node. */
  static final int ENTRY_OVERHEAD = 200;

  private final long maximumBytesPerChain;
  private final int maximumTurns;
  private final Cache<ChainKey, Entry> cache;

  FallbackJournal(long maximumEntries, long maximumBytes, long maximumBytesPerChain, int maximumTurns,
      Duration expireAfterAccess) {
    this.maximumBytesPerChain = maximumBytesPerChain;
    this.maximumTurns = maximumTurns;
    // As CaffeineHistoryJournal: weighing every entry at least maximumBytes / maximumEntries makes
    // the weight bound imply the entry bound.
    long floor = (maximumBytes + maximumEntries - 1) / maximumEntries;
    this.cache = Caffeine.newBuilder()
        .maximumWeight(maximumBytes)
        .weigher((ChainKey key, Entry entry) ->
            (int) Math.min(Integer.MAX_VALUE, Math.max(floor, ENTRY_OVERHEAD + entry.bytes())))
        .expireAfterAccess(expireAfterAccess)
        .executor(Runnable::run)
        .build();
  }

  /**
   * Keeps one turn.
   *
   * @param parent the response or conversation it links to; null at the start of a chain
   * @param parentUnknown true if the link is not known here (a conversation's turn recorded while
   *     Redis was unavailable): its chain is never replayed from here
   * @param marker true if it is past a per-chain bound (Redis said so): kept without its items
   */
  void record(ChainKey key, @Nullable ChainKey parent, boolean parentUnknown, byte[] input, byte[] output,
      boolean marker) {
    long parentBytes = 0;
    boolean tooLarge = marker;
    Entry up = parent == null ? null : cache.getIfPresent(parent);
    if (up instanceof Turn turn) {
      parentBytes = turn.chainBytes;
      tooLarge |= turn.isMarker();
    } else if (up instanceof Root root) {
      parentBytes = root.items.length;
    }
    long chainBytes = parentBytes + input.length + output.length;
    tooLarge |= chainBytes > maximumBytesPerChain;
    cache.put(key, tooLarge
        ? new Turn(parent, parentUnknown, null, null, chainBytes)
        : new Turn(parent, parentUnknown, input, output, chainBytes));
  }

  /** Keeps the items a conversation was created with. */
  void recordConversation(ChainKey conversation, byte[] items) {
    cache.put(conversation, new Root(items));
  }

  void forget(ChainKey key) {
    cache.invalidate(key);
  }

  /**
   * Returns the whole history of a response chain as kept here, or null if this process cannot
   * vouch for it (see the class comment).
   */
  @Nullable ChainHistory history(ChainKey chain) {
    if (chain.kind() != ChainKey.Kind.RESPONSE) {
      return null;
    }
    Deque<byte[]> segments = new ArrayDeque<>();
    Set<ChainKey> seen = new HashSet<>();
    ChainKey next = chain;
    int turns = 0;
    long bytes = 0;
    while (next != null) {
      if (!seen.add(next) || turns > maximumTurns) {
        return null;
      }
      Entry entry = cache.getIfPresent(next);
      if (entry instanceof Root root) {
        segments.addFirst(root.items);
        bytes += root.items.length;
        break;
      }
      // A marker has neither input nor output.
      if (!(entry instanceof Turn turn) || turn.input == null || turn.output == null || turn.parentUnknown) {
        return null;
      }
      segments.addFirst(turn.output);
      segments.addFirst(turn.input);
      bytes += turn.bytes();
      turns++;
      next = turn.parent;
    }
    if (bytes > maximumBytesPerChain) {
      return null;
    }
    return ChainHistory.complete(chain, new ArrayList<>(segments), chain.id(), turns);
  }

  long size() {
    return cache.estimatedSize();
  }

  void clear() {
    cache.invalidateAll();
  }

  private interface Entry {
    long bytes();
  }

  /** One turn; input and output are null in a marker. */
  private record Turn(@Nullable ChainKey parent, boolean parentUnknown, byte @Nullable [] input,
      byte @Nullable [] output, long chainBytes)
      implements Entry {
    boolean isMarker() {
      return input == null;
    }

    @Override
    public long bytes() {
      return input == null || output == null ? 0 : (long) input.length + output.length;
    }
  }

  /** One conversation's initial items. */
  private record Root(byte[] items) implements Entry {
    @Override
    public long bytes() {
      return items.length;
    }
  }
}
