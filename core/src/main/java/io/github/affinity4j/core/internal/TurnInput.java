package io.github.affinity4j.core.internal;

import io.github.affinity4j.core.ChainKey.Kind;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import java.io.IOException;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a {@code POST …/responses} request body says about its turn: the input items it sends, the
 * chain it continues, and whether its response will be stored.
 *
 * <pre>{@code
 * Optional<TurnInput> turn = TurnInput.fromRequestBody(body, 0, body.length);
 * turn.flatMap(TurnInput::chain)       // response:resp_… or conversation:conv_…, if it continues one
 * turn.map(TurnInput::items)           // [{"type":"message","role":"user","content":"Hi"}]
 * }</pre>
 *
 * <p>A string {@code input} becomes one item, {@code {"type":"message","role":"user","content":…}},
 * which is how the API reads it; an array is kept as sent, byte for byte; no {@code input} is an
 * empty array. Items are held as one JSON array in bytes, not as objects. Reading a turn costs one
 * pass and no copy: the input is found in the body (skipped over, which checks it is JSON) and read
 * out of it only when asked for ({@link #items()}, {@link #itemSource()}); what the items carry
 * ({@link #itemIds()}, {@link #itemCount()}, {@link #encryptedItems()}) is read on first use,
 * which a turn on a chain with an id never makes unless it breaks.
 *
 * <p>The body is read by {@link JsonScanner} and never throws for bad data: a body that is not a
 * JSON object, or whose {@code input} is neither a string nor an array, yields empty and one DEBUG
 * line; ids that are not valid ({@link ChainKey#isValidId}) are ignored. Nothing of the body is
 * logged. Immutable and thread-safe.
 */
public final class TurnInput {

  private static final Logger logger = LoggerFactory.getLogger(TurnInput.class);

  private static final String RESPONSES = "/responses";
  private static final String COMPACT = "/responses/compact";
  private static final String INPUT_TOKENS = "/responses/input_tokens";
  private static final String CONVERSATIONS = "/conversations";
  private static final String THREADS = "/threads";
  private static final String RESPONSES_SLASH = RESPONSES + '/';
  private static final String CONVERSATIONS_SLASH = CONVERSATIONS + '/';
  private static final String THREADS_SLASH = THREADS + '/';

  // Path segments in the id position that name an operation, not an id:
  // POST /responses/input_tokens, POST /responses/compact, POST /threads/runs.
  /** How many item ids a request's reading keeps: its latest ones. */
  static final int MAX_ITEM_IDS = 256;
  private static final Set<String> NOT_IDS = Set.of("input_tokens", "compact", "runs");

  private final ItemSource items;
  private final @Nullable String previousResponseId;
  private final @Nullable String conversationId;
  private final boolean store;
  // What the items say (count, ids, encrypted ones): read on first use, which most turns never
  // make. Racy but benign: any thread computes the same immutable value.
  private @Nullable Scan scan;

  /** What the input items carry, as {@link #scan} reads them. */
  private record Scan(int count, Set<String> ids, int encrypted, Set<String> reasoningIds) {
    static final Scan NONE = new Scan(0, Set.of(), 0, Set.of());
    static final Scan ONE_MESSAGE = new Scan(1, Set.of(), 0, Set.of());
  }

  private TurnInput(ItemSource items, @Nullable Scan scan, @Nullable String previousResponseId,
      @Nullable String conversationId, boolean store) {
    this.items = items;
    this.scan = scan;
    this.previousResponseId = previousResponseId;
    this.conversationId = conversationId;
    this.store = store;
  }

  /**
   * Reads a {@code POST …/responses} request body. Returns empty for bad data (see the class
   * comment).
   *
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code body}
   */
  public static Optional<TurnInput> fromRequestBody(byte[] body, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, body.length);
    JsonScanner json = new JsonScanner(body, offset, length);
    try {
      if (!json.enterObject()) {
        json.skipValue(); // what is not JSON at all is said so below
        logger.debug("Request body is not a JSON object; turn not read");
        return Optional.empty();
      }
      ItemSource items = ItemSource.NONE;
      Scan scan = Scan.NONE;
      String previous = null;
      String conversation = null;
      boolean store = true;
      while (json.nextField()) {
        if (json.fieldIs("input")) {
          // A repeated input replaces the earlier one, as the API reads it. Its items are found,
          // not read: skipped over, which checks they are JSON.
          int type = json.peek();
          int start = json.valueStart();
          int end = json.skipValue();
          if (type == '"') {
            items = ItemSource.string(body, start, end);
            scan = Scan.ONE_MESSAGE;
          } else if (type == '[') {
            items = ItemSource.array(body, start, end);
            scan = null;
          } else if (type == 'n') {
            items = ItemSource.NONE;
            scan = Scan.NONE;
          } else {
            logger.debug("Request input is neither a string nor an array; turn not read");
            return Optional.empty();
          }
        } else if (json.fieldIs("previous_response_id")) {
          previous = id(json.readString(), "previous_response_id");
        } else if (json.fieldIs("conversation")) {
          conversation = json.enterObject() ? objectId(json) : id(json.readString(), "conversation");
        } else if (json.fieldIs("store")) {
          store = json.peek() != 'f'; // a wrong type: the API will say so
          json.skipValue();
        } else {
          json.skipValue();
        }
      }
      return Optional.of(new TurnInput(items, scan, previous, conversation, store));
    } catch (IOException e) {
      logger.debug("Request body is not valid JSON ({}); turn not read", e.getClass().getSimpleName());
      return Optional.empty();
    }
  }

  /** Returns the input items as a JSON array: a fresh copy on each call. */
  public byte[] items() {
    return items.read();
  }

  /** Returns where the input items are in the request body, to be read when needed. */
  public ItemSource itemSource() {
    return items;
  }

  /** Returns how many input items there are. */
  public int itemCount() {
    return scan().count();
  }

  /**
   * Returns the ids the input items carry: the {@code id} of each item, including each
   * {@code item_reference}. Such ids resolve only on the backend that issued them. Unmodifiable,
   * in input order; the latest {@value #MAX_ITEM_IDS} of a longer input.
   */
  public Set<String> itemIds() {
    return scan().ids();
  }

  /** Returns how many input items carry {@code encrypted_content} (reasoning bound to its backend). */
  public int encryptedItems() {
    return scan().encrypted();
  }

  /**
   * Returns the ids of the reasoning items of the input (type {@code reasoning}, or carrying
   * {@code encrypted_content}): of {@link #itemIds()}, those only the backend that made them can
   * read. Unmodifiable, in input order; the latest {@value #MAX_ITEM_IDS}.
   */
  public Set<String> reasoningItemIds() {
    return scan().reasoningIds();
  }

  /** Returns the {@code previous_response_id}, if the request has a valid one. */
  public Optional<String> previousResponseId() {
    return Optional.ofNullable(previousResponseId);
  }

  /** Returns the {@code conversation} id (given as a string or as an object's {@code id}), if any. */
  public Optional<String> conversationId() {
    return Optional.ofNullable(conversationId);
  }

  /** Returns {@code store}; true unless the request sets it to false, as the API defaults it. */
  public boolean store() {
    return store;
  }

  /**
   * Returns the chain the request continues: its {@code previous_response_id} as a response key,
   * else its {@code conversation} as a conversation key, else empty (a new chain). The one
   * reading of a request's chain: every consumer (engine, routing log) uses it.
   */
  public Optional<ChainKey> chain() {
    if (previousResponseId != null) {
      return Optional.of(ChainKey.response(previousResponseId));
    }
    return conversationId == null ? Optional.empty() : Optional.of(ChainKey.conversation(conversationId));
  }

  /** Shows ids and counts, never the items. */
  @Override
  public String toString() {
    return "TurnInput[items=" + itemCount() + ", bytes=" + items.size()
        + ", previousResponseId=" + previousResponseId + ", conversationId=" + conversationId
        + ", store=" + store + ", itemIds=" + itemIds().size() + ']';
  }

  private Scan scan() {
    Scan read = scan;
    if (read == null) {
      read = scanItems(items.readOwned());
      scan = read;
    }
    return read;
  }

  /**
   * Reads what the input array carries: how many items, each item's top-level {@code id}, how
   * many carry {@code encrypted_content}. Nested values are skipped without being looked at.
   */
  private static Scan scanItems(byte[] array) {
    int count = 0;
    int encryptedItems = 0;
    Set<String> ids = new LinkedHashSet<>();
    Set<String> reasoningIds = new LinkedHashSet<>();
    JsonScanner json = new JsonScanner(array, 0, array.length);
    try {
      json.enterArray(); // it was read whole before
      while (json.nextElement()) {
        count++;
        if (!json.enterObject()) {
          json.skipValue(); // not an item; the API will say so
          continue;
        }
        boolean encrypted = false;
        boolean reasoning = false;
        String itemId = null;
        while (json.nextField()) {
          if (json.fieldIs("id")) {
            String id = json.readString();
            if (id != null && ChainKey.isValidId(id)) {
              itemId = id;
              addLatest(ids, id);
            }
          } else if (json.fieldIs("encrypted_content")) {
            encrypted |= json.peek() == '"'; // reasoning the backend that made it encrypted for itself
            json.skipValue();
          } else if (json.fieldIs("type")) {
            reasoning = "reasoning".equals(json.readString());
          } else {
            json.skipValue();
          }
        }
        if (encrypted) {
          encryptedItems++;
        }
        if ((encrypted || reasoning) && itemId != null) {
          addLatest(reasoningIds, itemId);
        }
      }
    } catch (IOException e) {
      // Not reached: the array was read whole when the request was; nothing more to learn.
      logger.debug("Request input unreadable on a second reading ({})", e.getClass().getSimpleName());
    }
    return new Scan(count, Collections.unmodifiableSet(ids), encryptedItems,
        Collections.unmodifiableSet(reasoningIds));
  }

  /** Adds {@code id}, keeping the latest {@value #MAX_ITEM_IDS}: the latest items name the chain. */
  private static void addLatest(Set<String> ids, String id) {
    if (ids.add(id) && ids.size() > MAX_ITEM_IDS) {
      Iterator<String> oldest = ids.iterator();
      oldest.next();
      oldest.remove(); // a body's size bounds nothing here
    }
  }

  private static @Nullable String id(@Nullable String id, String field) {
    if (id == null || ChainKey.isValidId(id)) {
      return id;
    }
    logger.debug("Ignored {}: not a valid id ({})", field, Names.describe(id));
    return null;
  }

  private static @Nullable String objectId(JsonScanner json) throws IOException {
    String id = null;
    while (json.nextField()) {
      if (json.fieldIs("id")) {
        id = id(json.readString(), "conversation.id");
      } else {
        json.skipValue();
      }
    }
    return id;
  }

  // --- the request path ---

  /**
   * Returns true if a request may start or continue a chain, so its chain key and response must
   * be looked at: {@code POST …/responses}, {@code POST …/conversations}, {@code POST …/threads},
   * and any request under {@code …/responses/{id}}, {@code …/conversations/{id}} or
   * {@code …/threads/{id}}. Everything else passes through untouched. Cheap: no allocation.
   *
   * @param method the HTTP method, upper case as OkHttp gives it
   * @param encodedPath the request path without the query
   */
  public static boolean isAffected(String method, String encodedPath) {
    if (method == null || encodedPath == null) {
      return false;
    }
    if ("POST".equals(method)
        && (endsWithSegment(encodedPath, RESPONSES)
            || endsWithSegment(encodedPath, CONVERSATIONS)
            || endsWithSegment(encodedPath, THREADS))) {
      return true;
    }
    return containsParent(encodedPath, RESPONSES)
        || containsParent(encodedPath, CONVERSATIONS)
        || containsParent(encodedPath, THREADS);
  }

  /**
   * Returns true if the request's chain key is in its JSON body: {@code POST …/responses}, and
   * {@code POST …/responses/compact} or {@code …/responses/input_tokens}, which may carry
   * {@code previous_response_id} too; the adapter reads the body. Otherwise the key, if any, is in
   * the path ({@link #fromPath}).
   */
  public static boolean hasBodyKey(String method, String encodedPath) {
    return "POST".equals(method) && encodedPath != null
        && (endsWithSegment(encodedPath, RESPONSES) || endsWithSegment(encodedPath, COMPACT)
            || endsWithSegment(encodedPath, INPUT_TOKENS));
  }

  /** Returns true if the request is a turn: {@code POST …/responses} itself, journaled and repaired. */
  public static boolean isTurn(String method, String encodedPath) {
    return "POST".equals(method) && encodedPath != null && endsWithSegment(encodedPath, RESPONSES);
  }


  /**
   * Returns the chain a request path continues: the id after the last {@code /responses/},
   * {@code /conversations/} or {@code /threads/} segment, e.g. {@code thread_abc} in
   * {@code /openai/v1/threads/thread_abc/runs}. Operation names in the id position
   * ({@code input_tokens}, {@code compact}, {@code runs}) and invalid ids give empty.
   *
   * @param encodedPath the request path without the query; null gives empty
   */
  public static Optional<ChainKey> fromPath(@Nullable String encodedPath) {
    if (encodedPath == null) {
      return Optional.empty();
    }
    int responses = encodedPath.lastIndexOf(RESPONSES_SLASH);
    int conversations = encodedPath.lastIndexOf(CONVERSATIONS_SLASH);
    int threads = encodedPath.lastIndexOf(THREADS_SLASH);
    int start;
    Kind kind;
    if (responses > conversations && responses > threads) {
      start = responses + RESPONSES_SLASH.length();
      kind = Kind.RESPONSE;
    } else if (conversations > threads) {
      start = conversations + CONVERSATIONS_SLASH.length();
      kind = Kind.CONVERSATION;
    } else if (threads >= 0) {
      start = threads + THREADS_SLASH.length();
      kind = Kind.THREAD;
    } else {
      return Optional.empty();
    }
    int end = encodedPath.indexOf('/', start);
    String id = encodedPath.substring(start, end < 0 ? encodedPath.length() : end);
    if (NOT_IDS.contains(id)) {
      return Optional.empty();
    }
    return ChainKey.parse(kind, id);
  }

  /**
   * Returns the API's base path in a request path: what comes before its last {@code /responses},
   * {@code /conversations} or {@code /threads} segment, e.g. {@code /inference/openai/v1} in
   * {@code /inference/openai/v1/responses/resp_1}; the whole path if it has none of them. Part of a
   * chain's {@link ChainScope}: two APIs behind one host keep their chains apart.
   *
   * @param encodedPath the request path without the query; null gives empty
   */
  public static String basePath(@Nullable String encodedPath) {
    if (encodedPath == null) {
      return "";
    }
    int end = -1;
    for (String segment : new String[] {RESPONSES, CONVERSATIONS, THREADS}) {
      int at = encodedPath.lastIndexOf(segment);
      while (at >= 0 && !isSegmentAt(encodedPath, at, segment)) {
        at = at == 0 ? -1 : encodedPath.lastIndexOf(segment, at - 1);
      }
      end = Math.max(end, at);
    }
    return end < 0 ? encodedPath : encodedPath.substring(0, end);
  }

  private static boolean isSegmentAt(String path, int at, String segment) {
    int after = at + segment.length();
    return after == path.length() || path.charAt(after) == '/';
  }

  /** {@code path} ends with {@code segment}, optionally followed by one slash. */
  private static boolean endsWithSegment(String path, String segment) {
    int end = path.endsWith("/") ? path.length() - 1 : path.length();
    return path.startsWith(segment, end - segment.length());
  }

  /** {@code path} has {@code segment} followed by a slash and at least one more character. */
  private static boolean containsParent(String path, String segment) {
    int at = path.indexOf(segment);
    while (at >= 0) {
      int next = at + segment.length();
      if (next + 1 < path.length() && path.charAt(next) == '/' && path.charAt(next + 1) != '/') {
        return true;
      }
      at = path.indexOf(segment, next);
    }
    return false;
  }
}
