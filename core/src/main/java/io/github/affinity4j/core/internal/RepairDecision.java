package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainNote;
import java.time.Duration;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * What an adapter does with a failed request, as a {@link ChainTurn} decides it.
 *
 * <pre>{@code
 * RepairDecision decision = turn.decide(response.code(), errorBytes);
 * switch (decision.action()) {
 *   case NONE -> { return response, with decision.errorBody() if present }  // not a break
 *   case RETRY -> { sleep(decision.pause()); resend the same request, same pin; decide again }
 *   case REPLAY -> { send decision.replayBody() without the pin; decide again if it fails }
 *   case FAIL -> { return the response with decision.errorBody() if present }
 * }
 * }</pre>
 *
 * <p>Immutable and thread-safe. {@link #toString()} shows the action, cause and message, never
 * the replay body.
 */
public final class RepairDecision {

  /** What to do. */
  public enum Action {
    /**
     * Nothing to repair: the failure is not a chain break, or this request has had its one
     * repair. Pass the failure on, naming the chain if the request continued one: the response
     * with {@link #errorBody()} in place of its body if present, or the exception with
     * {@link #note()} attached.
     */
    NONE,
    /** Wait {@link #pause()}, then send the same request again, with the same pin. */
    RETRY,
    /** Send {@link #replayBody()} instead, to the same URL, without the stale pin. */
    REPLAY,
    /** Give up: return the error, with {@link #errorBody()} if present; {@link #message()} says why. */
    FAIL
  }

  /** Nothing to repair, and no chain to name: pass the response or the exception on unchanged. */
  public static final RepairDecision NONE = new RepairDecision(Action.NONE, null, Duration.ZERO, null, 0, 0,
      "not a chain break, or already repaired once", null, null);

  private final Action action;
  private final @Nullable ChainBreak cause;
  private final Duration pause;
  private final byte @Nullable [] replayBody;
  private final int itemsReplayed;
  private final int itemsDropped;
  private final String message;
  private final byte @Nullable [] errorBody;
  private final @Nullable ChainNote note;

  private RepairDecision(Action action, @Nullable ChainBreak cause, Duration pause,
      byte @Nullable [] replayBody, int itemsReplayed, int itemsDropped, String message,
      byte @Nullable [] errorBody, @Nullable ChainNote note) {
    this.action = action;
    this.cause = cause;
    this.pause = pause;
    this.replayBody = replayBody;
    this.itemsReplayed = itemsReplayed;
    this.itemsDropped = itemsDropped;
    this.message = message;
    this.errorBody = errorBody;
    this.note = note;
  }

  static RepairDecision retry(ChainBreak cause, Duration pause) {
    return new RepairDecision(Action.RETRY, requireNonNull(cause), pause, null, 0, 0,
        "retry on the same pin after " + pause.toMillis() + " ms", null, null);
  }

  static RepairDecision replay(ChainBreak cause, byte[] body, int itemsReplayed, int itemsDropped) {
    return new RepairDecision(Action.REPLAY, requireNonNull(cause), Duration.ZERO, body, itemsReplayed,
        itemsDropped, "replay " + itemsReplayed + " items of history in " + body.length + " bytes", null, null);
  }

  /** The repair failed: the caller gets the error, naming the chain ({@code note}) and why. */
  static RepairDecision fail(ChainBreak cause, @Nullable ChainNote note, byte @Nullable [] errorBody) {
    return new RepairDecision(Action.FAIL, requireNonNull(cause), Duration.ZERO, null, 0, 0,
        failMessage(cause, note), errorBody, note);
  }

  /** The message of a failed repair: its note's, or, for a request that continued no chain, the kind. */
  static String failMessage(ChainBreak cause, @Nullable ChainNote note) {
    return note != null ? messageOf(note) : "affinity4j: repair failed after " + cause.kind();
  }

  /** Nothing to repair on a turn that continued a chain: the failure goes on, naming it. */
  static RepairDecision unrepaired(ChainNote note, byte @Nullable [] errorBody) {
    return new RepairDecision(Action.NONE, null, Duration.ZERO, null, 0, 0, messageOf(note), errorBody, note);
  }

  static String messageOf(ChainNote note) {
    // A note always has a message (it makes one); Throwable's may be null.
    return requireNonNull(note.getMessage());
  }

  /** Returns what to do. */
  public Action action() {
    return action;
  }

  /** Returns the break being repaired; empty for {@link Action#NONE}. */
  public Optional<ChainBreak> cause() {
    return Optional.ofNullable(cause);
  }

  /** Returns how long to wait before a {@link Action#RETRY}; zero otherwise. */
  public Duration pause() {
    return pause;
  }

  /**
   * Returns the body to send for a {@link Action#REPLAY}: a fresh copy on each call. It holds the
   * conversation's content: never log it.
   *
   * @throws IllegalStateException if the action is not {@link Action#REPLAY}
   */
  public byte[] replayBody() {
    if (replayBody == null) {
      throw new IllegalStateException("Only a REPLAY decision has a replay body; this one is " + action);
    }
    return replayBody.clone();
  }

  /** Returns the size of the replay body, in bytes; 0 unless the action is {@link Action#REPLAY}. */
  public int replayBytes() {
    return replayBody == null ? 0 : replayBody.length;
  }

  /** Returns how many items of the chain's history the replay sends; 0 unless {@link Action#REPLAY}. */
  public int itemsReplayed() {
    return itemsReplayed;
  }

  /**
   * Returns how many items the replay leaves out: reasoning without {@code encrypted_content}, and
   * tool calls no output answers. 0 unless {@link Action#REPLAY}.
   */
  public int itemsDropped() {
    return itemsDropped;
  }

  /**
   * Returns what the decision means, in one line: for {@link Action#FAIL} and a named
   * {@link Action#NONE}, the note's message (the chain, the reason, a docs anchor). Ids, never
   * content.
   */
  public String message() {
    return message;
  }

  /**
   * Returns the error body to give the caller instead of the one received: the same JSON with
   * {@link #message()} appended, in parentheses, to its message (for an error with no message,
   * in an {@code affinity4j} field beside the others). Present for a {@link Action#FAIL}, and
   * for a {@link Action#NONE} on a turn that continued a chain, unless there was no body (a
   * connection failure) or it was not a JSON object. A fresh copy on each call.
   */
  public Optional<byte[]> errorBody() {
    return errorBody == null ? Optional.empty() : Optional.of(errorBody.clone());
  }

  /**
   * Returns, for a {@link Action#FAIL} or a {@link Action#NONE} on a turn that continued a chain,
   * the note that names the chain and why nothing was repaired: attach it
   * ({@link ChainNote#attachTo}) to the exception the caller gets, and set its
   * {@link ChainNote#HEADER header} on the error response. Empty otherwise.
   */
  public Optional<ChainNote> note() {
    return Optional.ofNullable(note);
  }

  @Override
  public String toString() {
    return "RepairDecision[" + action + (cause == null ? "" : ", cause=" + cause) + ", " + message + ']';
  }
}
