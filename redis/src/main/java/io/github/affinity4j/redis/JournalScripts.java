package io.github.affinity4j.redis;

import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The Lua scripts of a {@link RedisHistoryJournal} and what it exchanges with them: each
 * operation's call (the key prefix, the scope and the bounds, encoded once) and the links in their
 * replies. The key and record layout is the scripts' and {@link RedisKeys}'.
 *
 * <p>Immutable; thread-safe.
 */
final class JournalScripts {

  static final LuaScript RECORD = LuaScript.load("journal-record.lua");
  static final LuaScript HISTORY = LuaScript.load("journal-history.lua");
  static final LuaScript CONVERSATION = LuaScript.load("journal-conversation.lua");
  static final LuaScript FORGET = LuaScript.load("journal-forget.lua");

  private static final byte[] EMPTY = new byte[0];
  private static final String[] NO_KEYS = new String[0];
  private static final byte[] RESPONSE = {'r'};
  private static final byte[] CONVERSATION_KIND = {'c'};

  private final String prefix;
  private final byte[] prefixBytes;
  private final byte[] maxChainArg;
  private final byte[] ttlArg;
  private final byte[] maxTurnsArg;
  private final byte[] maxSegmentsArg;
  private final byte[] segmentTurnsArg;
  private final byte[] pageLinksArg;
  private final byte[] pageBytesArg;

  JournalScripts(String prefix, long maximumBytesPerChain, Duration expireAfterAccess, int segmentTurns) {
    this.prefix = prefix;
    this.prefixBytes = ascii(prefix);
    this.maxChainArg = number(maximumBytesPerChain);
    this.ttlArg = number(expireAfterAccess.toMillis());
    this.maxTurnsArg = number(RedisHistoryJournal.MAX_TURNS);
    this.maxSegmentsArg = number(RedisHistoryJournal.MAX_SEGMENTS);
    this.segmentTurnsArg = number(segmentTurns);
    this.pageLinksArg = number(RedisHistoryJournal.PAGE_LINKS);
    this.pageBytesArg = number(RedisHistoryJournal.PAGE_BYTES);
  }

  /**
   * Records a turn; the reply is {@code [1 if recorded as a marker else 0, the parent it was linked to]}.
   *
   * @param root the chain's root (the call goes to its slot), or empty on one node: the script finds it
   */
  LuaScript.Call record(PendingWrite.Turn turn, String root) {
    return RECORD.call(ScriptOutputType.MULTI, keys(turn.key(), root), prefixBytes, ascii(turn.scope.key()),
        ascii(turn.id), turn.previous == null ? EMPTY : ascii(turn.previous),
        turn.conversation == null ? EMPTY : ascii(turn.conversation),
        turn.input, turn.output, maxChainArg, ttlArg, maxTurnsArg, maxSegmentsArg, segmentTurnsArg, ascii(root));
  }

  /** Records the items a conversation was created with, keeping its latest turn. */
  LuaScript.Call recordConversation(ChainKey conversation, byte[] items) {
    return CONVERSATION.call(ScriptOutputType.INTEGER,
        new String[] {RedisKeys.conversation(prefix, conversation)}, items, ttlArg);
  }

  /** Forgets a turn or a conversation, in its key's scope; {@code root} as for {@link #record}. */
  LuaScript.Call forget(ChainKey key, String root) {
    return FORGET.call(ScriptOutputType.INTEGER, keys(key, root), prefixBytes, ascii(key.scope().key()), kind(key),
        ascii(key.id()), ascii(root));
  }

  /**
   * The call of the first page of {@code chain}'s history, in the slot of {@code root} (as for
   * {@link #record}). Its arguments 10 and 11, empty here, name where the next page starts:
   * {@link HistoryPages} sets them in {@link LuaScript.Call#args()} from each reply.
   */
  LuaScript.Call history(ChainKey chain, String root) {
    return HISTORY.call(ScriptOutputType.MULTI, keys(chain, root), prefixBytes, ascii(chain.scope().key()),
        kind(chain), ascii(chain.id()), maxChainArg, ttlArg, maxTurnsArg, pageLinksArg, pageBytesArg, EMPTY, EMPTY,
        ascii(root));
  }

  /**
   * The key that routes a call to its chain's slot on a cluster: the turn's or the conversation's.
   * None on one node, where the script finds the root itself.
   */
  private String[] keys(ChainKey chain, String root) {
    if (root.isEmpty()) {
      return NO_KEYS;
    }
    return new String[] {chain.kind() == ChainKey.Kind.CONVERSATION ? RedisKeys.conversation(prefix, chain)
        : RedisKeys.turn(prefix, chain, root)};
  }

  /** Makes sure Redis has the scripts that queued writes are pipelined with. */
  static void loadWrites(RedisClusterCommands<String, byte[]> commands) {
    RECORD.load(commands);
    CONVERSATION.load(commands);
    FORGET.load(commands);
  }

  /** The key a link of a reply names ({@code r:<id>} or {@code c:<id>}), in {@code scope}. */
  static ChainKey link(ChainScope scope, String link) {
    String id = link.substring(2);
    return (link.charAt(0) == 'r' ? ChainKey.response(id) : ChainKey.conversation(id)).in(scope);
  }

  /** As {@link #link}, null for {@code -}: the start of a chain. */
  static @Nullable ChainKey parent(ChainScope scope, String link) {
    return link.equals("-") ? null : link(scope, link);
  }

  /** A bulk string of a reply as text; empty for nil. */
  static String text(@Nullable Object value) {
    return value == null ? "" : new String((byte[]) value, StandardCharsets.US_ASCII);
  }

  private static byte[] kind(ChainKey key) {
    return key.kind() == ChainKey.Kind.RESPONSE ? RESPONSE : CONVERSATION_KIND;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] number(long n) {
    return ascii(Long.toString(n));
  }
}
