package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.RoutingInfo;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One request and all its attempts, as the {@link Engine} runs it. The turn finds its chain and
 * pin when it is made; {@link #run} (or {@link #runAsync}) sends through the adapter's
 * {@link Transport}, and decides on each outcome: done, retry on the pin, replay the history
 * without it, or give the failure to the caller naming the chain. After a success the adapter
 * hands over the body: {@link #responseBody} for JSON, {@link #stream} for SSE, or
 * {@link #created} and {@link #completed} from a typed response. Binding, journaling and the rule
 * that a replayed chain does not inherit its stale pin are all here. Not API.
 *
 * <p>Not thread-safe: one turn per request, its calls one after another (they may come from
 * different threads, as an async call or a stream proceeds). Nothing here throws for bad data or a
 * failing store, journal or listener.
 */
public final class Turn {
  /** MDC key set to the chain key (for example {@code response:resp_…}) while a request runs. */
  public static final String MDC_CHAIN = "affinity4j.chain";

  private static final Logger logger = LoggerFactory.getLogger(Turn.class);
  private static final byte[] NO_BYTES = {};
  private static final String NEW_CHAIN = "a new chain";

  private final Engine engine;
  private final ChainScope scope;
  private final @Nullable ChainKey chain;
  private final @Nullable AffinityToken pin;
  private final @Nullable ChainTurn repair;
  private final boolean deletes;
  // A stateless request (store false, no previous_response_id or conversation): its output items
  // are bound, so that the request that sends them back finds their backend.
  private final boolean bindsItems;
  // The body a pinned attempt sends in place of the request's own: without reasoning another backend made.
  private final byte @Nullable [] pinnedBody;
  private final byte @Nullable [] conversationRequest;
  // The replay sent at once in place of the pinned request: its pin's backend was seen lost.
  private final byte @Nullable [] replayAtOnce;

  private @Nullable ChainKey previous;
  private @Nullable AffinityToken fresh;
  private boolean bound;

  Turn(Engine engine, ChainScope scope, String method, String scheme, String host, String encodedPath,
      byte @Nullable [] body, boolean callerPinned) {
    this.engine = engine;
    this.scope = scope;
    boolean keyInBody = body != null && TurnInput.hasBodyKey(method, encodedPath);
    this.repair = keyInBody && TurnInput.isTurn(method, encodedPath)
        ? engine.repairTurn(requireNonNull(body), null, scope) : null;
    this.conversationRequest = body != null && !keyInBody ? body : null;
    ChainKey key;
    if (repair != null) {
      key = repair.chain().orElse(null);
    } else if (keyInBody) { // compact, input_tokens: pinned like a turn, not journaled
      byte[] bytes = requireNonNull(body);
      key = TurnInput.fromRequestBody(bytes, 0, bytes.length).flatMap(TurnInput::chain)
          .map(k -> k.in(scope)).orElse(null);
    } else {
      key = body != null ? null : TurnInput.fromPath(encodedPath).map(k -> k.in(scope)).orElse(null);
    }
    this.deletes = "DELETE".equals(method) && key != null && key.kind() != ChainKey.Kind.THREAD
        && encodedPath.endsWith("/" + key.id());
    if (key != null && callerPinned) {
      logger.debug("Request for {} already carries an affinity cookie; left as the caller set it", key);
    }
    TurnInput stateless = repair != null && key == null ? StatelessChains.input(repair) : null;
    AffinityToken found = null;
    if (stateless != null) {
      Map.Entry<ChainKey, AffinityToken> hit = callerPinned ? null
          : StatelessChains.latestItemPin(engine, scope, stateless, scheme, host, encodedPath);
      if (hit != null) {
        key = hit.getKey();
        found = hit.getValue();
        requireNonNull(repair).continuesItem(key);
      }
    } else if (key != null && !callerPinned) {
      found = engine.registry().pinFor(key, scheme, host, encodedPath).orElse(null);
    }
    this.pin = found;
    this.chain = key;
    this.bindsItems = stateless != null;
    this.pinnedBody = found == null || stateless == null ? null
        : StatelessChains.withoutForeignReasoning(engine, scope, requireNonNull(body), stateless, found);
    if (repair != null) {
      repair.pinSent(pin);
    }
    this.replayAtOnce = found != null && repair != null && engine.lostPins().isLost(scope, found)
        ? repair.replayForLostPin() : null;
    this.previous = key;
  }

  /**
   * Returns the body a pinned attempt sends in place of the request's own, or null to send it as
   * made: a stateless request without the reasoning another backend made.
   */
  public byte @Nullable [] pinnedBody() {
    return pinnedBody == null ? null : pinnedBody.clone();
  }

  /** Returns the chain the request continues, in its scope; null for a new chain. */
  public @Nullable ChainKey chain() {
    return chain;
  }

  /** Returns the pin to send with the request ({@link AffinityToken#cookiePair()}); null for none. */
  public @Nullable AffinityToken pin() {
    return pin;
  }

  /** Puts the chain into the MDC until the returned scope closes; restores what was there. */
  public MdcScope inMdc() {
    if (chain == null) {
      return () -> { };
    }
    String outer = MDC.get(MDC_CHAIN);
    MDC.put(MDC_CHAIN, chain.toString());
    return () -> {
      if (outer == null) {
        MDC.remove(MDC_CHAIN);
      } else {
        MDC.put(MDC_CHAIN, outer);
      }
    };
  }

  /** An MDC entry's lifetime. */
  public interface MdcScope extends AutoCloseable {
    @Override
    void close();
  }

  // --- the loop ---

  /** What an attempt came to, as the adapter reads it. */
  public static final class Outcome {
    final boolean succeeded;
    final int status;
    final byte[] errorBody;
    final @Nullable AffinityToken fresh;
    final ChainNote.@Nullable Reason below;
    final @Nullable Throwable failure;
    final @Nullable Supplier<@Nullable RoutingInfo> routing;

    private Outcome(boolean succeeded, int status, byte[] errorBody, @Nullable AffinityToken fresh,
        ChainNote.@Nullable Reason below, @Nullable Throwable failure,
        @Nullable Supplier<@Nullable RoutingInfo> routing) {
      this.succeeded = succeeded;
      this.status = status;
      this.errorBody = errorBody;
      this.fresh = fresh;
      this.below = below;
      this.failure = failure;
      this.routing = routing;
    }

    /**
     * A 2xx response.
     *
     * @param fresh the affinity cookie it set, or null
     * @param routing its routing facts, read only if a repair completes
     */
    public static Outcome succeeded(@Nullable AffinityToken fresh, Supplier<@Nullable RoutingInfo> routing) {
      return new Outcome(true, 0, NO_BYTES, fresh, null, null, requireNonNull(routing, "routing"));
    }

    /**
     * An error response.
     *
     * @param status its HTTP status
     * @param errorBody its body, read to a bound (error bodies are small); empty if none
     * @param fresh the affinity cookie it set, or null
     * @param noteHeader its {@link ChainNote#HEADER} header, if a layer below named the chain
     */
    public static Outcome error(int status, byte[] errorBody, @Nullable AffinityToken fresh,
        @Nullable String noteHeader) {
      return new Outcome(false, status, requireNonNull(errorBody, "errorBody"), fresh,
          ChainNote.reasonIn(noteHeader), null, null);
    }

    /** A failure the turn does not judge (not HTTP, not I/O): given to the caller as it is. */
    public static Outcome notJudged() {
      return new Outcome(false, 0, NO_BYTES, null, null, null, null);
    }

    /** No response: the connection failed. */
    public static Outcome connectionFailed(Throwable failure) {
      return new Outcome(false, 0, NO_BYTES, null, ChainNote.find(failure).map(ChainNote::reason).orElse(null),
          failure, null);
    }
  }

  /** What an adapter does for the loop, whatever its request and response types. */
  public interface Attempts<R> {
    /** Reads what an attempt came to. */
    Outcome judge(R attempt);

    /** Releases an attempt that is not given to the caller (a retry or replay follows). */
    void discard(R attempt);

    /**
     * Returns what the caller gets for a failed attempt: unchanged for {@code NONE} without a
     * note; else with the decision's {@link RepairDecision#errorBody() error body} and
     * {@link RepairDecision#note() note} (as header {@link ChainNote#HEADER}, or attached to the
     * exception), or for a {@code FAIL} without a response an exception with its message.
     */
    R deliver(R attempt, RepairDecision decision);
  }

  /** Sends attempts one after another, on the caller's thread. */
  public interface Transport<R> extends Attempts<R> {
    /**
     * Sends the request: as the adapter made it, with {@link #pin()}, when {@code replayBody} is
     * null; else {@code replayBody} to the same URL without any affinity cookie. A connection
     * failure is an attempt too, never thrown.
     */
    R send(byte @Nullable [] replayBody);
  }

  /** Sends attempts without blocking a thread. */
  public interface AsyncTransport<R> extends Attempts<R> {
    /** As {@link Transport#send}, completing with the attempt; it never completes exceptionally. */
    CompletableFuture<R> send(byte @Nullable [] replayBody);
  }

  /**
   * Sends the request, and repairs a broken chain at most once, as the repair engine decides: a
   * retry on the same pin, then a replay without it. A break arrives before any byte of a stream,
   * so nothing has reached the caller when a repair starts. Returns the attempt the caller gets.
   */
  public <R> R run(Transport<R> transport) {
    byte[] replay = replayAtOnce;
    while (true) {
      R attempt = transport.send(replay);
      RepairDecision decision = decide(transport.judge(attempt));
      if (decision == null) {
        return attempt;
      }
      switch (decision.action()) {
        case RETRY:
          if (!pause(decision.pause())) {
            return transport.deliver(attempt, RepairDecision.NONE);
          }
          transport.discard(attempt);
          replay = null;
          break;
        case REPLAY:
          transport.discard(attempt);
          replay = decision.replayBody();
          break;
        default:
          return transport.deliver(attempt, decision);
      }
    }
  }

  /** {@link #run}, without blocking: a retry's pause is a delay, not a sleep. */
  public <R> CompletableFuture<R> runAsync(AsyncTransport<R> transport) {
    return attemptAsync(transport, replayAtOnce);
  }

  private <R> CompletableFuture<R> attemptAsync(AsyncTransport<R> transport, byte @Nullable [] replay) {
    return transport.send(replay).thenCompose(attempt -> {
      RepairDecision decision = decide(transport.judge(attempt));
      if (decision == null) {
        return CompletableFuture.completedFuture(attempt);
      }
      switch (decision.action()) {
        case RETRY:
          return CompletableFuture.runAsync(() -> transport.discard(attempt),
                  CompletableFuture.delayedExecutor(decision.pause().toMillis(), TimeUnit.MILLISECONDS))
              .thenCompose(ignored -> attemptAsync(transport, null));
        case REPLAY:
          transport.discard(attempt);
          return attemptAsync(transport, decision.replayBody());
        default:
          return CompletableFuture.completedFuture(transport.deliver(attempt, decision));
      }
    });
  }

  /** The decision on an outcome; null for a success, which is recorded here. */
  private @Nullable RepairDecision decide(Outcome outcome) {
    if (outcome.succeeded) {
      succeeded(outcome.fresh, requireNonNull(outcome.routing));
      return null;
    }
    ChainNote.Reason below = outcome.below;
    // A layer below (an interceptor under the SDK) had this request's one repair, or judged it
    // so: its verdict stands. One that found no break may be overruled: it sent no pin.
    boolean judgeable = outcome.failure != null || outcome.status != 0;
    if (repair == null || !judgeable) {
      return RepairDecision.NONE;
    }
    if (below != null && below != ChainNote.Reason.NOT_A_BREAK) {
      return namedBelow(below);
    }
    try {
      // Only an answer to the pinned request says something about the pin's backend.
      boolean pinned = pin != null && !repair.isReplay();
      boolean rerouted = false;
      RepairDecision decision;
      if (outcome.failure != null) {
        decision = repair.decideConnectionFailure();
      } else {
        AffinityToken set = outcome.fresh;
        // The gateway chose a backend anew when the error set another affinity cookie than the pin.
        rerouted = set != null && (pin == null || !set.value().equals(pin.value()));
        decision = repair.decide(outcome.status, outcome.errorBody, rerouted);
      }
      // A break on the pin, re-routed or with the backend unavailable, says the backend is gone;
      // another error (a 429 setting a cookie, say) says nothing of it, nor does a retry's decision.
      ChainBreak broke = decision.cause().orElse(null);
      if (pinned && broke != null && decision.action() != RepairDecision.Action.RETRY
          && (rerouted || broke.kind() == ChainBreak.Kind.BACKEND_UNAVAILABLE)) {
        engine.lostPins().lost(scope, requireNonNull(pin));
      }
      return below != null && decision.action() == RepairDecision.Action.NONE ? namedBelow(below) : decision;
    } catch (RuntimeException e) {
      logger.error("Repair skipped for {}: unexpected failure", describe(chain), e);
      return RepairDecision.NONE;
    }
  }

  /**
   * A failure a layer below named: passed on with the same note as a value (so an exception
   * carries it too), its body not amended a second time.
   */
  private RepairDecision namedBelow(ChainNote.Reason below) {
    return chain == null ? RepairDecision.NONE
        : RepairDecision.unrepaired(ChainNote.of(chain, below, null, "named below"), null);
  }

  private static boolean pause(Duration pause) {
    if (pause.isZero()) {
      return true;
    }
    try {
      Thread.sleep(pause.toMillis());
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      logger.debug("Interrupted while pausing before a retry; the failure passes on");
      return false;
    }
  }

  // --- after a success ---

  private void succeeded(@Nullable AffinityToken set, Supplier<@Nullable RoutingInfo> routing) {
    this.fresh = set;
    try {
      if (deletes && chain != null) {
        // The API deleted the chain: its pin and history go too, so continuing it fails as the API does.
        engine.forget(chain);
        bound = true;
        return;
      }
      LostPins lostPins = engine.lostPins();
      if (pin != null && (repair == null || !repair.isReplay())) {
        if (set != null && !set.value().equals(pin.value())) {
          lostPins.lost(scope, pin); // the gateway re-pinned the chain: its backend is gone
        } else {
          lostPins.answered(scope, pin);
        }
      }
      if (lostPins.any()) {
        lostPins.answeredFrom(scope, routing.get()); // a backend of that region answered
      }
      if (repair != null) {
        repair.succeeded(set, routing);
        if (repair.isReplay() && chain != null
            && (chain.kind() == ChainKey.Kind.RESPONSE || chain.kind() == ChainKey.Kind.ITEM)) {
          // After a replay the chain lives where the replay went: the stale pin must not be inherited.
          previous = null;
        }
      }
    } catch (RuntimeException e) {
      logger.error("Affinity not recorded for {}: unexpected failure", describe(chain), e);
    }
  }

  /**
   * Records a successful JSON response (or one without a body: {@code null}): binds the chain it
   * created to the pin, and journals the turn or the conversation it started.
   */
  public void responseBody(byte @Nullable [] body) {
    if (bound) {
      return;
    }
    try {
      if (body == null) {
        bind(null);
        return;
      }
      // A journaled turn keeps the body as received; its output is read only if a replay needs it.
      TurnOutput.Read read = journals() ? TurnOutput.readLazily(body, 0, body.length)
          : TurnOutput.read(body, 0, body.length, false);
      TurnOutput output = read.output();
      if (output != null) {
        record(output);
      }
      if (conversationRequest != null) {
        engine.recordConversation(conversationRequest, read.chain(), scope);
      }
      bind(read.chain());
    } catch (RuntimeException e) {
      logger.error("Affinity not recorded for {}: unexpected failure", describe(chain), e);
    }
  }

  /** Binds the chain a typed response created, by its id ({@code response.created} of a stream). */
  public void created(String responseId) {
    if (bound) {
      return;
    }
    try {
      bind(ChainKey.parse(ChainKey.Kind.RESPONSE, responseId).orElse(null));
    } catch (RuntimeException e) {
      logger.error("Affinity not recorded for {}: unexpected failure", describe(chain), e);
    }
  }

  /** Binds (if not yet) and journals a finished typed response. */
  public void completed(TurnOutput output) {
    created(output.responseId());
    record(output);
  }

  /**
   * Returns whether this request's output is journaled (a turn's, or a poll's of a background turn
   * waiting for it), so that an adapter may skip reading output.
   */
  public boolean journals() {
    return repair != null ? engine.journals() : engine.awaitsBackground(chain);
  }

  /**
   * Returns the watcher of a successful stream, fed with its bytes as the caller reads them: it
   * binds at {@code response.created} and journals at {@code response.completed}.
   */
  public StreamWatch stream() {
    return new StreamWatch(this::bind, journals() ? this::record : null, chain == null ? NEW_CHAIN : chain);
  }

  /** {@code failure}, after the response began (a stream cut), with the chain's note on it. */
  public <T extends Throwable> T brokeOff(T failure) {
    if (repair != null) {
      repair.brokeOff().ifPresent(note -> note.attachTo(failure));
    } else if (chain != null) {
      ChainNote.of(chain, ChainNote.Reason.BROKE_OFF, null, "").attachTo(failure);
    }
    return failure;
  }

  void bind(@Nullable ChainKey created) {
    bound = true;
    engine.registry().bind(created == null ? null : created.in(scope), previous, fresh);
  }

  void record(TurnOutput output) {
    if (bindsItems) {
      StatelessChains.bindItems(engine, scope, output, previous, fresh);
    }
    if (repair != null) {
      repair.record(output);
    } else if (chain != null) { // a poll of a background response
      engine.backgroundDone(chain, output);
    }
  }

  @Override
  public String toString() {
    return "Turn[chain=" + chain + ", pinned=" + (pin != null) + ']';
  }

  static String describe(@Nullable ChainKey key) {
    return key == null ? NEW_CHAIN : key.toString();
  }
}
