package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainBreak.Kind;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote.Reason;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RoutingInfo;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The repair side of one {@code POST …/responses} request, inside its {@link Turn}: decides what
 * to do when an attempt fails (retry on the pin, replay the history without it, fail, or pass on
 * naming the chain), and journals the turn when it succeeds. A turn allows one retry and one
 * replay at most, in that order; under {@link RepairPolicy#RETRY_THEN_REPLAY} a first connection
 * failure is sent once more at once before it counts as a break. Made by
 * {@link Engine#repairTurn}; driven by {@link Turn} only.
 *
 * <p>Not thread-safe: a turn belongs to one request, and its calls must not overlap (they may come
 * from different threads, one after another, as a stream is read).
 */
final class ChainTurn {

  private static final Logger logger = LoggerFactory.getLogger(ChainTurn.class);


  // Error bodies are small; a larger one is passed on as it is rather than rewritten.
  private static final int MAX_AMENDED_BODY = 64 * 1024;

  private enum State { SENT, RETRYING, REPLAYING, SUCCEEDED, FAILED }

  private final Engine repairer;
  private final byte[] body;
  private final @Nullable TurnInput input;
  private @Nullable AffinityToken pin;
  private @Nullable ChainKey chain;
  private final ChainScope scope;

  private State state = State.SENT;
  // Set by broke(), which every retry, replay and failed repair follows.
  private @Nullable ChainBreak cause;
  private @Nullable Instant brokeAt;
  private boolean replayed;
  private int itemsReplayed;
  private int reasoningLeftOut;
  private long replayBytes;
  private boolean recorded;
  private boolean connectionRetried;

  ChainTurn(Engine repairer, byte[] body, @Nullable TurnInput input, @Nullable AffinityToken pin,
      ChainScope scope) {
    this.repairer = repairer;
    this.body = body;
    this.input = input;
    this.pin = pin;
    this.scope = scope;
    this.chain = input == null ? null : input.chain().map(key -> key.in(scope)).orElse(null);
  }

  /**
   * Sets the pin sent with this attempt, for an adapter that looks the pin up by {@link #chain()}
   * after making the turn (so the body is parsed once). Call it before the request is sent.
   */
  public void pinSent(@Nullable AffinityToken pin) {
    this.pin = pin;
  }

  /**
   * Sets the stateless chain the request continues: the item of an earlier {@code store: false}
   * response that its input sends back. Its history is the request's own input.
   */
  void continuesItem(ChainKey item) {
    this.chain = item;
  }

  /**
   * Returns the chain the request continues, in the turn's scope; empty for a new chain or an
   * unreadable body.
   */
  public Optional<ChainKey> chain() {
    return Optional.ofNullable(chain);
  }

  /** Returns what the request body says, or empty if it could not be read as a JSON request. */
  public Optional<TurnInput> input() {
    return Optional.ofNullable(input);
  }

  /** Returns true once this turn has decided on a replay: the response now comes from the replay. */
  public boolean isReplay() {
    return replayed;
  }

  /**
   * Decides what to do with an error response: the original's, the retry's or the replay's.
   *
   * @param status the HTTP status; a 2xx status gives {@code NONE}
   * @param errorBody the response body, as much as was read; empty if none
   * @throws NullPointerException if {@code errorBody} is null
   */
  public RepairDecision decide(int status, byte[] errorBody) {
    return decide(status, errorBody, false);
  }

  /**
   * Decides what to do with an error response, knowing whether the gateway re-routed the request:
   * the error set a new affinity cookie, other than the pin sent. Then a retry on the old pin
   * would only be re-routed again, so a not-found goes straight to the replay.
   *
   * @param status the HTTP status; a 2xx status gives {@code NONE}
   * @param errorBody the response body, as much as was read; empty if none
   * @param rerouted whether the error response set an affinity cookie other than the pin sent
   * @throws NullPointerException if {@code errorBody} is null
   */
  public RepairDecision decide(int status, byte[] errorBody, boolean rerouted) {
    requireNonNull(errorBody, "errorBody");
    if (input == null || (status >= 200 && status < 300)) {
      return RepairDecision.NONE;
    }
    switch (state) {
      case SENT: {
        Optional<ChainBreak> broke = ChainBreaks.classify(status, errorBody, 0, errorBody.length, input,
            pin != null, repairer.gatewayFailures());
        return broke.isEmpty() ? unrepaired(Reason.NOT_A_BREAK, "HTTP " + status, errorBody)
            : broke(broke.get(), errorBody, rerouted);
      }
      case RETRYING: {
        Optional<ChainBreak> broke = ChainBreaks.classify(status, errorBody, 0, errorBody.length, input,
            pin != null, repairer.gatewayFailures());
        if (broke.isEmpty()) {
          return fail("the retry answered HTTP " + status, errorBody);
        }
        return replay(errorBody);
      }
      case REPLAYING:
        return fail("the replay answered HTTP " + status, errorBody);
      default:
        logger.debug("{} already had its repair; HTTP {} passed on", describeChain(), status);
        return unrepaired(Reason.ALREADY_REPAIRED, "HTTP " + status, errorBody);
    }
  }

  /**
   * Decides what to do when the request got no response: a connection failure. Only a request
   * that continued a pinned chain is repaired: its backend may be gone.
   */
  public RepairDecision decideConnectionFailure() {
    if (input == null) {
      return RepairDecision.NONE;
    }
    switch (state) {
      case SENT: {
        Optional<ChainBreak> broke = ChainBreaks.classifyConnectionFailure(input, pin != null);
        if (broke.isEmpty()) {
          return unrepaired(Reason.NOT_A_BREAK, "connection failed, no pin sent", null);
        }
        if (repairer.policy() == RepairPolicy.RETRY_THEN_REPLAY && !connectionRetried) {
          // The pooled connection may have been closed under the request (the SDK turns OkHttp's
          // own retry off and retries whole calls instead): that says nothing about the backend.
          // One more attempt, at once, on a new connection; not a break until it fails too.
          connectionRetried = true;
          logger.debug("{}: connection failed; sending once more on the same pin", describeChain());
          return RepairDecision.retry(broke.get(), Duration.ZERO);
        }
        return broke(broke.get(), null, false);
      }
      case RETRYING:
        return replay(null);
      case REPLAYING:
        return fail("the replay's connection failed", null);
      default:
        return unrepaired(Reason.ALREADY_REPAIRED, "connection failed", null);
    }
  }

  /**
   * Returns the note for a failure after this turn's response began (a stream cut mid-way): it
   * names the chain, and says that such a failure is not repaired. Empty for a turn that
   * continued no chain. Attach it ({@link ChainNote#attachTo}) to the exception the caller gets.
   */
  public Optional<ChainNote> brokeOff() {
    return chain == null ? Optional.empty() : Optional.of(ChainNote.of(chain, Reason.BROKE_OFF, null, ""));
  }

  /**
   * Reports a 2xx response. If a retry or replay was under way, the chain is repaired: counted, and
   * reported to the listener with the old and new pins.
   *
   * @param fresh the affinity cookie the response set, or null if it set none
   * @param routing the response's routing facts; null counts as {@link RoutingInfo#EMPTY}
   */
  public void succeeded(@Nullable AffinityToken fresh, @Nullable RoutingInfo routing) {
    succeeded(fresh, () -> routing);
  }

  /**
   * Reports a 2xx response, as {@link #succeeded(AffinityToken, RoutingInfo)} does, reading its
   * routing facts only if a repair completes: most turns need none.
   *
   * @param fresh the affinity cookie the response set, or null if it set none
   * @param routing gives the response's routing facts; a null result counts as {@link RoutingInfo#EMPTY}
   * @throws NullPointerException if {@code routing} is null
   */
  public void succeeded(@Nullable AffinityToken fresh, Supplier<@Nullable RoutingInfo> routing) {
    requireNonNull(routing, "routing");
    if (state != State.RETRYING && state != State.REPLAYING) {
      return;
    }
    boolean byReplay = state == State.REPLAYING;
    state = State.SUCCEEDED;
    repairer.countSucceeded();
    logger.debug("{} repaired by {}", describeChain(), byReplay ? "replay" : "retry");
    if (repairer.listening()) {
      Duration elapsed = Duration.between(requireNonNull(brokeAt), repairer.clock().instant());
      ChainRepair repair = new ChainRepair(chain, breakUnderRepair(), byReplay, pin, fresh, routing.get(),
          byReplay ? itemsReplayed : 0, byReplay ? replayBytes : 0,
          elapsed.isNegative() ? Duration.ZERO : elapsed, byReplay ? reasoningLeftOut : 0);
      repairer.notify("repaired", listener -> listener.repaired(repair));
    }
  }

  /**
   * Journals the turn: its input items and the response's output items, linked to the turn before
   * (after a replay, to the chain it repaired, so the history stays whole). Call it once, when the
   * output is known; later calls do nothing. Not journaled: a response that is not finished
   * ({@link TurnOutput#isContinuable()}), and one made with {@code store: false} outside a
   * conversation, since nothing can continue it.
   *
   * @throws NullPointerException if {@code output} is null
   */
  public void record(TurnOutput output) {
    requireNonNull(output, "output");
    if (input == null || recorded || !repairer.journals()) {
      return;
    }
    String conversation = input.conversationId().orElse(null);
    if (!input.store() && conversation == null) {
      logger.debug("Response {} was made with store false; not journaled, nothing can continue it",
          output.responseId());
      return;
    }
    // After a replay too, the logical parent is what the request continued: the old chain's last
    // response, or the conversation's latest turn; so the new id takes over a whole history.
    String previous = input.previousResponseId().orElse(null);
    if (!output.isContinuable()) {
      if (output.isPending()) {
        // A background response: its output comes on a poll; the turn waits for it there.
        recorded = true;
        repairer.awaitBackground(new BackgroundTurns.Pending(scope, output.responseId(), previous, conversation,
            input.itemSource()));
      }
      logger.debug("Response {} is {}; not journaled yet", output.responseId(), output.status().orElse(null));
      return;
    }
    recorded = true;
    // Kept as received: the items are read out of the bodies only if a replay (or a journal that
    // stores them apart) asks for them.
    JournalTurn turn = JournalTurn.received(scope, output.responseId(), previous, conversation,
        input.itemSource(), output.itemSource());
    try {
      repairer.journal().record(turn);
    } catch (Exception e) {
      repairer.journalFailed("record", turn.key(), e);
      return;
    }
    logger.debug("Turn {} journaled after {} ({} bytes)", output.responseId(),
        previous != null ? previous : conversation != null ? "conversation " + conversation : "no turn (a new chain)",
        turn.bytes());
  }

  @Override
  public String toString() {
    return "ChainTurn[chain=" + chain + ", state=" + state + (cause == null ? "" : ", cause=" + cause) + ']';
  }

  private RepairDecision broke(ChainBreak broke, byte @Nullable [] errorBody, boolean rerouted) {
    cause = broke;
    brokeAt = repairer.clock().instant();
    repairer.countBreak(broke.kind());
    logger.debug("{} broke: {}", describeChain(), broke.describe());
    RepairPolicy policy = repairer.policy();
    if (policy == RepairPolicy.FAIL) {
      return fail("repair is off", errorBody);
    }
    if (policy == RepairPolicy.RETRY_THEN_REPLAY && !rerouted
        && (broke.kind() == Kind.PREVIOUS_RESPONSE_NOT_FOUND || broke.kind() == Kind.CONVERSATION_NOT_FOUND)) {
      state = State.RETRYING;
      started();
      repairer.countRetry();
      logger.debug("{}: retrying once on the same pin after {} ms", describeChain(),
          repairer.retryPause().toMillis());
      return RepairDecision.retry(broke, repairer.retryPause());
    }
    return replay(errorBody);
  }

  private RepairDecision replay(byte @Nullable [] errorBody) {
    ReplayPlanner.Plan plan;
    try {
      plan = plan();
    } catch (PlanFailed e) {
      return fail(e.detail, errorBody);
    }
    return replayWith(plan);
  }

  private RepairDecision replayWith(ReplayPlanner.Plan plan) {
    byte[] replayBody = requireNonNull(plan.body);
    if (state == State.SENT) {
      started();
    }
    state = State.REPLAYING;
    replayed = true;
    itemsReplayed = plan.itemsReplayed;
    reasoningLeftOut = plan.reasoningLeftOut;
    repairer.countReasoningLeftOut(plan.reasoningLeftOut);
    replayBytes = replayBody.length;
    repairer.countReplay();
    logger.debug("{}: replaying {} items of history ({} left out) in {} bytes, without the pin",
        describeChain(), plan.itemsReplayed, plan.itemsDropped, replayBody.length);
    return RepairDecision.replay(breakUnderRepair(), replayBody, plan.itemsReplayed, plan.itemsDropped);
  }

  /**
   * Returns the replay to send at once in place of the pinned request, its pin's backend already
   * seen lost by another request ({@link LostPins}): a break of kind
   * {@link Kind#BACKEND_UNAVAILABLE} with status 0, repaired by replay. Null to send on the pin as
   * usual: repair is off, or there is no history to replay (the backend may be back).
   */
  byte @Nullable [] replayForLostPin() {
    if (input == null || state != State.SENT || repairer.policy() == RepairPolicy.FAIL) {
      return null;
    }
    ReplayPlanner.Plan plan;
    try {
      plan = plan();
    } catch (PlanFailed e) {
      logger.debug("{}: pin seen lost, but no replay ({}); sent on the pin", describeChain(), e.detail);
      return null;
    }
    cause = new ChainBreak(Kind.BACKEND_UNAVAILABLE, 0, null, null);
    brokeAt = repairer.clock().instant();
    repairer.countBreak(Kind.BACKEND_UNAVAILABLE);
    logger.debug("{}: its pin's backend was seen lost; replaying at once", describeChain());
    return replayWith(plan).replayBody();
  }

  /** The replay of this request: its body with the chain's history; a failure says why there is none. */
  private ReplayPlanner.Plan plan() throws PlanFailed {
    List<byte[]> history = List.of();
    if (chain != null && chain.kind() != ChainKey.Kind.ITEM) { // a stateless request sends its own history
      ChainHistory found;
      try {
        found = repairer.journal().history(chain);
      } catch (Exception e) {
        repairer.journalFailed("history", chain, e);
        throw new PlanFailed("the journal threw " + e.getClass().getSimpleName());
      }
      if (found == null || !found.isComplete()) {
        throw new PlanFailed(missing(chain, found));
      }
      history = found.segments();
    }
    ReplayPlanner.Plan plan = ReplayPlanner.plan(body, history);
    if (plan.body == null) { // no plan: its failure says why
      throw new PlanFailed("no replay: " + plan.failure);
    }
    return plan;
  }

  /** Why a request has no replay; a control-flow signal within this class, without a stack trace. */
  private static final class PlanFailed extends Exception {
    private static final long serialVersionUID = 1L;
    final String detail;

    PlanFailed(String detail) {
      super(detail, null, false, false);
      this.detail = detail;
    }
  }

  private void started() {
    repairer.countStarted();
    ChainBreak broke = breakUnderRepair();
    repairer.notify("repairStarted", listener -> listener.repairStarted(chain, broke));
  }

  private RepairDecision fail(String detail, byte @Nullable [] errorBody) {
    state = State.FAILED;
    repairer.countFailed();
    ChainBreak broke = breakUnderRepair();
    ChainNote note = chain == null ? null : ChainNote.of(chain, Reason.REPAIR_FAILED, broke.kind(), detail);
    String message = RepairDecision.failMessage(broke, note);
    logger.debug("{}", message);
    repairer.notify("repairFailed", listener -> listener.repairFailed(chain, broke, message));
    return RepairDecision.fail(broke, note, amend(errorBody, message));
  }

  /** Nothing to repair: the failure goes to the caller naming the chain, in its body and a note. */
  private RepairDecision unrepaired(Reason reason, String detail, byte @Nullable [] errorBody) {
    if (chain == null) {
      return RepairDecision.NONE;
    }
    ChainNote note = ChainNote.of(chain, reason, null, detail);
    return RepairDecision.unrepaired(note, amend(errorBody, RepairDecision.messageOf(note)));
  }

  /** Why the history of {@code chain} cannot be replayed, in a few words; ids and counts only. */
  private static String missing(ChainKey chain, @Nullable ChainHistory history) {
    if (history == null) {
      return "no history";
    }
    if (chain.kind() == ChainKey.Kind.THREAD) {
      return "threads are not journaled";
    }
    switch (history.status()) {
      case UNAVAILABLE:
        return "journal unavailable";
      case TOO_LARGE:
        return "history over the journal's bound at " + history.link().map(ChainKey::toString).orElse("a turn");
      default:
        return "history incomplete at " + history.link().orElse(chain) + " (" + history.turns() + " turns found)";
    }
  }

  /** The break this turn is repairing: set by {@link #broke}, which every repair step follows. */
  private ChainBreak breakUnderRepair() {
    return requireNonNull(cause, "no chain break yet");
  }


  private String describeChain() {
    return chain == null ? "the request" : "chain " + chain;
  }

  /**
   * The error body with {@code message} appended to its message, or set as an {@code affinity4j}
   * field beside the others if it has none (the SDK then shows the error's JSON); null if it is
   * not a JSON object.
   */
  private static byte @Nullable [] amend(byte @Nullable [] errorBody, String message) {
    if (errorBody == null || errorBody.length == 0 || errorBody.length > MAX_AMENDED_BODY) {
      return null;
    }
    try {
      if (!(Json.MAPPER.readTree(errorBody) instanceof ObjectNode root)) {
        return null;
      }
      ObjectNode target = root.get("error") instanceof ObjectNode error ? error : root;
      JsonNode original = target.get("message");
      if (original != null && original.isTextual()) {
        target.put("message", original.asText() + " (" + message + ")");
      } else {
        target.put("affinity4j", message);
      }
      return Json.MAPPER.writeValueAsBytes(root);
    } catch (IOException e) {
      return null;
    }
  }
}
