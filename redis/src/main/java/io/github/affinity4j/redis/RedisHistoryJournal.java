package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.lettuce.core.ScriptOutputType;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
 * <p><b>Layout.</b> A turn is one Redis string, {@code <prefix>turn:<response id>}: a one-line
 * header ({@code 1 <chain bytes> <depth> <input length> <parent>}, the parent being
 * {@code r:<response id>}, {@code c:<conversation id>} or {@code -}) followed by the input and output
 * items exactly as the engine passed them. A conversation is one hash,
 * {@code <prefix>conv:<conversation id>}, with field {@code h} (its latest turn) and {@code i} (the
 * items it was created with, absent if its creation was not recorded).
 *
 * <p><b>One round trip each.</b> {@link #record} and {@link #history} are each one Lua script
 * ({@code EVALSHA}), so recording a turn and walking a chain of any length back to its start cost
 * one round trip, and a chain is read at one point in time.
 *
 * <p><b>Semantics match {@link CaffeineHistoryJournal}:</b>
 *
 * <ul>
 *   <li><b>Expire after access</b>, 2 hours by default: every key written gets it, and recording a
 *       turn restarts the expiry of every ancestor (and of its conversation), so a chain in use keeps
 *       its start and expires as a unit; reading a history restarts it for every link read.
 *   <li><b>Bytes per chain</b>, 4 MiB by default: a turn that takes its chain past it is recorded
 *       without its items, as a marker, and so is every later turn of that chain; its history is
 *       {@link ChainHistory.Status#TOO_LARGE} from there on. Older turns are never dropped.
 *   <li><b>Honest partial history:</b> a link that is not there (never recorded, expired, evicted,
 *       or lost while Redis was down) makes the history {@link ChainHistory.Status#MISSING_LINK};
 *       a replay never starts in the middle of a conversation.
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
 * response recorded twice keeps the later record (the same turn, in practice).
 *
 * <p><b>While Redis is down:</b> {@link #record} drops the turn (its chain cannot be repaired from it
 * until a later turn's chain no longer needs it), {@link #history} answers
 * {@link ChainHistory.Status#UNAVAILABLE}, so the engine fails the repair with an error that says
 * first that the HistoryJournal could not be read, and then quotes this journal's
 * {@code toString()}, which says Redis is unavailable and for how long. Requests still go out. A
 * link really absent from a Redis that answers stays {@link ChainHistory.Status#MISSING_LINK}. See
 * {@link RedisConnector} for the logging and the events.
 *
 * <p>The scripts read keys they compute from the links, so this journal needs a standalone Redis (or
 * one behind Sentinel, or a managed non-cluster tier); Redis Cluster is not supported. Thread-safe.
 * Items are conversation content: never logged.
 */
public final class RedisHistoryJournal implements HistoryJournal {

  /** The most links one record touches or one history walks; bounds the time a script runs. */
  static final int MAX_LINKS = 100_000;

  private static final Logger logger = LoggerFactory.getLogger(RedisHistoryJournal.class);

  private static final LuaScript RECORD = LuaScript.load("journal-record.lua");
  private static final LuaScript HISTORY = LuaScript.load("journal-history.lua");
  private static final LuaScript CONVERSATION = LuaScript.load("journal-conversation.lua");

  private static final byte[] EMPTY = new byte[0];

  private final RedisConnector connector;
  private final String prefix;
  private final byte[] prefixBytes;
  private final long maximumBytesPerChain;
  private final Duration expireAfterAccess;
  private final byte[] maxChainArg;
  private final byte[] ttlArg;
  private final byte[] maxLinksArg;

  private RedisHistoryJournal(Builder builder) {
    this.connector = builder.connector;
    this.prefix = connector.keyPrefix();
    this.prefixBytes = ascii(prefix);
    this.maximumBytesPerChain = builder.maximumBytesPerChain;
    this.expireAfterAccess = builder.expireAfterAccess;
    this.maxChainArg = ascii(Long.toString(maximumBytesPerChain));
    this.ttlArg = ascii(Long.toString(expireAfterAccess.toMillis()));
    this.maxLinksArg = ascii(Integer.toString(MAX_LINKS));
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

  /**
   * {@inheritDoc}
   *
   * <p>One script: restarts the expiry of every ancestor, so they stay as long as the turn does.
   * Does nothing if Redis is unavailable.
   *
   * @throws NullPointerException if {@code turn} is null
   */
  @Override
  public void record(JournalTurn turn) {
    requireNonNull(turn, "turn");
    byte[] id = ascii(turn.responseId());
    byte[] previous = turn.previousResponseId().map(RedisHistoryJournal::ascii).orElse(EMPTY);
    byte[] conversation = turn.conversationId().map(RedisHistoryJournal::ascii).orElse(EMPTY);
    byte[] input = turn.input();
    byte[] output = turn.output();
    Long marker = connector.execute("journal record", commands -> RECORD.<Long>run(commands,
        ScriptOutputType.INTEGER, prefixBytes, id, previous, conversation, input, output, maxChainArg,
        ttlArg, maxLinksArg), null);
    if (marker != null && marker == 1L) {
      logger.debug("Chain of {} is past maximumBytesPerChain ({} bytes); journaled as a marker",
          turn.responseId(), maximumBytesPerChain);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>One {@code HSET}, keeping the conversation's latest turn. Does nothing if Redis is
   * unavailable.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code conversationId} is not a valid id
   */
  @Override
  public void recordConversation(String conversationId, byte[] items) {
    ChainKey key = ChainKey.conversation(requireNonNull(conversationId, "conversationId"));
    byte[] copy = requireNonNull(items, "items").clone();
    String[] keys = {RedisKeys.conversation(prefix, key.id())};
    connector.execute("journal recordConversation", commands -> CONVERSATION.<Long>run(commands,
        ScriptOutputType.INTEGER, keys, copy, ttlArg), null);
  }

  /**
   * {@inheritDoc}
   *
   * <p>One script walks the chain back in Redis and returns it whole. Assistants threads are not
   * journaled: their history is always missing. If Redis cannot be read (down, not answering within
   * the command timeout, skipped until the next retry of an outage, refusing the script, or the
   * connector closed), the history is {@link ChainHistory#unavailable}: not missing, since nothing
   * could be asked. A record this version cannot read counts as a missing link.
   *
   * @throws NullPointerException if {@code chain} is null
   */
  @Override
  public ChainHistory history(ChainKey chain) {
    requireNonNull(chain, "chain");
    if (chain.kind() == ChainKey.Kind.THREAD) {
      return ChainHistory.missingLink(chain, chain, 0);
    }
    byte[] kind = chain.kind() == ChainKey.Kind.RESPONSE ? ascii("r") : ascii("c");
    byte[] id = ascii(chain.id());
    List<Object> reply = connector.execute("journal history", commands -> HISTORY.<List<Object>>run(
        commands, ScriptOutputType.MULTI, prefixBytes, kind, id, maxChainArg, ttlArg, maxLinksArg), null);
    if (reply == null) {
      // The connector fell back: the script never ran (its reply is never null), so Redis said
      // nothing about this chain.
      return ChainHistory.unavailable(chain);
    }
    try {
      return parse(chain, reply);
    } catch (RuntimeException e) {
      connector.unreadable("history", chain, e);
      return ChainHistory.missingLink(chain, chain, 0);
    }
  }

  /** Unlinks every turn and conversation under this prefix (with SCAN); pins are left alone. */
  @Override
  public void clear() {
    connector.execute("journal clear", commands -> RedisConnector.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.TURN)) + RedisConnector.unlink(commands,
        RedisKeys.pattern(prefix, RedisKeys.CONVERSATION)), 0L);
  }

  /**
   * {@inheritDoc}
   *
   * <p>Counts this prefix's turns and conversations with {@code SCAN}: one round trip per 1,000
   * keys of the whole database, for statistics now and then. 0 if Redis is unavailable.
   */
  @Override
  public long estimatedSize() {
    return connector.execute("journal size", commands -> RedisConnector.count(commands,
        RedisKeys.pattern(prefix, RedisKeys.TURN)) + RedisConnector.count(commands,
        RedisKeys.pattern(prefix, RedisKeys.CONVERSATION)), 0L);
  }

  @Override
  public String toString() {
    return "RedisHistoryJournal[maximumBytesPerChain=" + maximumBytesPerChain + ", expireAfterAccess="
        + expireAfterAccess + ", " + connector + ']';
  }

  private static ChainHistory parse(ChainKey chain, List<Object> reply) {
    String status = text(reply.get(0));
    String link = text(reply.get(1));
    int turns = Math.toIntExact((Long) reply.get(2));
    switch (status) {
      case "M":
        return ChainHistory.missingLink(chain, link.isEmpty() ? chain : ref(link), turns);
      case "T":
        return ChainHistory.tooLarge(chain, link.isEmpty() ? chain : ref(link));
      case "C":
        break;
      default:
        throw new IllegalStateException("Unknown history status " + status);
    }
    String last = text(reply.get(3));
    boolean hasRoot = (Long) reply.get(4) == 1L;
    List<byte[]> segments = new ArrayList<>(2 * (reply.size() - 6) + 1);
    if (hasRoot) {
      segments.add((byte[]) reply.get(5));
    }
    for (int i = reply.size() - 1; i >= 6; i--) {
      byte[] value = (byte[]) reply.get(i);
      int newline = indexOf(value, (byte) '\n');
      String[] header = new String(value, 0, newline, StandardCharsets.US_ASCII).split(" ");
      int inputLength = Integer.parseInt(header[3]);
      int start = newline + 1;
      segments.add(Arrays.copyOfRange(value, start, start + inputLength));
      segments.add(Arrays.copyOfRange(value, start + inputLength, value.length));
    }
    // complete() copies the arrays once more; a history is read only to repair, so that is rare.
    return ChainHistory.complete(chain, segments, last.isEmpty() ? null : last, turns);
  }

  private static ChainKey ref(String link) {
    String id = link.substring(2);
    return link.charAt(0) == 'r' ? ChainKey.response(id) : ChainKey.conversation(id);
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

  /** Builds a {@link RedisHistoryJournal}. Not thread-safe. */
  public static final class Builder {
    private RedisConnector connector;
    private long maximumBytesPerChain = CaffeineHistoryJournal.DEFAULT_MAXIMUM_BYTES_PER_CHAIN;
    private Duration expireAfterAccess = CaffeineHistoryJournal.DEFAULT_EXPIRE_AFTER_ACCESS;

    private Builder() {}

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
     * as {@link CaffeineHistoryJournal}.
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
