package io.github.affinity4j.redis;

import io.github.affinity4j.core.ChainKey;

/**
 * The key layout, in one place (the README's table follows it). With the default prefix:
 *
 * <pre>
 * affinity4j:pin:r:resp_…     a response's pin        (RedisAffinityStore; string)
 * affinity4j:pin:c:conv_…     a conversation's pin    (RedisAffinityStore; string)
 * affinity4j:pin:t:thread_…   a thread's pin          (RedisAffinityStore; string)
 * affinity4j:turn:resp_…      one journaled turn      (RedisHistoryJournal; string)
 * affinity4j:conv:conv_…      a journaled conversation (RedisHistoryJournal; hash: h, i)
 * </pre>
 */
final class RedisKeys {

  static final String PIN = "pin:";
  static final String TURN = "turn:";
  static final String CONVERSATION = "conv:";

  private RedisKeys() {}

  static String pin(String prefix, ChainKey key) {
    char kind = switch (key.kind()) {
      case RESPONSE -> 'r';
      case CONVERSATION -> 'c';
      case THREAD -> 't';
    };
    return prefix + PIN + kind + ':' + key.id();
  }

  static String turn(String prefix, String responseId) {
    return prefix + TURN + responseId;
  }

  static String conversation(String prefix, String conversationId) {
    return prefix + CONVERSATION + conversationId;
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
