package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * the same response id. Only the scope's key, a fingerprint, is stored. Records written before
 * scopes existed are not read: a 0.x layout change, without migration; they expire within two hours.
 *
 * <p><b>Layout</b> (see {@code RedisKeys}). A turn's items live in a <em>segment</em>, a hash
 * {@code <prefix>seg:<scope>:<n>} that holds turns of one region of a chain (a turn joins its
 * parent's segment until that holds {@value #SEGMENT_TURNS} turns or the bytes-per-chain bound), each
 * field being a one-line header ({@code 2 <input length> <parent> <parent's segment>}) followed by
 * the input and output items exactly as the engine passed them. A turn's own key,
 * {@code <prefix>turn:<scope>:<response id>}, says where it is and what its chain adds up to
 * ({@code 2 <segment> <chain bytes> <depth> <first marker>}). A conversation is a hash,
 * {@code <prefix>conv:<scope>:<conversation id>}, with field {@code h} (its latest turn) and
 * {@code i} (the items it was created with).
 *
 * <p><b>Bounded work, however long the chain.</b> {@link #record} is one Lua script that reads the
 * parent's key (its chain's bytes and depth, so the per-chain bounds are checked from the parent
 * alone) and touches the turn's segment, the segments and conversation its chain runs through (at
 * most {@value #MAX_SEGMENTS}) and two turn keys: never one key per ancestor. {@link #history} reads
 * a chain in pages of at most {@value #PAGE_LINKS} links or 512 KiB, one script each, so no call holds
 * Redis for long; a page that times out fails that read alone (see {@link RedisConnector}).
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
 * the same bounds); {@link #history} replays a response chain from it if it holds every link back to
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
 * <p>The scripts read keys they compute from the links, so this journal needs a standalone Redis (or
 * one behind Sentinel, or a managed non-cluster tier); Redis Cluster is not supported. Thread-safe.
 * Items are conversation content: never logged.
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

  // Operations sent to Redis per pipeline once it answers again.
  private static final int SEND_BATCH = 256;

  private static final Logger logger = LoggerFactory.getLogger(RedisHistoryJournal.class);

  private static final LuaScript RECORD = LuaScript.load("journal-record.lua");
  private static final LuaScript HISTORY = LuaScript.load("journal-history.lua");
  private static final LuaScript CONVERSATION = LuaScript.load("journal-conversation.lua");
  private static final LuaScript FORGET = LuaScript.load("journal-forget.lua");

  private static final byte[] EMPTY = new byte[0];
  private static final byte[] RESPONSE = {'r'};
  private static final byte[] CONVERSATION_KIND = {'c'};

  private final RedisConnector connector;
  private final String prefix;
  private final byte[] prefixBytes;
  private final long maximumBytesPerChain;
  private final Duration expireAfterAccess;
  private final byte[] maxChainArg;
  private final byte[] ttlArg;
  private final byte[] maxTurnsArg;
  private final byte[] maxSegmentsArg;
  private final byte[] segmentTurnsArg;
  private final byte[] pageLinksArg;
  private final byte[] pageBytesArg;

  private final long localFallbackMaximumEntries;
  private final long localFallbackMaximumBytes;
  private final FallbackJournal local;
  // What was written while Redis was unavailable, oldest first, to send once it answers. Only the
  // thread holding `sending` takes from the head; any thread adds at the tail.
  private final ConcurrentLinkedDeque<Pending> queue = new ConcurrentLinkedDeque<>();
  private final AtomicLong queuedEntries = new AtomicLong();
  private final AtomicLong queuedBytes = new AtomicLong();
  private final ReentrantLock sending = new ReentrantLock();
  private final AtomicBoolean overflowWarned = new AtomicBoolean();

  private RedisHistoryJournal(Builder builder) {
    this.connector = builder.connector;
    this.prefix = connector.keyPrefix();
    this.prefixBytes = ascii(prefix);
    this.maximumBytesPerChain = builder.maximumBytesPerChain;
    this.expireAfterAccess = builder.expireAfterAccess;
    this.maxChainArg = number(maximumBytesPerChain);
    this.ttlArg = number(expireAfterAccess.toMillis());
    this.maxTurnsArg = number(MAX_TURNS);
    this.maxSegmentsArg = number(MAX_SEGMENTS);
    this.segmentTurnsArg = number(builder.segmentTurns);
    this.pageLinksArg = number(PAGE_LINKS);
    this.pageBytesArg = number(PAGE_BYTES);
    this.localFallbackMaximumEntries = builder.localFallbackMaximumEntries;
    this.localFallbackMaximumBytes = builder.localFallbackMaximumBytes;
    this.local = localFallbackMaximumEntries == 0 ? null : new FallbackJournal(localFallbackMaximumEntries,
        localFallbackMaximumBytes, maximumBytesPerChain, MAX_TURNS, expireAfterAccess);
    if (local != null) {
      connector.whenAvailable(this::send);
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
   * <p>One script, touching a bounded number of keys (see the class comment). If Redis is
   * unavailable, the turn is kept locally and sent once Redis answers (dropped if the local
   * fallback is off).
   *
   * @throws NullPointerException if {@code turn} is null
   */
  @Override
  public void record(JournalTurn turn) {
    Turn pending = new Turn(requireNonNull(turn, "turn"));
    if (send() == Send.DONE) {
      List<Object> reply = connector.execute("journal record",
          commands -> RECORD.<List<Object>>run(commands, ScriptOutputType.MULTI, recordArgs(pending)), null);
      if (reply != null) {
        boolean marker = (Long) reply.get(0) == 1L;
        if (marker) {
          logger.debug("Chain of {} is past a per-chain bound; journaled as a marker", pending.id);
        }
        if (local != null) {
          local.record(pending.key(), parent(pending.scope, text(reply.get(1))), false, pending.input,
              pending.output, marker);
          send(); // Redis may have just come back
        }
        return;
      }
    }
    if (local != null) {
      ChainKey parent = pending.previous == null ? null : ChainKey.response(pending.previous).in(pending.scope);
      // A conversation's turn links to its latest turn, which only Redis knows.
      boolean unknown = parent == null && pending.conversation != null;
      local.record(pending.key(), parent, unknown, pending.input, pending.output, false);
      enqueue(pending);
    }
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
    Conversation pending = new Conversation(conversation, requireNonNull(items, "items").clone());
    if (local != null) {
      local.recordConversation(conversation, pending.items);
    }
    if (send() == Send.DONE) {
      String[] keys = {RedisKeys.conversation(prefix, conversation)};
      Long done = connector.execute("journal recordConversation", commands -> CONVERSATION.<Long>run(commands,
          ScriptOutputType.INTEGER, keys, pending.items, ttlArg), null);
      if (done != null) {
        send();
        return;
      }
    }
    enqueue(pending);
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
    Send sent = send();
    ChainHistory history = sent == Send.UNAVAILABLE ? null : read(chain);
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
    Forget pending = new Forget(chain);
    if (send() == Send.DONE) {
      Long done = connector.execute("journal forget",
          commands -> FORGET.<Long>run(commands, ScriptOutputType.INTEGER, pending.args(prefixBytes)), null);
      if (done != null) {
        send();
        return;
      }
    }
    enqueue(pending);
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
    sending.lock();
    try {
      queue.clear();
      queuedEntries.set(0);
      queuedBytes.set(0);
    } finally {
      sending.unlock();
    }
    connector.execute("journal clear", commands -> RedisConnector.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.TURN)) + RedisConnector.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.SEGMENT)) + RedisConnector.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.CONVERSATION)), 0L);
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
    Long count = connector.execute("journal size", commands -> RedisConnector.count(commands,
        RedisKeys.pattern(prefix, RedisKeys.TURN)) + RedisConnector.count(commands,
        RedisKeys.pattern(prefix, RedisKeys.CONVERSATION)), null);
    return count != null ? count : local == null ? 0 : local.size();
  }

  @Override
  public String toString() {
    return "RedisHistoryJournal[maximumBytesPerChain=" + maximumBytesPerChain + ", expireAfterAccess="
        + expireAfterAccess
        + (local == null ? ", localFallback=off" : ", localFallback=" + local.size() + " entries, "
            + queuedEntries.get() + " waiting for Redis")
        + ", " + connector + ']';
  }

  /** The arguments of the record script for {@code turn}; for tests that pipeline records. */
  byte[][] recordArgs(JournalTurn turn) {
    return recordArgs(new Turn(turn));
  }

  private byte[][] recordArgs(Turn turn) {
    return new byte[][] {prefixBytes, ascii(turn.scope.key()), ascii(turn.id),
        turn.previous == null ? EMPTY : ascii(turn.previous),
        turn.conversation == null ? EMPTY : ascii(turn.conversation),
        turn.input, turn.output, maxChainArg, ttlArg, maxTurnsArg, maxSegmentsArg, segmentTurnsArg};
  }

  /** The record script; for tests that pipeline records. */
  static LuaScript recordScript() {
    return RECORD;
  }

  /** Reads a chain from Redis, page by page; null if Redis could not be read. */
  private ChainHistory read(ChainKey chain) {
    byte[][] args = {prefixBytes, ascii(chain.scope().key()),
        chain.kind() == ChainKey.Kind.RESPONSE ? RESPONSE : CONVERSATION_KIND, ascii(chain.id()),
        maxChainArg, ttlArg, maxTurnsArg, pageLinksArg, pageBytesArg, EMPTY, EMPTY};
    List<byte[]> turns = new ArrayList<>(); // newest first, as stored
    String last = null;
    while (true) {
      List<Object> reply = connector.executeSlow("journal history",
          commands -> HISTORY.<List<Object>>run(commands, ScriptOutputType.MULTI, args), null);
      if (reply == null) {
        // The connector fell back: the script never ran or did not answer, so Redis said nothing
        // about this chain.
        return null;
      }
      try {
        String status = text(reply.get(0));
        String link = text(reply.get(1));
        switch (status) {
          case "M":
            return ChainHistory.missingLink(chain, link.isEmpty() ? chain : ref(chain.scope(), link),
                turns.size() + Math.toIntExact((Long) reply.get(4)));
          case "T":
            return ChainHistory.tooLarge(chain, link.isEmpty() ? chain : ref(chain.scope(), link));
          case "P":
          case "C":
            break;
          default:
            throw new IllegalStateException("Unknown history status " + status);
        }
        if (args[9].length == 0) { // the first page names the chain's newest response
          String newest = text(reply.get(3));
          last = newest.isEmpty() ? null : newest;
        }
        for (int i = 6; i < reply.size(); i++) {
          turns.add((byte[]) reply.get(i));
        }
        if (turns.size() > MAX_TURNS) {
          // More links than the newest turn's depth said: a cycle, or links recorded out of order.
          return ChainHistory.tooLarge(chain, chain);
        }
        if (status.equals("C")) {
          return complete(chain, turns, (Long) reply.get(4) == 1L ? (byte[]) reply.get(5) : null, last);
        }
        args[9] = (byte[]) reply.get(1);
        args[10] = (byte[]) reply.get(2);
      } catch (RuntimeException e) {
        connector.unreadable("history", chain, e);
        return ChainHistory.missingLink(chain, chain, 0);
      }
    }
  }

  private ChainHistory complete(ChainKey chain, List<byte[]> turns, byte[] root, String last) {
    List<byte[]> segments = new ArrayList<>(2 * turns.size() + 1);
    long bytes = 0;
    if (root != null) {
      segments.add(root);
      bytes += root.length;
    }
    for (int i = turns.size() - 1; i >= 0; i--) {
      byte[] value = turns.get(i);
      int newline = indexOf(value, (byte) '\n');
      String[] header = new String(value, 0, newline, StandardCharsets.US_ASCII).split(" ");
      int start = newline + 1;
      int inputEnd = start + Integer.parseInt(header[1]);
      segments.add(Arrays.copyOfRange(value, start, inputEnd));
      segments.add(Arrays.copyOfRange(value, inputEnd, value.length));
      bytes += value.length - start;
    }
    if (bytes > maximumBytesPerChain) {
      // Links recorded out of order can pass the bound without being marked.
      return ChainHistory.tooLarge(chain, chain);
    }
    // complete() copies the arrays once more; a history is read only to repair, so that is rare.
    return ChainHistory.complete(chain, segments, last, turns.size());
  }

  /**
   * Sends what was queued while Redis was unavailable, in order, if anything was and no other
   * thread is sending it. Tries Redis as any operation does (at most once per retry interval during
   * an outage).
   */
  private Send send() {
    if (queue.isEmpty()) {
      return Send.DONE;
    }
    // Held by this thread: the batch it is sending just found Redis back. Not twice.
    if (sending.isHeldByCurrentThread() || !sending.tryLock()) {
      return Send.BUSY;
    }
    try {
      boolean loaded = false;
      while (!queue.isEmpty()) {
        List<Pending> batch = new ArrayList<>(SEND_BATCH);
        for (Iterator<Pending> it = queue.iterator(); it.hasNext() && batch.size() < SEND_BATCH; ) {
          batch.add(it.next());
        }
        boolean load = !loaded;
        int refused = connector.executeBatch("journal send", connection -> sendBatch(connection, batch, load));
        if (refused < 0) {
          return Send.UNAVAILABLE;
        }
        loaded = true;
        for (int i = 0; i < batch.size(); i++) {
          Pending done = queue.poll();
          queuedEntries.decrementAndGet();
          queuedBytes.addAndGet(-done.bytes());
        }
      }
      overflowWarned.set(false);
      return Send.DONE;
    } finally {
      sending.unlock();
    }
  }

  private List<Future<?>> sendBatch(StatefulRedisConnection<String, byte[]> connection, List<Pending> batch,
      boolean load) {
    if (load) {
      // A Redis that comes back empty has no scripts, and a pipelined NOSCRIPT cannot be retried.
      RECORD.load(connection.sync());
      CONVERSATION.load(connection.sync());
      FORGET.load(connection.sync());
    }
    RedisAsyncCommands<String, byte[]> commands = connection.async();
    List<Future<?>> futures = new ArrayList<>(batch.size());
    for (Pending pending : batch) {
      futures.add(pending.send(this, commands));
    }
    return futures;
  }

  private void enqueue(Pending pending) {
    if (local == null) {
      return;
    }
    if (queuedEntries.get() >= localFallbackMaximumEntries
        || queuedBytes.get() + pending.bytes() > localFallbackMaximumBytes) {
      if (overflowWarned.compareAndSet(false, true)) {
        logger.warn("RedisHistoryJournal's local fallback holds {} operations ({} bytes) waiting for Redis,"
            + " its bound; later ones are kept here only, and Redis will not have them",
            queuedEntries.get(), queuedBytes.get());
      }
      return;
    }
    queuedEntries.incrementAndGet();
    queuedBytes.addAndGet(pending.bytes());
    queue.add(pending);
  }

  private static ChainKey parent(ChainScope scope, String link) {
    return link.equals("-") ? null : ref(scope, link);
  }

  private static ChainKey ref(ChainScope scope, String link) {
    String id = link.substring(2);
    return (link.charAt(0) == 'r' ? ChainKey.response(id) : ChainKey.conversation(id)).in(scope);
  }

  private static int indexOf(byte[] bytes, byte b) {
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == b) {
        return i;
      }
    }
    throw new IllegalStateException("Turn record without a header");
  }

  private static String text(Object value) {
    return value == null ? "" : new String((byte[]) value, StandardCharsets.US_ASCII);
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] number(long n) {
    return ascii(Long.toString(n));
  }

  private enum Send {
    /** Nothing waits: go to Redis. */
    DONE,
    /** Another thread is sending: queue behind it. */
    BUSY,
    /** Redis is unavailable: it was just tried, or will be at the next retry. */
    UNAVAILABLE
  }

  /** An operation that waits for Redis. */
  private interface Pending {
    long bytes();

    Future<?> send(RedisHistoryJournal journal, RedisAsyncCommands<String, byte[]> commands);
  }

  /** A turn, its items copied once and shared with the local fallback. */
  private static final class Turn implements Pending {
    final ChainScope scope;
    final String id;
    final String previous;
    final String conversation;
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

    @Override
    public long bytes() {
      return (long) input.length + output.length;
    }

    @Override
    public Future<?> send(RedisHistoryJournal journal, RedisAsyncCommands<String, byte[]> commands) {
      return RECORD.send(commands, ScriptOutputType.MULTI, journal.recordArgs(this));
    }
  }

  private record Conversation(ChainKey key, byte[] items) implements Pending {
    @Override
    public long bytes() {
      return items.length;
    }

    @Override
    public Future<?> send(RedisHistoryJournal journal, RedisAsyncCommands<String, byte[]> commands) {
      return commands.evalsha(CONVERSATION.sha(), ScriptOutputType.INTEGER,
          new String[] {RedisKeys.conversation(journal.prefix, key)}, items, journal.ttlArg);
    }
  }

  private record Forget(ChainKey key) implements Pending {
    byte[][] args(byte[] prefix) {
      return new byte[][] {prefix, ascii(key.scope().key()),
          key.kind() == ChainKey.Kind.RESPONSE ? RESPONSE : CONVERSATION_KIND, ascii(key.id())};
    }

    @Override
    public long bytes() {
      return 0;
    }

    @Override
    public Future<?> send(RedisHistoryJournal journal, RedisAsyncCommands<String, byte[]> commands) {
      return FORGET.send(commands, ScriptOutputType.INTEGER, args(journal.prefixBytes));
    }
  }

  /** Builds a {@link RedisHistoryJournal}. Not thread-safe. */
  public static final class Builder {
    private RedisConnector connector;
    private long maximumBytesPerChain = CaffeineHistoryJournal.DEFAULT_MAXIMUM_BYTES_PER_CHAIN;
    private Duration expireAfterAccess = CaffeineHistoryJournal.DEFAULT_EXPIRE_AFTER_ACCESS;
    private long localFallbackMaximumEntries = DEFAULT_LOCAL_FALLBACK_MAXIMUM_ENTRIES;
    private long localFallbackMaximumBytes = DEFAULT_LOCAL_FALLBACK_MAXIMUM_BYTES;
    private int segmentTurns = SEGMENT_TURNS;

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
     * Builds the journal.
     *
     * @throws NullPointerException if {@code connector} was not set
     */
    public RedisHistoryJournal build() {
      requireNonNull(connector, "connector is required; build one with RedisConnector.builder().uri(...)");
      return new RedisHistoryJournal(this);
    }
  }
}
