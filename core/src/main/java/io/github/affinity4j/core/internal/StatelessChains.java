package io.github.affinity4j.core.internal;

import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chains without an id: {@code store: false} requests that resend their history. No id names such
 * a chain; the items it sends back, seen in earlier responses, do, and their backend is its pin.
 * Stateless. Not API.
 */
final class StatelessChains {
  private static final Logger logger = LoggerFactory.getLogger(Turn.class);

  /** How many items of a response are bound (its latest), and looked up in a request (its latest). */
  static final int MAX_ITEMS = 16;

  private StatelessChains() {}

  /**
   * Binds the latest {@value #MAX_ITEMS} items of a stateless response to its pin: the request that
   * sends them back finds its backend by any of them, and its reasoning items are known as this
   * backend's.
   */
  static void bindItems(Engine engine, ChainScope scope, TurnOutput output, @Nullable ChainKey previous,
      @Nullable AffinityToken fresh) {
    List<String> ids = output.itemIds();
    for (String id : ids.subList(Math.max(0, ids.size() - MAX_ITEMS), ids.size())) {
      engine.registry().bind(ChainKey.item(id).in(scope), previous, fresh);
    }
  }

  /**
   * The stateless request's body without the reasoning items bound to another backend than its pin
   * (they would be refused there: {@code invalid_encrypted_content}); null if it carries none. The
   * reasoning items' pins are looked up in one store call ({@link AffinityStore#getAll}): one round
   * trip on a remote store, however many turns the conversation has.
   */
  static byte @Nullable [] withoutForeignReasoning(Engine engine, ChainScope scope, byte[] body,
      TurnInput input, AffinityToken pin) {
    Set<String> reasoning = input.reasoningItemIds();
    if (reasoning.isEmpty()) {
      return null;
    }
    List<ChainKey> keys = new ArrayList<>(reasoning.size());
    for (String id : reasoning) {
      keys.add(ChainKey.item(id).in(scope));
    }
    Set<String> foreign = new HashSet<>();
    engine.registry().peekAll(keys).forEach((key, made) -> {
      if (!made.value().equals(pin.value())) {
        foreign.add(key.id());
      }
    });
    byte[] without = foreign.isEmpty() ? null : ReplayPlanner.withoutReasoning(body, foreign);
    if (without != null) {
      logger.debug("Stateless request: {} items of another backend; its reasoning left out", foreign.size());
    }
    return without;
  }

  /**
   * The pin of a stateless request: the one bound to the latest item it sends back that has one
   * (of its latest {@value #MAX_ITEMS}), with that item's key; null if none has.
   */
  static Map.@Nullable Entry<ChainKey, AffinityToken> latestItemPin(Engine engine, ChainScope scope,
      TurnInput input, String scheme, String host, String encodedPath) {
    if (input.itemIds().isEmpty()) {
      return null; // a new stateless conversation: it spreads
    }
    List<ChainKey> items = new ArrayList<>(MAX_ITEMS);
    for (String id : input.itemIds()) {
      items.add(0, ChainKey.item(id).in(scope));
      if (items.size() > MAX_ITEMS) {
        items.remove(MAX_ITEMS); // the oldest: the latest items name the chain
      }
    }
    return engine.registry().pinForFirst(items, scheme, host, encodedPath).orElse(null);
  }

  /** The request of a stateless chain, or null: store false, no previous_response_id nor conversation. */
  static @Nullable TurnInput input(ChainTurn repair) {
    TurnInput input = repair.input().orElse(null);
    return input != null && !input.store() && input.previousResponseId().isEmpty()
        && input.conversationId().isEmpty() ? input : null;
  }
}
