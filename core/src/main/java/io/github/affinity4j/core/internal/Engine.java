package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainBreak.Kind;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one engine behind every adapter, with its settings declared once, in its builder. It keeps
 * pins per chain ({@link ChainRegistry}, over the {@link AffinityStore}) and every turn in the
 * {@link HistoryJournal}, and counts and reports repairs. An adapter asks it for a {@link Turn}
 * per request and does the I/O the turn asks for; every rule about pins, binding, journaling,
 * retry and replay lives in the turn and here. Not API.
 *
 * <pre>{@code
 * Engine engine = Engine.builder().cookieNames("SessionId").build();
 * Turn turn = engine.turn(scope, "POST", "https", host, path, body, callerPinned);
 * R response = turn.run(transport);      // sends, retries, replays as the turn decides
 * turn.responseBody(bytes);              // or turn.stream() for SSE: binds and journals
 * }</pre>
 *
 * <p>Thread-safe, as long as the store, journal and listener are. Nothing here throws for bad
 * data, a failing journal or a failing listener: those are logged at WARN (the journal's and
 * listener's) or DEBUG (bad data), and the request goes on without repair. DEBUG lines name
 * chains, kinds of break, counts and sizes, never the conversation's content.
 */
public final class Engine {

  /**
   * The default pause before retrying a not-found on the same pin: 500 ms. Azure's intermittent
   * {@code previous_response_not_found} comes right after the response was created and is gone on
   * a retry moments later; half a second is short next to a model's answer, and the retry is
   * skipped for the breaks that waiting does not heal.
   */
  public static final Duration DEFAULT_RETRY_PAUSE = Duration.ofMillis(500);

  private static final Logger logger = LoggerFactory.getLogger(Engine.class);


  private final ChainRegistry registry;
  private final HistoryJournal journal;
  private final RepairPolicy policy;
  private final Duration retryPause;
  private final AffinityListener listener;
  private final boolean listening;
  private final Set<Integer> gatewayFailures;
  private final BackgroundTurns background;
  private final LostPins lostPins;

  private final LongAdder breaks = new LongAdder();
  private final LongAdder started = new LongAdder();
  private final LongAdder retries = new LongAdder();
  private final LongAdder replays = new LongAdder();
  private final LongAdder succeeded = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final LongAdder reasoningLeftOut = new LongAdder();
  private final Map<Kind, LongAdder> breaksByKind = new EnumMap<>(Kind.class);

  private Engine(Builder builder) {
    this.registry = builder.registry.build();
    this.journal = builder.journal != null ? builder.journal : CaffeineHistoryJournal.builder().build();
    this.policy = builder.policy;
    this.retryPause = builder.retryPause;
    this.listener = builder.listener;
    this.listening = listener != AffinityListener.NONE;
    this.gatewayFailures = builder.gatewayFailures;
    this.background = new BackgroundTurns(registry.clock());
    this.lostPins = new LostPins(registry.clock());
    for (Kind kind : Kind.values()) {
      breaksByKind.put(kind, new LongAdder());
    }
  }

  /**
   * Returns a builder. Defaults: a new {@link io.github.affinity4j.core.CaffeineAffinityStore} and
   * {@link CaffeineHistoryJournal}, cookie {@value ChainRegistry#DEFAULT_COOKIE_NAME},
   * {@link RepairPolicy#RETRY_THEN_REPLAY}, {@link #DEFAULT_RETRY_PAUSE}, no listener, the system
   * clock.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a builder with this engine's settings, sharing its store and journal, so its chains. */
  public Builder toBuilder() {
    Builder builder = new Builder();
    builder.registry = registry.toBuilder();
    builder.journal = journal;
    builder.policy = policy;
    builder.retryPause = retryPause;
    builder.listener = listener;
    builder.gatewayFailures = gatewayFailures;
    return builder;
  }

  /**
   * Returns the turn for one request (all its attempts), or null if the request neither starts nor
   * continues a chain and passes through untouched. The turn looks up its own pin.
   *
   * @param scope whom the request's chains belong to
   * @param method the HTTP method, upper case
   * @param scheme the URL's scheme
   * @param host the URL's host
   * @param encodedPath the URL's path, without the query
   * @param body the request body as sent, for a request whose chain is in its body
   *     ({@link #readsBody}); null otherwise
   * @param callerPinned whether the caller's own {@code Cookie} header carries an affinity cookie:
   *     then no pin is added, and the request is left as the caller made it
   */
  public @Nullable Turn turn(ChainScope scope, String method, String scheme, String host, String encodedPath,
      byte @Nullable [] body, boolean callerPinned) {
    if (!TurnInput.isAffected(method, encodedPath)) {
      return null;
    }
    return new Turn(this, scope, method, scheme, host, encodedPath, body, callerPinned);
  }

  /**
   * Whether the chain of such a request is in its body ({@code POST …/responses}) or the body
   * starts one ({@code POST …/conversations}): an adapter reads it, bounded, before {@link #turn}.
   */
  public static boolean readsBody(String method, String encodedPath) {
    return TurnInput.hasBodyKey(method, encodedPath)
        || ("POST".equals(method) && encodedPath.endsWith("/conversations"));
  }

  /** Whether a request may start or continue a chain at all; cheap, no allocation. */
  public static boolean affects(String method, String encodedPath) {
    return TurnInput.isAffected(method, encodedPath);
  }

  /**
   * The repair side of one {@code POST …/responses} request: call it once per request, with the
   * body as sent (kept, not copied). A body that is not a JSON request gives a turn that never
   * repairs and records nothing.
   */
  ChainTurn repairTurn(byte[] requestBody, @Nullable AffinityToken pin, ChainScope scope) {
    requireNonNull(requestBody, "requestBody");
    requireNonNull(scope, "scope");
    TurnInput input = TurnInput.fromRequestBody(requestBody, 0, requestBody.length).orElse(null);
    return new ChainTurn(this, requestBody, input, pin, scope);
  }

  /** Returns the pins. */
  public ChainRegistry registry() {
    return registry;
  }

  /** Returns the store the pins are kept in. */
  public AffinityStore store() {
    return registry.store();
  }

  /** Returns the journal the turns are kept in. */
  public HistoryJournal journal() {
    return journal;
  }

  /** Returns the repair policy. */
  public RepairPolicy policy() {
    return policy;
  }

  /**
   * Returns whether turns are journaled: always, except under {@link RepairPolicy#FAIL}, which
   * never replays.
   */
  public boolean journals() {
    return policy != RepairPolicy.FAIL;
  }

  /**
   * Returns the statuses that, answered by the gateway in its own shape to a pinned request, mean
   * the backend is unavailable.
   */
  public Set<Integer> gatewayFailures() {
    return gatewayFailures;
  }

  /** Returns the pause before a retry on the same pin. */
  public Duration retryPause() {
    return retryPause;
  }

  /** Returns the clock, for expiry and {@code seenAt}. */
  public Clock clock() {
    return registry.clock();
  }

  /** Returns a snapshot of the pin counters. */
  public AffinityStats stats() {
    return registry.stats();
  }

  /**
   * Returns the journaled history of {@code chain}, or null if the journal threw (logged at WARN).
   */
  public @Nullable ChainHistory history(ChainKey chain) {
    try {
      return journal.history(chain);
    } catch (Exception e) { // not only unchecked: a journal written in Kotlin may throw a checked one
      journalFailed("history", chain, e);
      return null;
    }
  }

  /**
   * Forgets a chain the API deleted ({@code DELETE …/responses/{id}} or
   * {@code …/conversations/{id}} succeeded): its pin and journal entry go, so it is never replayed.
   * Never throws; a failing journal is logged at WARN.
   *
   * @throws NullPointerException if {@code chain} is null
   */
  public void forget(ChainKey chain) {
    requireNonNull(chain, "chain");
    registry.forget(chain);
    try {
      journal.forget(chain);
      logger.debug("{} deleted by the API; forgotten by the journal", chain);
    } catch (Exception e) { // not only unchecked: a journal written in Kotlin may throw a checked one
      journalFailed("forget", chain, e);
    }
  }

  /**
   * Records that a conversation was created: call it for a successful {@code POST …/conversations}.
   * Without it, a conversation's start is unknown and it cannot be repaired. Never throws for bad
   * data.
   *
   * @param requestBody the request body, whose {@code items} the conversation starts with
   * @param created the chain the response named: a conversation key, or null if none
   * @param scope whom the conversation belongs to
   * @throws NullPointerException if {@code requestBody} or {@code scope} is null
   */
  public void recordConversation(byte[] requestBody, @Nullable ChainKey created, ChainScope scope) {
    requireNonNull(requestBody, "requestBody");
    requireNonNull(scope, "scope");
    if (!journals()) {
      return;
    }
    if (created == null || created.kind() != ChainKey.Kind.CONVERSATION) {
      logger.debug("Response names no conversation; nothing to record");
      return;
    }
    ChainKey key = created.in(scope);
    byte[] items = conversationItems(requestBody);
    if (items == null) {
      return;
    }
    try {
      journal.recordConversation(key, items);
      logger.debug("Conversation {} journaled ({} bytes of initial items)", key, items.length);
    } catch (Exception e) {
      journalFailed("recordConversation", key, e);
    }
  }

  /** Returns a snapshot of the repair counters. */
  public RepairStats repairStats() {
    Map<Kind, Long> byKind = new EnumMap<>(Kind.class);
    breaksByKind.forEach((kind, count) -> byKind.put(kind, count.sum()));
    return new RepairStats(breaks.sum(), started.sum(), retries.sum(), replays.sum(), succeeded.sum(),
        failed.sum(), byKind, reasoningLeftOut.sum());
  }

  @Override
  public String toString() {
    return "Engine[" + registry + ", policy=" + policy + ", retryPause=" + retryPause + ", journal=" + journal + ']';
  }

  // --- for ChainTurn ---

  void countBreak(Kind kind) {
    breaks.increment();
    // The constructor puts every kind in the map.
    requireNonNull(breaksByKind.get(kind)).increment();
  }

  void countStarted() {
    started.increment();
  }

  void countRetry() {
    retries.increment();
  }

  void countReplay() {
    replays.increment();
  }

  void countSucceeded() {
    succeeded.increment();
  }

  void countFailed() {
    failed.increment();
  }

  /** The pins whose backend this process has seen lost. */
  LostPins lostPins() {
    return lostPins;
  }

  /** Keeps a background turn's input until a poll brings its output ({@link #backgroundDone}). */
  void awaitBackground(BackgroundTurns.Pending pending) {
    background.await(pending);
  }

  /** Returns true if {@code key} is a background turn waiting for its output. */
  boolean awaitsBackground(@Nullable ChainKey key) {
    return background.awaits(key);
  }

  /** Journals a background turn whose finished output a poll brought. */
  void backgroundDone(ChainKey key, TurnOutput output) {
    JournalTurn turn = background.done(key, output);
    if (turn == null || !journals()) {
      return;
    }
    try {
      journal.record(turn);
      logger.debug("Background turn {} journaled from a poll ({} bytes)", key, turn.bytes());
    } catch (Exception e) { // not only unchecked: a journal written in Kotlin may throw a checked one
      journalFailed("record", key, e);
    }
  }

  void countReasoningLeftOut(int items) {
    reasoningLeftOut.add(items);
  }

  boolean listening() {
    return listening;
  }

  /** Runs one listener call; a listener never breaks a request. */
  void notify(String event, Consumer<AffinityListener> call) {
    if (!listening) {
      return;
    }
    try {
      call.accept(listener);
    } catch (Exception e) { // not only unchecked: a listener written in Kotlin may throw a checked one
      logger.warn("AffinityListener {} threw in {}; ignored", listener.getClass().getName(), event, e);
    }
  }

  /** Any exception, not only unchecked ones: a journal written in Kotlin may throw a checked one. */
  public void journalFailed(String operation, ChainKey key, Exception e) {
    logger.warn("HistoryJournal {} threw on {} of {}; going on without it", journal.getClass().getName(),
        operation, key, e);
  }

  /** The {@code items} array of a create-conversation request; {@code []} if absent, null if bad. */
  private static byte @Nullable [] conversationItems(byte[] body) {
    JsonScanner json = new JsonScanner(body, 0, body.length);
    try {
      if (!json.enterObject()) {
        json.skipValue(); // what is not JSON at all is said so below
        logger.debug("Conversation request is not a JSON object; not journaled");
        return null;
      }
      byte[] items = Json.EMPTY_ARRAY;
      while (json.nextField()) {
        if (json.fieldIs("items") && json.peek() == '[') {
          int start = json.valueStart();
          items = Arrays.copyOfRange(body, start, json.skipValue());
        } else {
          json.skipValue();
        }
      }
      return items;
    } catch (IOException e) {
      logger.debug("Conversation request is not valid JSON ({}); not journaled", e.getClass().getSimpleName());
      return null;
    }
  }

  /** Builds an {@link Engine}: every setting an adapter's builder offers, declared once. Not thread-safe. */
  public static final class Builder {
    private ChainRegistry.Builder registry = ChainRegistry.builder();
    private @Nullable HistoryJournal journal;
    private RepairPolicy policy = RepairPolicy.RETRY_THEN_REPLAY;
    private Duration retryPause = DEFAULT_RETRY_PAUSE;
    private AffinityListener listener = AffinityListener.NONE;
    private Set<Integer> gatewayFailures = ChainBreaks.DEFAULT_GATEWAY_FAILURES;

    private Builder() {}

    /** Sets the store; share one between engines to share chains. Default: a new Caffeine one. */
    public Builder store(AffinityStore store) {
      registry.store(store);
      return this;
    }

    /**
     * Sets the journal; share one between engines (and processes, with a shared implementation)
     * to repair each other's chains. Default: a new {@link CaffeineHistoryJournal}.
     */
    public Builder journal(HistoryJournal journal) {
      this.journal = requireNonNull(journal, "journal");
      return this;
    }

    /**
     * Sets the affinity cookie names.
     *
     * @throws IllegalArgumentException if no name is given or a name is not a valid cookie name
     */
    public Builder cookieNames(String... cookieNames) {
      registry.cookieNames(cookieNames);
      return this;
    }

    /** Sets the listener for every event. Default {@link AffinityListener#NONE}. */
    public Builder listener(AffinityListener listener) {
      registry.listener(listener);
      this.listener = requireNonNull(listener, "listener");
      return this;
    }

    /** Sets what to do when a chain breaks; default {@link RepairPolicy#RETRY_THEN_REPLAY}. */
    public Builder repairPolicy(RepairPolicy policy) {
      this.policy = requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Sets the pause before retrying a not-found on the same pin; default 500 ms. Zero retries at
     * once.
     *
     * @throws IllegalArgumentException if negative or over a minute
     */
    public Builder retryPause(Duration retryPause) {
      requireNonNull(retryPause, "retryPause");
      if (retryPause.isNegative() || retryPause.compareTo(Duration.ofMinutes(1)) > 0) {
        throw new IllegalArgumentException("retryPause must be between zero and one minute, was " + retryPause);
      }
      this.retryPause = retryPause;
      return this;
    }

    /**
     * Sets the statuses that, answered by the gateway itself (APIM's {@code {"statusCode":…}}
     * shape, not the model's error) to a pinned request, mean its backend is unavailable, and are
     * repaired; default 500, 502, 504. 502, 503 and 504 count in any shape.
     *
     * @throws IllegalArgumentException if a status is not between 400 and 599
     */
    public Builder gatewayFailures(int... statuses) {
      requireNonNull(statuses, "statuses");
      Set<Integer> set = new TreeSet<>();
      for (int status : statuses) {
        if (status < 400 || status > 599) {
          throw new IllegalArgumentException("gatewayFailures takes HTTP error statuses, got " + status);
        }
        set.add(status);
      }
      this.gatewayFailures = Collections.unmodifiableSet(set);
      return this;
    }

    /** Sets the clock for expiry, {@code seenAt} and repair timing; for tests. Default: the system's. */
    public Builder clock(Clock clock) {
      registry.clock(clock);
      return this;
    }

    /** Builds the engine. */
    public Engine build() {
      return new Engine(this);
    }
  }
}
