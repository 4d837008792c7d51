package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainBreak.Kind;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.core.RoutingInfo;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The repair engine: journals every turn of every chain, and when a chain breaks (its response or
 * conversation not found, its pinned backend unavailable) decides how to heal it, at most once per
 * request: retry on the same pin, or replay the chain's history without it.
 *
 * <p>What an adapter does, per {@code POST …/responses} request whose body it has read:
 *
 * <pre>{@code
 * ChainRepairer repairer = ChainRepairer.builder().build();
 *
 * ChainTurn turn = repairer.turn(body, pinSent, scope);   // pinSent: the AffinityToken sent, or null
 * Response response = send(body, pinSent);                // an IOException: turn.decideConnectionFailure()
 * while (!response.isSuccessful()) {
 *   RepairDecision decision = turn.decide(response.code(), peekedErrorBody);
 *   switch (decision.action()) {
 *     case NONE:                                          // not a break: pass it on, naming the chain
 *     case FAIL: return withBody(response, decision.errorBody());  // if present
 *     case RETRY: sleep(decision.pause()); response = send(body, pinSent); break;
 *     case REPLAY: response = send(decision.replayBody(), null); break;
 *   }
 * }
 * turn.succeeded(freshToken, RoutingInfo.from(response::header));
 * // then, when the output is known (JSON body, or SseCompletedScanner at the end of a stream):
 * turn.record(output);
 * }</pre>
 *
 * <p>The full contract is on {@link ChainTurn}. A {@code POST …/conversations} response is
 * recorded with {@link #recordConversation}, so that a conversation's history has a known start.
 *
 * <p>Thread-safe, as long as the journal is; {@link ChainTurn}s are per request. Nothing here
 * throws for bad data, a failing journal or a failing listener: those are logged at WARN (the
 * journal's and listener's) or DEBUG (bad data), and the request goes on without repair. DEBUG
 * lines name chains, kinds of break, counts and sizes, never the conversation's content.
 */
public final class ChainRepairer {

  /**
   * The default pause before retrying a not-found on the same pin: 500 ms. Azure's intermittent
   * {@code previous_response_not_found} comes right after the response was created and is gone on
   * a retry moments later; half a second is short next to a model's answer, and the retry is
   * skipped for the breaks that waiting does not heal.
   */
  public static final Duration DEFAULT_RETRY_PAUSE = Duration.ofMillis(500);

  private static final Logger logger = LoggerFactory.getLogger(ChainRepairer.class);

  private final HistoryJournal journal;
  private final RepairPolicy policy;
  private final Duration retryPause;
  private final AffinityListener listener;
  private final boolean listening;
  private final Clock clock;

  private final LongAdder breaks = new LongAdder();
  private final LongAdder started = new LongAdder();
  private final LongAdder retries = new LongAdder();
  private final LongAdder replays = new LongAdder();
  private final LongAdder succeeded = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final Map<Kind, LongAdder> breaksByKind = new EnumMap<>(Kind.class);

  private ChainRepairer(Builder builder) {
    this.journal = builder.journal != null ? builder.journal : CaffeineHistoryJournal.builder().build();
    this.policy = builder.policy;
    this.retryPause = builder.retryPause;
    this.listener = builder.listener;
    this.listening = listener != AffinityListener.NONE;
    this.clock = builder.clock;
    for (Kind kind : Kind.values()) {
      breaksByKind.put(kind, new LongAdder());
    }
  }

  /**
   * Returns a builder. Defaults: a new {@link CaffeineHistoryJournal} with its defaults,
   * {@link RepairPolicy#RETRY_THEN_REPLAY}, {@link #DEFAULT_RETRY_PAUSE},
   * {@link AffinityListener#NONE}, {@link Clock#systemUTC()}.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a builder with this repairer's settings, sharing its journal and so its chains. */
  public Builder toBuilder() {
    Builder builder = new Builder();
    builder.journal = journal;
    builder.policy = policy;
    builder.retryPause = retryPause;
    builder.listener = listener;
    builder.clock = clock;
    return builder;
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
   * never replays. An adapter may skip reading a response's output when this is false.
   */
  public boolean journals() {
    return policy != RepairPolicy.FAIL;
  }

  /** Returns the pause before a retry on the same pin. */
  public Duration retryPause() {
    return retryPause;
  }

  /**
   * Starts one request's turn: call it once per attempt of a {@code POST …/responses} request (an
   * SDK retry is a new attempt), with the body as it is sent. The body is kept, not copied, until
   * the turn is done: do not modify it. A body that is not a JSON request gives a turn that never
   * repairs and records nothing.
   *
   * @param requestBody the request body
   * @param pin the affinity token sent with the request, or null if none was sent
   * @param scope whom the request's chain belongs to: its history is looked up, and the turn
   *     journaled, in this scope only
   * @throws NullPointerException if {@code requestBody} or {@code scope} is null
   */
  ChainTurn turn(byte[] requestBody, @Nullable AffinityToken pin, ChainScope scope) {
    requireNonNull(requestBody, "requestBody");
    requireNonNull(scope, "scope");
    TurnInput input = TurnInput.fromRequestBody(requestBody, 0, requestBody.length).orElse(null);
    return new ChainTurn(this, requestBody, input, pin, scope);
  }

  /**
   * Forgets a chain the API deleted ({@code DELETE …/responses/{id}} or
   * {@code …/conversations/{id}} succeeded): its journal entry goes, so it is never replayed.
   * Never throws; a failing journal is logged at WARN.
   *
   * @throws NullPointerException if {@code chain} is null
   */
  public void forget(ChainKey chain) {
    requireNonNull(chain, "chain");
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

  /** Returns a snapshot of the counters. */
  public RepairStats stats() {
    Map<Kind, Long> byKind = new EnumMap<>(Kind.class);
    breaksByKind.forEach((kind, count) -> byKind.put(kind, count.sum()));
    return new RepairStats(breaks.sum(), started.sum(), retries.sum(), replays.sum(), succeeded.sum(),
        failed.sum(), byKind);
  }

  @Override
  public String toString() {
    return "ChainRepairer[policy=" + policy + ", retryPause=" + retryPause + ", journal=" + journal + ']';
  }

  // --- for ChainTurn ---

  Clock clock() {
    return clock;
  }

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
    try (JsonParser parser = Json.FACTORY.createParser(body)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        logger.debug("Conversation request is not a JSON object; not journaled");
        return null;
      }
      byte[] items = Json.EMPTY_ARRAY;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("items".equals(field) && value == JsonToken.START_ARRAY) {
          items = Json.rawValue(parser, body, 0);
        } else {
          parser.skipChildren();
        }
      }
      return items;
    } catch (IOException e) {
      logger.debug("Conversation request is not valid JSON ({}); not journaled", e.getClass().getSimpleName());
      return null;
    }
  }

  /** Builds a {@link ChainRepairer}. Not thread-safe. */
  public static final class Builder {
    private @Nullable HistoryJournal journal;
    private RepairPolicy policy = RepairPolicy.RETRY_THEN_REPLAY;
    private Duration retryPause = DEFAULT_RETRY_PAUSE;
    private AffinityListener listener = AffinityListener.NONE;
    private Clock clock = Clock.systemUTC();

    private Builder() {}

    /**
     * Sets the journal; share one between repairers (and processes, with a shared implementation)
     * to repair each other's chains. Default: a new {@link CaffeineHistoryJournal}.
     */
    public Builder journal(HistoryJournal journal) {
      this.journal = requireNonNull(journal, "journal");
      return this;
    }

    /** Sets what to do when a chain breaks; default {@link RepairPolicy#RETRY_THEN_REPLAY}. */
    public Builder policy(RepairPolicy policy) {
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
        throw new IllegalArgumentException("retryPause must be between zero and one minute, got "
            + retryPause + "; e.g. Duration.ofMillis(500), or RepairPolicy.REPLAY for no retry");
      }
      this.retryPause = retryPause;
      return this;
    }

    /** Sets the listener for repair events. Default {@link AffinityListener#NONE}. */
    public Builder listener(AffinityListener listener) {
      this.listener = requireNonNull(listener, "listener");
      return this;
    }

    /** Sets the clock that times repairs; for tests. Default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** Builds the repairer. */
    public ChainRepairer build() {
      return new ChainRepairer(this);
    }
  }
}
