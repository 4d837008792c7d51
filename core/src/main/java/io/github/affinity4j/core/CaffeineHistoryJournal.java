package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.affinity4j.core.ChainKey.Kind;
import io.github.affinity4j.core.JournalEntry.Link;
import io.github.affinity4j.core.JournalEntry.Root;
import io.github.affinity4j.core.internal.Tickers;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The default {@link HistoryJournal}: an in-memory Caffeine cache of turns, bounded in entries and
 * bytes, that forgets chains nobody uses.
 *
 * <pre>{@code
 * HistoryJournal journal = CaffeineHistoryJournal.builder()
 *     .maximumBytes(256L << 20)
 *     .expireAfterAccess(Duration.ofHours(8))
 *     .build();
 * }</pre>
 *
 * <p>Each turn is one entry, keyed by its response's {@link ChainKey} in its {@link ChainScope},
 * holding its input and output items as two byte arrays (serialised JSON, not object graphs), or,
 * for a turn the engine recorded ({@link JournalTurn#received}), the request and response bodies
 * as received, from which the items are read only when its history is; and a link to its parent
 * that shares the parent's key; each conversation is one entry holding its
 * initial items and its latest turn. Recording a turn reads its ancestors, so a chain in use keeps
 * all its links alive and a chain expires or is evicted as a unit, oldest unused first; the cost is
 * one cache read per ancestor per turn. Walking a chain back for {@link #history} costs the same.
 *
 * <p>Bounds, and what happens at them:
 *
 * <ul>
 *   <li><b>Entries and bytes.</b> At most {@code maximumEntries} entries and about
 *       {@code maximumBytes} of memory (item bytes, or a received turn's two bodies whole, plus
 *       {@value #ENTRY_OVERHEAD} bytes per entry).
 *       Both hold at once: an entry is weighed as the larger of its size and
 *       {@code maximumBytes / maximumEntries}. Past them Caffeine evicts what it deems least
 *       likely to be used again; a chain that loses a link reports it as missing.
 *   <li><b>Bytes per chain.</b> A turn that takes its chain past {@code maximumBytesPerChain} is
 *       recorded without its items, as a marker, and so is every later turn of that chain: the
 *       chain cannot be repaired from that turn on ({@link ChainHistory.Status#TOO_LARGE}). Older
 *       turns are never dropped to make room, because a replay that starts in the middle of a
 *       conversation would change what the model knows without anyone noticing. The turns before
 *       the marker stay whole, so a branch taken from them can still be repaired.
 * </ul>
 *
 * <p>Defaults, and why:
 *
 * <ul>
 *   <li>{@link #DEFAULT_MAXIMUM_ENTRIES} = 100,000 turns: as many as the affinity store's default
 *       keys ({@link CaffeineAffinityStore#DEFAULT_MAXIMUM_SIZE}), so a chain whose pin is known
 *       can have its history known too.
 *   <li>{@link #DEFAULT_MAXIMUM_BYTES} = 64 MiB: a bounded share of a server heap. A turn of a chat
 *       (a question and an answer) is 1 to 4 KiB of JSON, so this holds about 20,000 such turns;
 *       reasoning models with encrypted reasoning take more. Raise it, or share a journal outside
 *       the heap, for many long conversations.
 *   <li>{@link #DEFAULT_MAXIMUM_BYTES_PER_CHAIN} = 4 MiB: about a million tokens of text, past
 *       the context window of current models, so a longer chain could not be replayed anyway; and
 *       a replay stays well under the 8 MiB request body an adapter reads.
 *   <li>{@link #DEFAULT_EXPIRE_AFTER_ACCESS} = 2 hours: twice the affinity store's expiry. A
 *       chain that pauses long enough to lose its pin is sent unpinned, may land on another
 *       backend, and then needs its history; so history outlives pins.
 * </ul>
 *
 * <p>Thread-safe. Items are never logged.
 */
public final class CaffeineHistoryJournal implements HistoryJournal {

  /** The default bound on entries: turns and conversations. */
  public static final long DEFAULT_MAXIMUM_ENTRIES = 100_000;

  /** The default bound on memory, in bytes: 64 MiB. */
  public static final long DEFAULT_MAXIMUM_BYTES = 64L << 20;

  /** The default bound on one chain's items, in bytes: 4 MiB. */
  public static final long DEFAULT_MAXIMUM_BYTES_PER_CHAIN = 4L << 20;

  /** The default time after which an entry that was neither read nor written is dropped. */
  public static final Duration DEFAULT_EXPIRE_AFTER_ACCESS = Duration.ofHours(2);

  /**
   * What an entry costs beyond its items: its id string, the link, the array headers and the
   * cache's nodes; measured for ids of about 50 characters (the benchmarks' {@code memory}).
   */
  static final int ENTRY_OVERHEAD = 280;

  private static final Logger logger = LoggerFactory.getLogger(CaffeineHistoryJournal.class);

  private final long maximumEntries;
  private final long maximumBytes;
  private final long maximumBytesPerChain;
  private final Duration expireAfterAccess;
  // Every entry is keyed by its scoped ChainKey: a response's for a turn, a conversation's for a
  // conversation, so scopes never meet. A turn's key is also its children's parent link.
  private final Cache<ChainKey, JournalEntry> cache;
  private final JournalWalker walker;

  private CaffeineHistoryJournal(Builder builder) {
    this.maximumEntries = builder.maximumEntries;
    this.maximumBytes = builder.maximumBytes;
    this.maximumBytesPerChain = builder.maximumBytesPerChain;
    this.expireAfterAccess = builder.expireAfterAccess;
    // Weighing every entry at least maximumBytes / maximumEntries (rounded up) makes the weight
    // bound imply the entry bound, so both hold with Caffeine's single maximumWeight.
    long floor = (maximumBytes + maximumEntries - 1) / maximumEntries;
    this.cache = Caffeine.newBuilder()
        .maximumWeight(maximumBytes)
        .weigher((ChainKey key, JournalEntry entry) ->
            (int) Math.min(Integer.MAX_VALUE, Math.max(floor, ENTRY_OVERHEAD + entry.bytes())))
        .expireAfterAccess(expireAfterAccess)
        .ticker(Tickers.of(builder.clock))
        .executor(builder.executor)
        .build();
    this.walker = new JournalWalker(cache, maximumBytesPerChain);
  }

  /** Returns a builder with the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the bound on entries. */
  public long maximumEntries() {
    return maximumEntries;
  }

  /** Returns the bound on memory, in bytes. */
  public long maximumBytes() {
    return maximumBytes;
  }

  /** Returns the bound on one chain's items, in bytes. */
  public long maximumBytesPerChain() {
    return maximumBytesPerChain;
  }

  /** Returns the time after which an unused entry is dropped. */
  public Duration expireAfterAccess() {
    return expireAfterAccess;
  }

  /**
   * {@inheritDoc}
   *
   * <p>Reads every ancestor of the turn, so they stay as long as it does.
   *
   * @throws NullPointerException if {@code turn} is null
   */
  @Override
  public void record(JournalTurn turn) {
    requireNonNull(turn, "turn");
    ChainScope scope = turn.scope();
    ChainKey responseKey = turn.key();
    String responseId = turn.responseId();
    ChainKey parent = turn.previousResponseId().map(id -> ChainKey.response(id).in(scope)).orElse(null);
    String conversation = turn.conversationId().orElse(null);
    if (conversation != null) {
      ChainKey conversationKey = ChainKey.conversation(conversation).in(scope);
      ChainKey head = advanceHead(conversationKey, responseKey);
      if (parent == null) {
        parent = head != null && !head.equals(responseKey) ? head : conversationKey;
      }
    }
    long parentBytes = 0;
    int depth = 0;
    boolean tooLarge = false;
    JournalEntry up = parent == null ? null : cache.getIfPresent(parent);
    if (up instanceof Link link) {
      parent = link.id; // one key per turn, shared by its entry and its children's links
      parentBytes = link.chainBytes;
      depth = link.depth + 1;
      tooLarge = link.isMarker();
      walker.touchAncestors(link);
    } else if (up instanceof Root root && root.items != null) {
      parentBytes = root.items.length;
    }
    long chainBytes = parentBytes + turn.bytes();
    if (!tooLarge && chainBytes > maximumBytesPerChain) {
      tooLarge = true;
      logger.debug("Chain of {} passes maximumBytesPerChain ({} > {} bytes); not journaled from here on",
          responseId, chainBytes, maximumBytesPerChain);
    }
    Link link = tooLarge ? new Link(responseKey, parent, null, null, chainBytes, depth)
        : turn.isReceived() ? new JournalEntry.Received(responseKey, parent, turn, chainBytes, depth)
        : new Link(responseKey, parent, turn.inputBytes(), turn.outputBytes(), chainBytes, depth);
    cache.put(responseKey, link);
  }

  /**
   * {@inheritDoc}
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code conversationId} is not a valid id
   */
  @Override
  public void recordConversation(ChainKey conversation, byte[] items) {
    requireNonNull(conversation, "conversation");
    if (conversation.kind() != Kind.CONVERSATION) {
      throw new IllegalArgumentException("Not a conversation key: " + conversation);
    }
    ChainKey key = conversation;
    byte[] copy = requireNonNull(items, "items").clone();
    cache.asMap().compute(key, (k, old) -> new Root(copy, old instanceof Root root ? root.head : null));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Assistants threads are not journaled: their history is always missing.
   *
   * @throws NullPointerException if {@code chain} is null
   */
  @Override
  public ChainHistory history(ChainKey chain) {
    return walker.history(requireNonNull(chain, "chain"));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Turns recorded after the forgotten one keep their entries but cannot be replayed: their
   * walk back meets a missing link.
   *
   * @throws NullPointerException if {@code chain} is null
   */
  @Override
  public void forget(ChainKey chain) {
    cache.invalidate(requireNonNull(chain, "chain"));
  }

  @Override
  public void clear() {
    cache.invalidateAll();
  }

  @Override
  public long estimatedSize() {
    return cache.estimatedSize();
  }

  /** Runs pending maintenance (expiry, eviction) now; for tests. */
  void cleanUp() {
    cache.cleanUp();
  }

  /** Returns the sum of the entries' weights; for tests. */
  long weightedSize() {
    return cache.policy().eviction().orElseThrow().weightedSize().orElseThrow();
  }

  @Override
  public String toString() {
    return "CaffeineHistoryJournal[maximumEntries=" + maximumEntries
        + ", maximumBytes=" + maximumBytes
        + ", maximumBytesPerChain=" + maximumBytesPerChain
        + ", expireAfterAccess=" + expireAfterAccess
        + ", estimatedSize=" + cache.estimatedSize() + ']';
  }

  /** Makes {@code responseId} the conversation's latest turn; returns the one before, or null. */
  private @Nullable ChainKey advanceHead(ChainKey conversation, ChainKey responseId) {
    @Nullable ChainKey[] before = {null};
    cache.asMap().compute(conversation, (key, old) -> {
      Root root = old instanceof Root r ? r : null;
      before[0] = root == null ? null : root.head;
      // Without a recorded creation the conversation's start is unknown (items null).
      return new Root(root == null ? null : root.items, responseId);
    });
    return before[0];
  }

  /** Builds a {@link CaffeineHistoryJournal}. Not thread-safe. */
  public static final class Builder {
    private long maximumEntries = DEFAULT_MAXIMUM_ENTRIES;
    private long maximumBytes = DEFAULT_MAXIMUM_BYTES;
    private long maximumBytesPerChain = DEFAULT_MAXIMUM_BYTES_PER_CHAIN;
    private Duration expireAfterAccess = DEFAULT_EXPIRE_AFTER_ACCESS;
    private Clock clock = Clock.systemUTC();
    private Executor executor = Runnable::run;

    private Builder() {}

    /**
     * Sets how many entries (turns and conversations) the journal holds at most; default 100,000.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder maximumEntries(long maximumEntries) {
      if (maximumEntries <= 0) {
        throw new IllegalArgumentException("maximumEntries must be positive, got " + maximumEntries
            + "; to turn repair off, use RepairPolicy.FAIL");
      }
      this.maximumEntries = maximumEntries;
      return this;
    }

    /**
     * Sets about how much memory the journal takes at most, in bytes; default 64 MiB.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder maximumBytes(long maximumBytes) {
      if (maximumBytes <= 0) {
        throw new IllegalArgumentException("maximumBytes must be positive, got " + maximumBytes
            + "; e.g. 64L << 20 for 64 MiB");
      }
      this.maximumBytes = maximumBytes;
      return this;
    }

    /**
     * Sets how many bytes of items one chain may hold; a chain past it cannot be repaired from
     * that turn on. Default 4 MiB.
     *
     * @throws IllegalArgumentException if not positive or over 2 GiB
     */
    public Builder maximumBytesPerChain(long maximumBytesPerChain) {
      if (maximumBytesPerChain <= 0 || maximumBytesPerChain > Integer.MAX_VALUE - 8) {
        throw new IllegalArgumentException("maximumBytesPerChain must be between 1 and "
            + (Integer.MAX_VALUE - 8) + ", got " + maximumBytesPerChain + "; e.g. 4L << 20 for 4 MiB");
      }
      this.maximumBytesPerChain = maximumBytesPerChain;
      return this;
    }

    /**
     * Sets how long an entry may go unread and unwritten before it is dropped; default 2 hours.
     *
     * @throws IllegalArgumentException if zero or negative
     */
    public Builder expireAfterAccess(Duration expireAfterAccess) {
      requireNonNull(expireAfterAccess, "expireAfterAccess");
      if (expireAfterAccess.isNegative() || expireAfterAccess.isZero()) {
        throw new IllegalArgumentException("expireAfterAccess must be positive, got "
            + expireAfterAccess + "; e.g. Duration.ofHours(2)");
      }
      this.expireAfterAccess = expireAfterAccess;
      return this;
    }

    /** Sets the time source for expiry; for tests; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets the executor for maintenance (eviction, expiry, removal of collected entries). Default:
     * {@code Runnable::run}: the thread that wrote does it, a few microseconds after its write.
     * Handing it to the common fork-join pool instead wakes another thread per write (measured: more
     * CPU per turn, not less) and depends on a pool the application may keep busy.
     */
    public Builder executor(Executor executor) {
      this.executor = requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Builds the journal.
     *
     * @throws IllegalArgumentException if {@code maximumBytesPerChain} exceeds {@code maximumBytes}
     */
    public CaffeineHistoryJournal build() {
      if (maximumBytesPerChain > maximumBytes) {
        throw new IllegalArgumentException("maximumBytesPerChain (" + maximumBytesPerChain
            + ") must not exceed maximumBytes (" + maximumBytes + "): one chain cannot be larger than"
            + " the whole journal; raise maximumBytes or lower maximumBytesPerChain");
      }
      return new CaffeineHistoryJournal(this);
    }
  }
}
