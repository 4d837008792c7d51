package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import java.util.Locale;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Names the chain of a turn that failed without a repair, on the failure the caller gets. The
 * failure keeps its type and message (a {@code SocketTimeoutException} stays one); the note rides
 * along as a suppressed exception, so a logged stack trace says which chain the turn continued
 * and why nothing was repaired:
 *
 * <pre>{@code
 * com.openai.errors.OpenAIIoException: Stream failed
 * Caused by: java.io.IOException: unexpected end of stream
 *     Suppressed: io.github.affinity4j.core.ChainNote: affinity4j: chain response:resp_1 BROKE_OFF
 *         (see docs/repair.md#broke-off)
 * }</pre>
 *
 * <p>Read it as a value: {@link #find(Throwable)} returns the note on a failure or its causes, and
 * {@link #chain()}, {@link #reason()} and {@link #brokenBy()} say what happened. An error
 * <em>response</em> that reaches the caller carries the same as header {@value #HEADER}
 * ({@code REASON chain}, for example {@code REPAIR_FAILED response:resp_1}), and its message
 * says it too. The message is for people, short and stable in form, but only these values are a
 * contract.
 *
 * <p>The message holds the chain's id, the reason and a short detail, never content, headers or
 * cookie values. A note has no stack trace and takes no suppressed exceptions of its own, so it
 * is immutable and thread-safe.
 */
public final class ChainNote extends Exception {
  private static final long serialVersionUID = 1L;

  /**
   * The response header on an error that affinity4j passed on without repair, naming the reason
   * and the chain; a layer above (another interceptor, the SDK wrapper) knows from it that the
   * failure was judged already.
   */
  public static final String HEADER = "Affinity4j-Note";

  // Cause chains are short; a longer one is not searched further.
  private static final int MAX_DEPTH = 16;

  /** Why a turn on a chain failed without a repair. */
  public enum Reason {
    /** The failure is not a chain break (a rate limit, a bad request): nothing to repair. */
    NOT_A_BREAK,
    /** The request had its one repair already; a later failure passes on. */
    ALREADY_REPAIRED,
    /** The chain broke and could not be repaired: repair off, history missing, or the replay failed. */
    REPAIR_FAILED,
    /** The response failed after its first bytes reached the caller; such a failure is not repaired. */
    BROKE_OFF;

    /** The anchor of this reason in {@code docs/repair.md}. */
    String anchor() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  private final transient ChainKey chain;
  private final Reason reason;
  private final ChainBreak.@Nullable Kind brokenBy;
  private final String detail;

  private ChainNote(ChainKey chain, Reason reason, ChainBreak.@Nullable Kind brokenBy, String detail) {
    super(message(chain, reason, brokenBy, detail), null, false, false);
    this.chain = chain;
    this.reason = reason;
    this.brokenBy = brokenBy;
    this.detail = detail;
  }

  /**
   * Returns a note; for adapters and tests.
   *
   * @param chain the chain the turn continued
   * @param reason why it was not repaired
   * @param brokenBy the kind of break, if the chain broke
   * @param detail a short phrase for people, without content or secrets; may be empty
   * @throws NullPointerException if {@code chain}, {@code reason} or {@code detail} is null
   */
  public static ChainNote of(ChainKey chain, Reason reason, ChainBreak.@Nullable Kind brokenBy, String detail) {
    return new ChainNote(requireNonNull(chain, "chain"), requireNonNull(reason, "reason"), brokenBy,
        requireNonNull(detail, "detail"));
  }

  /** Returns the chain the failed turn continued. */
  public ChainKey chain() {
    return chain;
  }

  /** Returns why the turn was not repaired. */
  public Reason reason() {
    return reason;
  }

  /** Returns the kind of break, if the chain broke ({@link Reason#REPAIR_FAILED}). */
  public Optional<ChainBreak.Kind> brokenBy() {
    return Optional.ofNullable(brokenBy);
  }

  /** Returns the short detail: which step failed, for people. Not a contract. */
  public String detail() {
    return detail;
  }

  /** Returns the value of header {@value #HEADER} for this note: the reason and the chain. */
  public String headerValue() {
    return reason.name() + ' ' + chain;
  }

  /**
   * Returns the reason a {@value #HEADER} header value names, or null if it names none (absent, or
   * not written by affinity4j).
   */
  public static @Nullable Reason reasonIn(@Nullable String headerValue) {
    if (headerValue == null) {
      return null;
    }
    int space = headerValue.indexOf(' ');
    String name = space < 0 ? headerValue : headerValue.substring(0, space);
    for (Reason reason : Reason.values()) {
      if (reason.name().equals(name)) {
        return reason;
      }
    }
    return null;
  }

  /**
   * Returns whether a failure with this reason was judged for good: the layer that named it
   * tried, or had, its one repair, so no layer above repairs it again. A failure that was
   * {@link Reason#NOT_A_BREAK not a break} below may be one above (the layer above sent the pin).
   */
  public boolean isFinal() {
    return reason != Reason.NOT_A_BREAK;
  }

  /**
   * Returns the first note on {@code failure} or one of its causes, searched to a bounded depth;
   * empty if affinity4j named no chain there.
   *
   * @throws NullPointerException if {@code failure} is null
   */
  public static Optional<ChainNote> find(Throwable failure) {
    Throwable current = requireNonNull(failure, "failure");
    // The depth bound also ends a cause cycle.
    for (int depth = 0; current != null && depth < MAX_DEPTH; depth++) {
      if (current instanceof ChainNote note) {
        return Optional.of(note);
      }
      for (Throwable suppressed : current.getSuppressed()) {
        if (suppressed instanceof ChainNote note) {
          return Optional.of(note);
        }
      }
      current = current.getCause();
    }
    return Optional.empty();
  }

  /**
   * Adds this note to {@code failure} as a suppressed exception, unless {@code failure} or one of
   * its causes carries the same note already (a layer below named the chain, for the same reason).
   *
   * @return {@code failure}, for {@code throw note.attachTo(e)}
   * @throws NullPointerException if {@code failure} is null
   */
  public <T extends Throwable> T attachTo(T failure) {
    Throwable current = requireNonNull(failure, "failure");
    for (int depth = 0; current != null && depth < MAX_DEPTH; depth++) {
      for (Throwable suppressed : current.getSuppressed()) {
        if (suppressed instanceof ChainNote note && note.chain.equals(chain) && note.reason == reason) {
          return failure;
        }
      }
      current = current.getCause();
    }
    failure.addSuppressed(this);
    return failure;
  }

  private static String message(ChainKey chain, Reason reason, ChainBreak.@Nullable Kind brokenBy, String detail) {
    StringBuilder message = new StringBuilder("affinity4j: chain ").append(chain).append(' ').append(reason);
    if (brokenBy != null) {
      message.append(" after ").append(brokenBy);
    }
    if (!detail.isEmpty()) {
      message.append(": ").append(detail);
    }
    return message.append(" (see docs/repair.md#").append(reason.anchor()).append(')').toString();
  }
}
