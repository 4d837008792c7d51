package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * A {@link HistoryJournal} in Redis, so that whichever instance of an application meets a broken
 * chain can replay it, whichever instance recorded its turns.
 *
 * <pre>{@code
 * RedisConnector redis = RedisConnector.builder().uri("redis://cache.internal:6379").build();
 * HistoryJournal journal = RedisHistoryJournal.builder().connector(redis).build();
 * AffinityInterceptor affinity = AffinityInterceptor.builder()
 *     .store(RedisAffinityStore.builder().connector(redis).build())
 *     .journal(journal)
 *     .build();
 * }</pre>
 *
 * <p><b>Scoped.</b> Every key holds the {@link ChainScope#key()} of the turn or chain (empty for
 * {@link ChainScope#NONE}), and a script builds every key it touches from the one scope it is
 * given: a turn, a conversation and the links between them are found only in the scope they were
 * recorded in, and a turn recorded in one scope never replaces or links into another's, even with
 * the same response id. Only the scope's key, a fingerprint, is stored.
 *
 * <p><b>Layout: one hash slot per chain</b> (see docs/redis.md). Every key of a chain carries the
 * hash tag <code>{&lt;scope&gt;:&lt;root&gt;}</code>, its root being the chain's first response or its
 * conversation, so on a Redis Cluster a chain's keys lie in one slot and each script touches only
 * them. A turn's items live in a <em>segment</em>, a hash of the turns of one region of a chain (a
 * turn joins its parent's segment until that holds {@value #SEGMENT_TURNS} turns or the
 * bytes-per-chain bound), each field a one-line header and the items exactly as the engine passed
 * them; a turn's own key says where it is and what its chain adds up to; a conversation is a hash of
 * its latest turn and the items it was created with; a response's root pointer names its chain's
 * root, in the slot of its own name, so that any instance finds the chain from a response id.
 * Records of the layout before Redis Cluster support are not read: a 0.x change, without
 * migration; they expire within two hours. Pins ({@link RedisAffinityStore}) kept their layout.
 *
 * <p><b>Bounded work, however long the chain.</b> {@link #record} is one Lua script that reads the
 * parent's key (its chain's bytes and depth, so the per-chain bounds are checked from the parent
 * alone) and touches the turn's segment, the segments and conversation its chain runs through (at
 * most {@value #MAX_SEGMENTS}), two turn keys and their root pointers: never one key per ancestor.
 * {@link #history} reads a chain in pages of at most {@value #PAGE_LINKS} links or 512 KiB, one script
 * each, so no call holds Redis for long; a page that times out fails that read alone (see
 * {@link RedisConnector}).
 *
 * <p><b>Round trips.</b> On one Redis, a record, a history page and a forget are one script each;
 * a record is sent and not waited for (see {@link #record}). On a cluster, a record sends its
 * script and the turn's root pointer pipelined, not waited for either, when this instance knows the
 * chain's root (it recorded or read the chain), else after one {@code GETEX} of the parent's pointer;
 * a history read likewise (docs/redis.md).
 *
 * <p><b>Semantics match {@link CaffeineHistoryJournal}:</b>
 *
 * <ul>
 *   <li><b>Expire after access</b>, 2 hours by default: every key written gets it; recording a turn
 *       restarts it for the turn's key, its parent's, its segment and every segment and
 *       conversation its chain runs through, so a chain in use keeps its start, and a segment
 *       expires as a unit once no chain through it is used. Reading a history restarts it for every
 *       segment read. A turn's own key lives as long as that turn is recorded, continued or read:
 *       a new branch from a turn left alone for longer finds its link missing, while the chains
 *       through it still replay it.
 *   <li><b>Per chain</b>: 4 MiB of items by default and {@value #MAX_TURNS} turns. A turn that takes
 *       its chain past either is recorded without its items, as a marker, and so is every later turn
 *       of that chain; its history is {@link ChainHistory.Status#TOO_LARGE} from there on, known
 *       from the newest turn alone. So is a chain that runs through more than
 *       {@value #MAX_SEGMENTS} segments (a turn opens a new segment when its parent's is full: every
 *       {@value #SEGMENT_TURNS} turns of a chain, or sooner where many branches grow from one
 *       segment), since a record touches every segment of its chain. Older turns are never dropped.
 *   <li><b>Honest partial history:</b> a link that is not there (never recorded, expired, evicted,
 *       forgotten, or lost while Redis was down) makes the history
 *       {@link ChainHistory.Status#MISSING_LINK}; a replay never starts in the middle of a chain.
 *   <li><b>Total size</b> is the server's: give it a {@code maxmemory} and an eviction policy such
 *       as {@code volatile-lru}; a chain that loses a link to eviction reports it as missing. With
 *       {@code noeviction}, a full Redis refuses records (logged at WARN, rate-limited).
 * </ul>
 *
 * <p><b>Concurrency: serialised.</b> Redis runs one script at a time, so each record is atomic: it
 * reads the parent, advances the conversation's latest turn and writes the turn in one step. Two
 * instances continuing the same response concurrently both record their turns, as two branches of
 * the chain (as the API itself does). Two turns in the same conversation recorded concurrently are
 * linked in the order Redis ran them, the later one after the earlier, and neither is lost. A
 * response recorded twice keeps the later record (the same turn, in practice). A history of up to
 * {@value #PAGE_LINKS} turns is read at one point in time; a longer one page by page, which adds up
 * to the same chain since recorded turns do not change (a link that expires or is forgotten
 * meanwhile makes it missing).
 *
 * <p><b>Local fallback, for while Redis is unavailable.</b> The journal also keeps, in this
 * process, the turns it recorded (with the link Redis gave each) and the conversations it saw
 * created: at most {@value #DEFAULT_LOCAL_FALLBACK_MAXIMUM_ENTRIES} entries and
 * {@link #DEFAULT_LOCAL_FALLBACK_MAXIMUM_BYTES} (16 MiB) by default, about 4,000 chat turns of
 * 4 KiB, expiring as Redis' keys do. While Redis is unavailable (see {@link RedisConnector}),
 * {@link #record}, {@link #recordConversation} and {@link #forget} change it and are queued (within
 * the same bounds), and so is a turn sent before Redis failed it, at its place in line; {@link #history} replays a response chain from it if it holds every link back to
 * the start. Once Redis answers, the queue is sent to Redis, pipelined and in order, by the
 * operation that found Redis back (of this journal or of a store on the same connector), before any
 * other write of this journal; until it is, a link Redis does not have yet is looked for here too.
 * So one instance keeps its own chains repairable through an outage, and Redis has their turns
 * afterwards. What it does not promise: a chain whose turns other instances recorded cannot be
 * replayed from here (its links on them are missing, so it answers that Redis could not be read,
 * never a partial history), nor can a conversation by its id (which turn is its latest only Redis
 * knows; a conversation's turn recorded during the outage is linked to it when sent); a queue past
 * its bounds, or turns evicted here before Redis answers, are lost for Redis. Turn it off with
 * {@code localFallbackMaximumEntries(0)}: then {@link #record} drops the turn while Redis is down,
 * and {@link #history} answers {@link ChainHistory.Status#UNAVAILABLE}, so the engine fails the
 * repair with an error that says first that the HistoryJournal could not be read, and then quotes
 * this journal's {@code toString()}, which says Redis is unavailable and for how long.
 *
 * <p>Thread-safe. Items are conversation content: never logged.
 */
public final class RedisHistoryJournal implements HistoryJournal {
  /** The most turns one chain may hold and still be replayed. */
  static final int MAX_TURNS = 100_000;

  /** The most segments one chain may run through; each record touches them all. */
  static final int MAX_SEGMENTS = 64;

  /** The most turns one segment holds; a smaller one is also freed faster when it expires. */
  static final int SEGMENT_TURNS = 10_000;

  /** The most links one page of a history reads: about 4 ms of Redis' time (measured: 4 us a link). */
  static final int PAGE_LINKS = 1_000;

  /** The most bytes one page of a history returns (the page ends after the link that passes it). */
  static final int PAGE_BYTES = 512 << 10;

  /** The default bound on the local fallback, in entries (turns and conversations): 10,000. */
  public static final long DEFAULT_LOCAL_FALLBACK_MAXIMUM_ENTRIES = 10_000;

  /** The default bound on the local fallback's memory: 16 MiB. */
  public static final long DEFAULT_LOCAL_FALLBACK_MAXIMUM_BYTES = 16L << 20;

  private final RedisConnector connector;
  private final String prefix;
  private final long maximumBytesPerChain;
  private final Duration expireAfterAccess;
  private final long localFallbackMaximumEntries;
  private final long localFallbackMaximumBytes;
  private final JournalScripts scripts;
  private final ChainRoots roots;
  private final ReplicaWait replicaWait;
  private final HistoryPages pages;
  private final @Nullable FallbackJournal local;
  // What was written while Redis was unavailable, to send once it answers.
  private final JournalQueue queue;
  private final JournalWrites writes;

  private RedisHistoryJournal(Builder builder, RedisConnector connector) {
    this.connector = connector;
    this.prefix = connector.keyPrefix();
    this.maximumBytesPerChain = builder.maximumBytesPerChain;
    this.expireAfterAccess = builder.expireAfterAccess;
    this.localFallbackMaximumEntries = builder.localFallbackMaximumEntries;
    this.localFallbackMaximumBytes = builder.localFallbackMaximumBytes;
    this.scripts = new JournalScripts(prefix, maximumBytesPerChain, expireAfterAccess, builder.segmentTurns);
    this.roots = new ChainRoots(connector.isCluster(), prefix, expireAfterAccess, connector.commandTimeout());
    this.replicaWait = new ReplicaWait(builder.waitForReplicas, connector.commandTimeout());
    this.pages = new HistoryPages(connector, scripts, roots, maximumBytesPerChain);
    this.local = localFallbackMaximumEntries == 0 ? null : new FallbackJournal(localFallbackMaximumEntries,
        localFallbackMaximumBytes, maximumBytesPerChain, MAX_TURNS, expireAfterAccess);
    this.queue = new JournalQueue(connector, scripts, roots, localFallbackMaximumEntries, localFallbackMaximumBytes);
    this.writes = new JournalWrites(connector, scripts, roots, replicaWait, local, queue);
    if (replicaWait.isOn()) {
      connector.writes().awaitEveryWrite();
    }
    if (local != null) {
      connector.whenAvailable(queue::send);
    }
    if (roots.isCluster()) {
      connector.roots(roots);
    }
  }

  /** Returns a builder; {@code connector} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the connector this journal talks to Redis through. */
  public RedisConnector connector() {
    return connector;
  }

  /** Returns the bound on one chain's items, in bytes. */
  public long maximumBytesPerChain() {
    return maximumBytesPerChain;
  }

  /** Returns the time after which an unused entry is dropped. */
  public Duration expireAfterAccess() {
    return expireAfterAccess;
  }

  /** Returns the bound on the local fallback, in entries; 0 if it is off. */
  public long localFallbackMaximumEntries() {
    return localFallbackMaximumEntries;
  }

  /** Returns the bound on the local fallback's memory, in bytes. */
  public long localFallbackMaximumBytes() {
    return localFallbackMaximumBytes;
  }

  /**
   * {@inheritDoc}
   *
   * <p>One script, touching a bounded number of keys (see the class comment), <b>sent without
   * waiting for its reply</b>: it returns once the script is on the connection, behind every
   * command this instance sent before it (on a cluster, a turn whose chain root this instance does
   * not know reads it first, one round trip). With {@code waitForReplicas} set, it waits for the
   * reply and the replicas, as before, and so do the binds of every store on the same connector
   * (a pin in Redis never points another instance at a turn that is not there yet). If Redis fails
   * the script, or is unavailable, the turn is kept locally and sent once Redis answers, in the
   * order turns were recorded (dropped if the local fallback is off); if the connector's
   * {@code maxWritesInFlight} writes wait for replies, it is dropped and counted
   * ({@link #droppedWrites()}).
   *
   * @throws NullPointerException if {@code turn} is null
   */
  @Override
  public void record(JournalTurn turn) {
    writes.record(new PendingWrite.Turn(requireNonNull(turn, "turn")));
  }

  /**
   * {@inheritDoc}
   *
   * <p>One {@code HSET}, keeping the conversation's latest turn. If Redis is unavailable, kept
   * locally and sent once Redis answers.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code conversation} is not a conversation key
   */
  @Override
  public void recordConversation(ChainKey conversation, byte[] items) {
    requireNonNull(conversation, "conversation");
    if (conversation.kind() != ChainKey.Kind.CONVERSATION) {
      throw new IllegalArgumentException("Not a conversation key: " + conversation);
    }
    PendingWrite.Conversation pending = new PendingWrite.Conversation(conversation,
        requireNonNull(items, "items").clone());
    if (local != null) {
      local.recordConversation(conversation, pending.items());
    }
    writes.write("journal recordConversation", pending, commands -> pending.call(scripts, "").<Long>run(commands.sync()));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Reads the chain in pages (see the class comment). Assistants threads are not journaled:
   * their history is always missing. If Redis cannot be read (down, not answering within the
   * command timeout, skipped until the next retry of an outage, refusing the script, or the
   * connector closed), the history from the local fallback if it holds the whole chain, else
   * {@link ChainHistory#unavailable}: not missing, since nothing could be asked. A record this
   * version cannot read counts as a missing link.
   *
   * @throws NullPointerException if {@code chain} is null
   */
  @Override
  public ChainHistory history(ChainKey chain) {
    requireNonNull(chain, "chain");
    if (chain.kind() == ChainKey.Kind.THREAD) {
      return ChainHistory.missingLink(chain, chain, 0);
    }
    JournalQueue.Send sent = queue.send();
    ChainHistory history = sent == JournalQueue.Send.UNAVAILABLE ? null : pages.read(chain);
    if (history == null || history.status() == ChainHistory.Status.MISSING_LINK && !queue.isEmpty()) {
      // Redis could not be read, or may lack a link this instance has not sent it yet.
      ChainHistory kept = local == null ? null : local.history(chain);
      if (kept != null) {
        return kept;
      }
    }
    return history != null ? history : ChainHistory.unavailable(chain);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One script: deletes the turn's key and its items, or the conversation's hash, in the key's
   * scope, and the local fallback's copy. If Redis is unavailable, sent once it answers.
   *
   * @throws NullPointerException if {@code chain} is null
   */
  @Override
  public void forget(ChainKey chain) {
    requireNonNull(chain, "chain");
    if (chain.kind() == ChainKey.Kind.THREAD) {
      return; // never journaled
    }
    if (local != null) {
      local.forget(chain);
    }
    writes.write("journal forget", new PendingWrite.Forget(chain), commands -> roots.forget(commands, scripts, chain));
  }

  /**
   * Unlinks every turn, segment and conversation under this prefix (with SCAN), and empties the
   * local fallback and its queue; pins are left alone.
   */
  @Override
  public void clear() {
    if (local != null) {
      local.clear();
    }
    queue.clear();
    roots.clear();
    connector.execute("journal clear", commands -> KeyScan.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.TURN)) + KeyScan.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.SEGMENT)) + KeyScan.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.CONVERSATION)) + KeyScan.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.ROOT)), 0L);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Counts this prefix's turns and conversations with {@code SCAN}: one round trip per 1,000
   * keys of the whole database, for statistics now and then. If Redis is unavailable, the number
   * of entries kept locally.
   */
  @Override
  public long estimatedSize() {
    Long count = connector.execute("journal size", commands -> KeyScan.count(commands,
        RedisKeys.pattern(prefix, RedisKeys.TURN)) + KeyScan.count(commands,
        RedisKeys.pattern(prefix, RedisKeys.CONVERSATION)), null);
    return count != null ? count : local == null ? 0 : local.size();
  }

  /**
   * Returns how many turns were not sent to Redis because the connector's
   * {@link RedisConnector.Builder#maxWritesInFlight maxWritesInFlight} writes were waiting for
   * replies (Redis slow); such a turn is in neither Redis nor the local fallback.
   */
  public long droppedWrites() {
    return writes.dropped();
  }

  /** How many writes made while Redis was unavailable wait to be sent to it. */
  long waitingForRedis() {
    return queue.size();
  }

  @Override
  public String toString() {
    return "RedisHistoryJournal[maximumBytesPerChain=" + maximumBytesPerChain + ", expireAfterAccess="
        + expireAfterAccess
        + (local == null ? ", localFallback=off" : ", localFallback=" + local.size() + " entries, "
            + queue.size() + " waiting for Redis")
        + ", " + connector + ']';
  }

  /** The scripts' calls, as this journal makes them; for tests that pipeline records. */
  JournalScripts scripts() {
    return scripts;
  }

  /** Builds a {@link RedisHistoryJournal}. Not thread-safe. */
  public static final class Builder {
    private @Nullable RedisConnector connector;
    private long maximumBytesPerChain = CaffeineHistoryJournal.DEFAULT_MAXIMUM_BYTES_PER_CHAIN;
    private Duration expireAfterAccess = CaffeineHistoryJournal.DEFAULT_EXPIRE_AFTER_ACCESS;
    private long localFallbackMaximumEntries = DEFAULT_LOCAL_FALLBACK_MAXIMUM_ENTRIES;
    private long localFallbackMaximumBytes = DEFAULT_LOCAL_FALLBACK_MAXIMUM_BYTES;
    private int segmentTurns = SEGMENT_TURNS;
    private int waitForReplicas;

    private Builder() {}

    /** Sets how many turns a segment holds; for tests, to make chains of many segments quickly. */
    Builder segmentTurns(int segmentTurns) {
      this.segmentTurns = segmentTurns;
      return this;
    }

    /** Sets the connection to Redis (required); share one with a {@link RedisAffinityStore}. */
    public Builder connector(RedisConnector connector) {
      this.connector = requireNonNull(connector, "connector");
      return this;
    }

    /**
     * Sets how many bytes of items one chain may hold; a chain past it cannot be repaired from
     * that turn on. Default 4 MiB, as {@link CaffeineHistoryJournal}. Redis strings hold up to
     * 512 MiB.
     *
     * @throws IllegalArgumentException if not between 1 byte and 512 MiB
     */
    public Builder maximumBytesPerChain(long maximumBytesPerChain) {
      if (maximumBytesPerChain <= 0 || maximumBytesPerChain > 512L << 20) {
        throw new IllegalArgumentException("maximumBytesPerChain must be between 1 and " + (512L << 20)
            + ", got " + maximumBytesPerChain + "; e.g. 4L << 20 for 4 MiB");
      }
      this.maximumBytesPerChain = maximumBytesPerChain;
      return this;
    }

    /**
     * Sets how long an entry may go unread and unwritten before Redis drops it; default 2 hours,
     * as {@link CaffeineHistoryJournal}. The local fallback's entries expire likewise.
     *
     * @throws IllegalArgumentException if shorter than a millisecond
     */
    public Builder expireAfterAccess(Duration expireAfterAccess) {
      requireNonNull(expireAfterAccess, "expireAfterAccess");
      if (expireAfterAccess.toMillis() < 1) {
        throw new IllegalArgumentException("expireAfterAccess must be at least 1 ms, got "
            + expireAfterAccess + "; e.g. Duration.ofHours(2)");
      }
      this.expireAfterAccess = expireAfterAccess;
      return this;
    }

    /**
     * Sets how many entries (turns and conversations) this process keeps for while Redis is
     * unavailable, and how many operations made meanwhile it keeps to send; default 10,000. 0
     * turns the local fallback off.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder localFallbackMaximumEntries(long localFallbackMaximumEntries) {
      if (localFallbackMaximumEntries < 0) {
        throw new IllegalArgumentException("localFallbackMaximumEntries must not be negative, got "
            + localFallbackMaximumEntries + "; 0 turns the local fallback off");
      }
      this.localFallbackMaximumEntries = localFallbackMaximumEntries;
      return this;
    }

    /**
     * Sets about how much memory the local fallback takes at most, in bytes, and how many bytes of
     * items may wait for Redis; default 16 MiB.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder localFallbackMaximumBytes(long localFallbackMaximumBytes) {
      if (localFallbackMaximumBytes <= 0) {
        throw new IllegalArgumentException("localFallbackMaximumBytes must be positive, got "
            + localFallbackMaximumBytes + "; e.g. 16L << 20 for 16 MiB");
      }
      this.localFallbackMaximumBytes = localFallbackMaximumBytes;
      return this;
    }

    /**
     * Sets how many replicas must have a turn before {@link #record} returns (Redis {@code WAIT}, at
     * most half the command timeout; fewer is logged at WARN); default 0: Redis replicates in the
     * background, so a turn recorded just before its master dies may be lost. With 1, a turn the
     * caller got its response for survives a failover, for one more round trip per turn.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder waitForReplicas(int waitForReplicas) {
      if (waitForReplicas < 0) {
        throw new IllegalArgumentException("waitForReplicas must not be negative, got " + waitForReplicas
            + "; e.g. 1 for one replica");
      }
      this.waitForReplicas = waitForReplicas;
      return this;
    }

    /**
     * Builds the journal.
     *
     * @throws NullPointerException if {@code connector} was not set
     */
    public RedisHistoryJournal build() {
      RedisConnector connector =
          requireNonNull(this.connector, "connector is required; build one with RedisConnector.builder().uri(...)");
      return new RedisHistoryJournal(this, connector);
    }
  }
}
