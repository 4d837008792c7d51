package io.github.affinity4j.core.internal;


import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import java.time.Clock;
import java.time.Duration;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one engine behind every adapter: pins ({@link ChainRegistry}) and repairs
 * ({@link ChainRepairer}), with their settings declared once, here. An adapter asks it for a
 * {@link Turn} per request and does the I/O the turn asks for; every rule about pins, binding,
 * journaling, retry and replay lives in the turn. Not API.
 *
 * <pre>{@code
 * Engine engine = Engine.builder().cookieNames("SessionId").build();
 * Turn turn = engine.turn(scope, "POST", "https", host, path, body, callerPinned);
 * R response = turn.run(transport);   // sends, retries, replays as the turn decides
 * turn.succeeded(fresh, routing); turn.responseBody(bytes);  // or turn.stream() for SSE
 * }</pre>
 *
 * <p>Thread-safe, as long as the store, journal and listener are.
 */
public final class Engine {
  private static final Logger logger = LoggerFactory.getLogger(Engine.class);

  private final ChainRegistry registry;
  private final ChainRepairer repairer;

  private Engine(Builder builder) {
    this.registry = builder.registry.build();
    this.repairer = builder.repairer.listener(builder.listener).clock(registry.clock()).build();
  }

  /** Returns a builder with the defaults of {@link ChainRegistry} and {@link ChainRepairer}. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the pin side. */
  public ChainRegistry registry() {
    return registry;
  }

  /** Returns the repair side. */
  public ChainRepairer repairer() {
    return repairer;
  }

  public AffinityStats stats() {
    return registry.stats();
  }

  public RepairStats repairStats() {
    return repairer.stats();
  }

  public AffinityStore store() {
    return registry.store();
  }

  public HistoryJournal journal() {
    return repairer.journal();
  }

  public Clock clock() {
    return registry.clock();
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
    if (!ChainKeys.isAffected(method, encodedPath)) {
      return null;
    }
    return new Turn(this, scope, method, scheme, host, encodedPath, body, callerPinned);
  }

  /**
   * Whether the chain of such a request is in its body ({@code POST …/responses}) or the body
   * starts one ({@code POST …/conversations}): an adapter reads it, bounded, before {@link #turn}.
   */
  public static boolean readsBody(String method, String encodedPath) {
    return ChainKeys.hasBodyKey(method, encodedPath)
        || ("POST".equals(method) && encodedPath.endsWith("/conversations"));
  }

  /** Whether a request may start or continue a chain at all; cheap, no allocation. */
  public static boolean affects(String method, String encodedPath) {
    return ChainKeys.isAffected(method, encodedPath);
  }

  /**
   * Returns the journaled history of {@code chain}, or null if the journal threw (logged at WARN).
   */
  public @Nullable ChainHistory history(ChainKey chain) {
    try {
      return repairer.journal().history(chain);
    } catch (Exception e) { // not only unchecked: a journal written in Kotlin may throw a checked one
      repairer.journalFailed("history", chain, e);
      return null;
    }
  }

  @Override
  public String toString() {
    return "Engine[" + registry + ", " + repairer + ']';
  }

  /** Builds an {@link Engine}: every setting an adapter's builder offers, declared once. */
  public static final class Builder {
    private final ChainRegistry.Builder registry = ChainRegistry.builder();
    private final ChainRepairer.Builder repairer = ChainRepairer.builder();
    private AffinityListener listener = AffinityListener.NONE;

    private Builder() {}

    public Builder store(AffinityStore store) {
      registry.store(store);
      return this;
    }

    public Builder journal(HistoryJournal journal) {
      repairer.journal(journal);
      return this;
    }

    public Builder cookieNames(String... cookieNames) {
      registry.cookieNames(cookieNames);
      return this;
    }

    public Builder listener(AffinityListener listener) {
      registry.listener(listener);
      this.listener = listener;
      return this;
    }

    public Builder repairPolicy(RepairPolicy policy) {
      repairer.policy(policy);
      return this;
    }

    public Builder retryPause(Duration retryPause) {
      repairer.retryPause(retryPause);
      return this;
    }

    public Builder clock(Clock clock) {
      registry.clock(clock);
      return this;
    }

    public Engine build() {
      return new Engine(this);
    }
  }
}
