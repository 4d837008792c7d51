package io.github.affinity4j.redis;

import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;

/**
 * The key layout, in one place (the scripts build the same keys). With the default prefix, and
 * {@code S} the chain's {@link ChainScope#key()} (22 characters; empty for {@link ChainScope#NONE}):
 *
 * <pre>
 * affinity4j:pin:r:S:resp_…     a response's pin         (RedisAffinityStore; string)
 * affinity4j:pin:c:S:conv_…     a conversation's pin     (RedisAffinityStore; string)
 * affinity4j:pin:t:S:thread_…   a thread's pin           (RedisAffinityStore; string)
 * affinity4j:turn:S:resp_…      where one journaled turn is (RedisHistoryJournal; string)
 * affinity4j:seg:S:17           a segment: the items of turns of one chain region (hash)
 * affinity4j:conv:S:conv_…      a journaled conversation (RedisHistoryJournal; hash: h, i)
 * affinity4j:segments           the counter that names segments (string, no expiry)
 * </pre>
 *
 * <p>The scope is the first field after the section and holds no colon, while an id may hold one,
 * so every key decodes one way: {@code turn::a:b} is id {@code a:b} without a scope, never id
 * {@code b} of a scope {@code a}. That is why keys without a scope have an empty field
 * ({@code turn::resp_1}) instead of the layout before scopes ({@code turn:resp_1}): an id of the
 * form {@code <22 characters>:resp_1} would otherwise name another scope's key. Only the scope's
 * key is stored, never the origin or credential it was made from.
 */
final class RedisKeys {

  static final String PIN = "pin:";
  static final String TURN = "turn:";
  static final String SEGMENT = "seg:";
  static final String CONVERSATION = "conv:";

  private RedisKeys() {}

  static String pin(String prefix, ChainKey key) {
    char kind = switch (key.kind()) {
      case RESPONSE -> 'r';
      case CONVERSATION -> 'c';
      case THREAD -> 't';
      case ITEM -> 'i';
    };
    return prefix + PIN + kind + ':' + key.scope().key() + ':' + key.id();
  }

  /** The key of a response's turn, in the response key's scope. */
  static String turn(String prefix, ChainKey response) {
    return prefix + TURN + response.scope().key() + ':' + response.id();
  }

  /** The key of a conversation, in the conversation key's scope. */
  static String conversation(String prefix, ChainKey conversation) {
    return prefix + CONVERSATION + conversation.scope().key() + ':' + conversation.id();
  }

  /** A SCAN MATCH pattern for every key that starts with {@code prefix + section}. */
  static String pattern(String prefix, String section) {
    StringBuilder glob = new StringBuilder(prefix.length() + section.length() + 2);
    String literal = prefix + section;
    for (int i = 0; i < literal.length(); i++) {
      char c = literal.charAt(i);
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
        glob.append('\\');
      }
      glob.append(c);
    }
    return glob.append('*').toString();
  }
}
