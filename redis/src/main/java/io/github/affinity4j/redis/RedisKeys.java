package io.github.affinity4j.redis;

import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;

/**
 * The key layout, in one place (the scripts build the same keys). With the default prefix, {@code S}
 * the chain's {@link ChainScope#key()} (22 characters; empty for {@link ChainScope#NONE}) and
 * {@code R} the chain's root ({@code r:<first response id>}, or {@code c:<conversation id>} for a
 * chain made in a conversation):
 *
 * <pre>
 * affinity4j:pin:r:S:resp_…       a response's pin         (RedisAffinityStore; string)
 * affinity4j:pin:c:S:conv_…       a conversation's pin     (RedisAffinityStore; string)
 * affinity4j:pin:t:S:thread_…     a thread's pin           (RedisAffinityStore; string)
 * affinity4j:turn:{S:R}:resp_…    where one journaled turn is (RedisHistoryJournal; string)
 * affinity4j:seg:{S:R}:17         a segment: the items of turns of one chain region (hash)
 * affinity4j:seg:{S:R}:#          the counter that names the chain's segments (string)
 * affinity4j:conv:{S:c:conv_…}    a journaled conversation (RedisHistoryJournal; hash: h, i)
 * affinity4j:root:S:resp_…        the root R of the chain a response belongs to (string)
 * </pre>
 *
 * <p><b>One slot per chain.</b> The braces are a Redis Cluster hash tag: only {@code S:R} is hashed,
 * so every key of one chain (its turns, its segments, its conversation) lies in one slot, on one
 * master, and a script may touch them all. A response's root pointer lies in the slot of its own
 * name, so a connector that has not seen the chain finds it with one single-key read. A pin is one
 * key, in the slot of its own name. In an id inside a tag, {@code %}, <code>{</code> and
 * <code>}</code> are escaped as {@code %25}, {@code %7B}, {@code %7D}, so the tag ends where the key
 * says (no real response or conversation id holds them).
 *
 * <p>The scope is the first field after the section and holds no colon, while an id may hold one,
 * so every key decodes one way: {@code turn:{:r:a}:b} is id {@code b} of root {@code a} without a
 * scope. That is why keys without a scope have an empty field. Only the scope's key is stored, never
 * the origin or credential it was made from.
 */
final class RedisKeys {

  static final String PIN = "pin:";
  static final String TURN = "turn:";
  static final String SEGMENT = "seg:";
  static final String CONVERSATION = "conv:";
  static final String ROOT = "root:";

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

  /** The root of a chain that starts with response {@code id}. */
  static String responseRoot(String id) {
    return "r:" + escape(id);
  }

  /** The root of a chain made in conversation {@code id}. */
  static String conversationRoot(String id) {
    return "c:" + escape(id);
  }

  /** The key of a response's turn, in its scope, in the slot of the chain's {@code root}. */
  static String turn(String prefix, ChainKey response, String root) {
    return prefix + TURN + '{' + response.scope().key() + ':' + root + "}:" + response.id();
  }

  /** The key of a conversation, in the conversation key's scope; its own root's slot. */
  static String conversation(String prefix, ChainKey conversation) {
    return prefix + CONVERSATION + '{' + conversation.scope().key() + ':' + conversationRoot(conversation.id()) + '}';
  }

  /** The key that names the root of the chain {@code response} belongs to. */
  static String root(String prefix, ChainKey response) {
    return prefix + ROOT + response.scope().key() + ':' + response.id();
  }

  /** {@code id} with {@code %}, <code>{</code> and <code>}</code> escaped, for a hash tag. */
  static String escape(String id) {
    if (id.indexOf('%') < 0 && id.indexOf('{') < 0 && id.indexOf('}') < 0) {
      return id;
    }
    return id.replace("%", "%25").replace("{", "%7B").replace("}", "%7D");
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

  /** Checks a key prefix: no spaces or control characters. */
  static void checkPrefix(String keyPrefix) {
    for (int i = 0; i < keyPrefix.length(); i++) {
      char c = keyPrefix.charAt(i);
      if (c <= ' ' || c == 0x7F) {
        throw new IllegalArgumentException("keyPrefix must not hold spaces or control characters; e.g."
            + " \"affinity4j:prod:\"");
      }
    }
  }
}
