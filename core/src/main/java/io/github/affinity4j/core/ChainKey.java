package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.internal.Names;
import java.util.Locale;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Names one link of a chain that lives on one backend: a response, a conversation or an
 * Assistants thread.
 *
 * <p>Ids come from request and response bodies, so they are untrusted. The constructor accepts
 * only 1 to {@value #MAX_ID_LENGTH} printable ASCII characters without spaces, which covers every
 * id OpenAI issues ({@code resp_…}, {@code conv_…}, {@code thread_…}) and keeps junk out of the
 * store. Use {@link #parse(Kind, String)} for input that may be junk.
 *
 * <pre>{@code
 * ChainKey key = ChainKey.response("resp_68af...");
 * Optional<ChainKey> maybe = ChainKey.parse(ChainKey.Kind.CONVERSATION, untrusted);
 * }</pre>
 *
 * <p>A key belongs to a {@link ChainScope}: the origin and identity it was learned from. Stores and
 * journals keep keys of different scopes apart, so an id, which is not a secret, unlocks nothing
 * from another gateway or credential. Keys made without a scope have {@link ChainScope#NONE}; an
 * adapter scopes each key it reads from a request with {@link #in(ChainScope)}.
 *
 * <p>Immutable and thread-safe. Ids are not secrets and may be logged.
 *
 * @param kind what the id names
 * @param id the id as the API issued it
 * @param scope whom the chain belongs to
 */
public record ChainKey(Kind kind, String id, ChainScope scope) {

  /** The longest id accepted. OpenAI ids are about 60 characters. */
  public static final int MAX_ID_LENGTH = 256;

  /** What a chain key names. */
  public enum Kind {
    /** A response, continued with {@code previous_response_id}. */
    RESPONSE,
    /** A conversation, continued with {@code conversation}; it follows its latest backend. */
    CONVERSATION,
    /** An Assistants thread, continued under {@code /threads/{id}}; it follows its latest backend. */
    THREAD,
    /**
     * An output item (reasoning, message, function call) of a {@code store: false} response, sent
     * back in a later request's {@code input}: it names a stateless chain and its backend.
     */
    ITEM;

    // A key's toString starts with it; made once, as a key is shown on every request (the MDC).
    private final String prefix = name().toLowerCase(Locale.ROOT) + ':';
  }

  /**
   * Creates a key.
   *
   * @throws NullPointerException if {@code kind} or {@code scope} is null
   * @throws IllegalArgumentException if {@code id} is not valid (see {@link #isValidId(String)})
   */
  public ChainKey {
    requireNonNull(kind, "kind");
    requireNonNull(scope, "scope");
    if (!isValidId(id)) {
      throw new IllegalArgumentException(
          "A chain id must be 1 to " + MAX_ID_LENGTH + " printable ASCII characters without spaces, "
              + "got " + Names.describe(id) + "; use ChainKey.parse(...) for untrusted input");
    }
  }

  /**
   * Creates a key without a scope ({@link ChainScope#NONE}).
   *
   * @throws NullPointerException if {@code kind} is null
   * @throws IllegalArgumentException if {@code id} is not valid (see {@link #isValidId(String)})
   */
  public ChainKey(Kind kind, String id) {
    this(kind, id, ChainScope.NONE);
  }

  /** Returns this key in {@code scope}: the same kind and id, kept apart from other scopes. */
  public ChainKey in(ChainScope scope) {
    return scope.equals(this.scope) ? this : new ChainKey(kind, id, scope);
  }

  /**
   * Returns a key for a response id.
   *
   * @throws IllegalArgumentException if {@code id} is not valid
   */
  public static ChainKey response(String id) {
    return new ChainKey(Kind.RESPONSE, id);
  }

  /**
   * Returns a key for a conversation id.
   *
   * @throws IllegalArgumentException if {@code id} is not valid
   */
  public static ChainKey conversation(String id) {
    return new ChainKey(Kind.CONVERSATION, id);
  }

  /**
   * Returns the key of an output item of a stateless chain, e.g. {@code item:msg_1}, unscoped.
   *
   * @throws IllegalArgumentException if {@code id} is not a valid id
   */
  public static ChainKey item(String id) {
    return new ChainKey(Kind.ITEM, id);
  }

  /**
   * Returns a key for an Assistants thread id.
   *
   * @throws IllegalArgumentException if {@code id} is not valid
   */
  public static ChainKey thread(String id) {
    return new ChainKey(Kind.THREAD, id);
  }

  /**
   * Returns a key for untrusted input, or empty if {@code id} is null or not valid. Never throws
   * for bad data.
   *
   * @throws NullPointerException if {@code kind} is null
   */
  public static Optional<ChainKey> parse(Kind kind, @Nullable String id) {
    requireNonNull(kind, "kind");
    return id != null && isValidId(id) ? Optional.of(new ChainKey(kind, id)) : Optional.empty();
  }

  /**
   * Returns true if {@code id} is 1 to {@value #MAX_ID_LENGTH} characters, each printable ASCII
   * other than space ({@code 0x21} to {@code 0x7E}).
   */
  public static boolean isValidId(@Nullable String id) {
    if (id == null || id.isEmpty() || id.length() > MAX_ID_LENGTH) {
      return false;
    }
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      if (c < 0x21 || c > 0x7E) {
        return false;
      }
    }
    return true;
  }

  /** Returns {@code kind:id}, e.g. {@code response:resp_1}, for logs; the scope is not shown. */
  @Override
  public String toString() {
    return kind.prefix + id;
  }

}
