package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import io.github.affinity4j.core.ChainKey.Kind;
import io.github.affinity4j.core.JournalEntry.Link;
import io.github.affinity4j.core.JournalEntry.Root;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Walks a {@link CaffeineHistoryJournal}'s entries along their parent links: back from a turn to
 * its chain's start to read its history, and up from a new turn's parent to keep its ancestors in
 * use. Split from the journal, which records and bounds; this reads.
 *
 * <p>Thread-safe: it only reads the cache, and a walk tolerates entries that change under it (a
 * link gone is a missing link, a cycle is cut).
 */
final class JournalWalker {

  // The journal's logger: these lines are about the journal, and configured with it.
  private static final Logger logger = LoggerFactory.getLogger(CaffeineHistoryJournal.class);

  private final Cache<ChainKey, JournalEntry> cache;
  private final long maximumBytesPerChain;

  JournalWalker(Cache<ChainKey, JournalEntry> cache, long maximumBytesPerChain) {
    this.cache = cache;
    this.maximumBytesPerChain = maximumBytesPerChain;
  }

  /** The history of {@code chain}, read back from its latest turn; see {@link HistoryJournal#history}. */
  ChainHistory history(ChainKey chain) {
    ChainKey next;
    if (chain.kind() == Kind.RESPONSE) {
      next = chain;
    } else if (chain.kind() == Kind.CONVERSATION) {
      JournalEntry entry = cache.getIfPresent(chain);
      if (!(entry instanceof Root root)) {
        return ChainHistory.missingLink(chain, chain, 0);
      }
      if (root.head == null) {
        return root.items == null ? ChainHistory.missingLink(chain, chain, 0)
            : ChainHistory.completeOwned(chain, List.of(root.items), null, 0);
      }
      next = root.head;
    } else {
      return ChainHistory.missingLink(chain, chain, 0);
    }
    String last = next.id();
    Deque<byte[]> segments = new ArrayDeque<>();
    Set<ChainKey> seen = new HashSet<>();
    int turns = 0;
    long bytes = 0;
    while (next != null) {
      if (!seen.add(next)) {
        logger.debug("Chain {} links back to {}, a cycle; treated as missing", chain, next);
        return ChainHistory.missingLink(chain, next, turns);
      }
      JournalEntry entry = cache.getIfPresent(next);
      if (entry == null) {
        return ChainHistory.missingLink(chain, next, turns);
      }
      if (entry instanceof Root root) {
        if (root.items == null) {
          return ChainHistory.missingLink(chain, next, turns); // created before it was journaled
        }
        segments.addFirst(root.items);
        bytes += root.items.length;
        break;
      }
      Link link = (Link) entry;
      if (link.isMarker()) {
        return ChainHistory.tooLarge(chain, firstMarker(next, link, seen));
      }
      byte[] input = requireNonNull(link.input()); // not a marker: both are there
      byte[] output = requireNonNull(link.output());
      segments.addFirst(output);
      segments.addFirst(input);
      bytes += input.length + output.length;
      turns++;
      next = link.parent;
    }
    if (bytes > maximumBytesPerChain) {
      // Links recorded out of order can pass the bound without being marked.
      return ChainHistory.tooLarge(chain, chain);
    }
    return ChainHistory.completeOwned(chain, new ArrayList<>(segments), last, turns);
  }

  /** Reads every ancestor above {@code link}, so that expiry and eviction see the chain in use. */
  void touchAncestors(Link link) {
    ChainKey next = link.parent;
    // depth counts the links above; one more read reaches a conversation's entry. Bounds cycles.
    for (int steps = link.depth + 1; next != null && steps > 0; steps--) {
      if (!(cache.getIfPresent(next) instanceof Link above)) {
        return;
      }
      next = above.parent;
    }
  }

  /** Walks back over markers to the first turn that passed the bytes-per-chain bound. */
  private ChainKey firstMarker(ChainKey key, Link marker, Set<ChainKey> seen) {
    while (marker.parent != null && seen.add(marker.parent)
        && cache.getIfPresent(marker.parent) instanceof Link above && above.isMarker()) {
      key = marker.parent;
      marker = above;
    }
    return key;
  }
}
