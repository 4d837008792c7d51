package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import org.jspecify.annotations.Nullable;

/**
 * Names the chain of a turn that failed without a repair, on the failure the caller gets. The
 * failure keeps its type and its message (a {@code SocketTimeoutException} stays one, and the
 * SDK's {@code OpenAIIoException} still wraps it); the note rides along as a suppressed exception,
 * so a logged stack trace shows which chain the turn continued and why nothing was repaired:
 *
 * <pre>{@code
 * com.openai.errors.OpenAIIoException: Stream failed
 * Caused by: java.io.IOException: unexpected end of stream
 *     Suppressed: io.github.affinity4j.core.ChainNote: affinity4j: turn on chain response:resp_1
 *         broke off after its response began; a response is not repaired once the caller has its
 *         first bytes
 * }</pre>
 *
 * <p>An error response that reaches the caller says the same in its message instead (see
 * {@link RepairDecision#errorBody()}). Adapters get notes from {@link RepairDecision#note()} and
 * {@link ChainTurn#brokeOff()} and add them with {@link #attachTo}.
 *
 * <p>The message holds the chain's id and the reason, never content, headers or cookie values.
 * A note has no stack trace and takes no suppressed exceptions of its own, so it is immutable
 * and thread-safe.
 */
public final class ChainNote extends Exception {
  private static final long serialVersionUID = 1L;

  /** How every note's message begins, and what an error body amended with one carries. */
  public static final String PREFIX = "affinity4j: turn on chain ";

  // Cause chains are short; a longer one is not searched further for an earlier note.
  private static final int MAX_DEPTH = 16;

  private final transient ChainKey chain;

  ChainNote(ChainKey chain, String reason) {
    super(PREFIX + requireNonNull(chain, "chain") + ' ' + requireNonNull(reason, "reason"), null, false, false);
    this.chain = chain;
  }

  /** Returns the chain the failed turn continued. */
  public ChainKey chain() {
    return chain;
  }

  /**
   * Adds this note to {@code failure} as a suppressed exception, unless {@code failure} or one of
   * its causes already names this chain (a note, or a message from affinity4j: a layer below
   * named it first).
   *
   * @return {@code failure}, for {@code throw note.attachTo(e)}
   * @throws NullPointerException if {@code failure} is null
   */
  public <T extends Throwable> T attachTo(T failure) {
    requireNonNull(failure, "failure");
    if (!namedIn(failure, chain)) {
      failure.addSuppressed(this);
    }
    return failure;
  }

  /**
   * Returns true if {@code failure}, one of its causes, or a note on one of them names
   * {@code chain} as affinity4j does: a {@link ChainNote}, or a message with this prefix or
   * {@link ChainTurn#REPAIR_FAILED_PREFIX} and the chain.
   */
  static boolean namedIn(Throwable failure, ChainKey chain) {
    Throwable current = failure;
    // The depth bound also ends a cause cycle.
    for (int depth = 0; current != null && depth < MAX_DEPTH; depth++) {
      if (names(current.getMessage(), chain)) {
        return true;
      }
      for (Throwable suppressed : current.getSuppressed()) {
        if (suppressed instanceof ChainNote note && note.chain.equals(chain)) {
          return true;
        }
      }
      current = current.getCause();
    }
    return false;
  }

  /** True if {@code message} is, or carries, affinity4j's words about {@code chain}. */
  static boolean names(@Nullable String message, ChainKey chain) {
    if (message == null) {
      return false;
    }
    String named = chain.toString();
    return contains(message, PREFIX + named) || contains(message, ChainTurn.REPAIR_FAILED_PREFIX + " chain " + named);
  }

  /**
   * True if {@code text} holds {@code words} where they end (affinity4j puts a space after a
   * chain's name): {@code response:resp_1} is not named by {@code response:resp_10}.
   */
  private static boolean contains(String text, String words) {
    for (int at = text.indexOf(words); at >= 0; at = text.indexOf(words, at + 1)) {
      int end = at + words.length();
      if (end == text.length() || text.charAt(end) == ' ') {
        return true;
      }
    }
    return false;
  }
}
