package io.github.affinity4j.micrometer;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.core.internal.Names;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;
import org.jspecify.annotations.Nullable;

/**
 * Publishes an {@link AffinityInterceptor}'s or an {@code AffinityConversations}' counters to a
 * Micrometer {@link MeterRegistry}: pins applied and missing, chains tracked, backend changes,
 * breaks by kind, repairs by outcome, retries and replays, reasoning items left out, and, with a
 * {@link RepairMetricsListener}, the items and bytes replays sent; with a Redis connector, its
 * fallbacks.
 *
 * <pre>{@code
 * AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
 * AffinityMetrics.builder(interceptor).build().bindTo(registry);
 *
 * // the wrapper (affinity4j-openai), through its own stats
 * AffinityConversations conversations = AffinityConversations.wrap(client);
 * AffinityMetrics.builder(conversations, AffinityConversations::stats,
 *     AffinityConversations::repairStats).build().bindTo(registry);
 * }</pre>
 *
 * <p>Every meter is a function counter or a gauge that reads the source's {@link AffinityStats}
 * and {@link RepairStats} when the registry publishes: no thread, no listener is needed for them,
 * and nothing is counted twice. One publication takes each snapshot once (they are reused for
 * {@link Builder#snapshotMaxAge(Duration)}, one second by default), because
 * {@code chainsTracked} asks the store for its size, a key scan for a Redis store. The meters hold
 * the source weakly, as Micrometer's own binders do: keep a reference to it (an application does,
 * to use it); once it is collected they read {@code NaN}.
 *
 * <table>
 *   <caption>Meters; each also has the tag {@code cookie} (the affinity cookie names) and the
 *   builder's tags</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th><th>reads</th></tr>
 *   <tr><td>{@value #PINS}</td><td>counter</td><td>{@code result}: {@code applied},
 *       {@code missing}</td><td>{@link AffinityStats#pinsApplied()}, {@link AffinityStats#pinsMissing()}</td></tr>
 *   <tr><td>{@value #CHAINS_TRACKED}</td><td>gauge</td><td></td><td>{@link AffinityStats#chainsTracked()}</td></tr>
 *   <tr><td>{@value #TOKENS_BOUND}</td><td>counter</td><td></td><td>{@link AffinityStats#tokensBound()}</td></tr>
 *   <tr><td>{@value #BACKEND_CHANGES}</td><td>counter</td><td></td><td>{@link AffinityStats#backendChanges()}</td></tr>
 *   <tr><td>{@value #BREAKS}</td><td>counter</td><td>{@code kind}: {@code previous_response_not_found}, …</td>
 *       <td>{@link RepairStats#breaks(ChainBreak.Kind)}</td></tr>
 *   <tr><td>{@value #REPAIRS}</td><td>counter</td><td>{@code outcome}: {@code succeeded},
 *       {@code failed}</td><td>{@link RepairStats#repairsSucceeded()}, {@link RepairStats#repairsFailed()}</td></tr>
 *   <tr><td>{@value #REPAIR_REQUESTS}</td><td>counter</td><td>{@code action}: {@code retry},
 *       {@code replay}</td><td>{@link RepairStats#retries()}, {@link RepairStats#replays()}</td></tr>
 *   <tr><td>{@value #REASONING_LEFT_OUT}</td><td>counter</td><td></td><td>{@link RepairStats#reasoningLeftOut()}</td></tr>
 *   <tr><td>{@value #REPLAYED_ITEMS}, {@value #REPLAYED_BYTES}</td><td>counter</td><td></td>
 *       <td>{@link RepairMetricsListener}, when given</td></tr>
 *   <tr><td>{@value #REDIS_FALLBACKS}</td><td>counter</td><td></td><td>the Redis connector's
 *       fallbacks, when given</td></tr>
 * </table>
 *
 * <p>Immutable and thread-safe; bind it to as many registries as needed.
 */
public final class AffinityMetrics implements MeterBinder {
  /** Requests that continued a chain, by {@code result}: sent with its pin, or with none to send. */
  public static final String PINS = "affinity4j.pins";
  /** Chains in the affinity store now. */
  public static final String CHAINS_TRACKED = "affinity4j.chains.tracked";
  /** Tokens bound to chain keys, fresh or inherited. */
  public static final String TOKENS_BOUND = "affinity4j.tokens.bound";
  /** Times a chain moved to another backend. */
  public static final String BACKEND_CHANGES = "affinity4j.backend.changes";
  /** Requests that broke a chain, by {@code kind}. */
  public static final String BREAKS = "affinity4j.chain.breaks";
  /** Breaks that ended, by {@code outcome}. */
  public static final String REPAIRS = "affinity4j.repairs";
  /** Requests repairs sent, by {@code action}: a retry on the same pin, or a replay of the history. */
  public static final String REPAIR_REQUESTS = "affinity4j.repair.requests";
  /** Reasoning items replays left out (encrypted reasoning is bound to its backend). */
  public static final String REASONING_LEFT_OUT = "affinity4j.replay.reasoning.left.out";
  /** Items of history replays sent. */
  public static final String REPLAYED_ITEMS = "affinity4j.replay.items";
  /** Bytes of replay bodies sent. */
  public static final String REPLAYED_BYTES = "affinity4j.replay.bytes";
  /** Redis operations that fell back to the local store. */
  public static final String REDIS_FALLBACKS = "affinity4j.redis.fallbacks";
  /** The tag naming the affinity cookies. */
  public static final String COOKIE_TAG = "cookie";
  /** Default {@link Builder#snapshotMaxAge(Duration)}: one second. */
  public static final Duration DEFAULT_SNAPSHOT_MAX_AGE = Duration.ofSeconds(1);

  private static final String DEFAULT_COOKIE_NAME = "APIM-Backend-Affinity";

  private final Bound<?> bound;
  private final Tags tags;
  private final @Nullable RepairMetricsListener repairListener;
  private final @Nullable Fallbacks<?> redis;

  private AffinityMetrics(Builder builder) {
    this.bound = builder.source.bound(builder.clock, builder.snapshotMaxAge);
    this.tags = Tags.of(builder.tags).and(COOKIE_TAG, String.join(",", builder.cookieNames));
    this.repairListener = builder.repairListener;
    this.redis = builder.redis;
  }

  /**
   * A builder for the counters of {@code interceptor}.
   *
   * @throws NullPointerException if {@code interceptor} is null
   */
  public static Builder builder(AffinityInterceptor interceptor) {
    return builder(interceptor, AffinityInterceptor::stats, AffinityInterceptor::repairStats);
  }

  /**
   * A builder for the counters of any source that has them, such as {@code AffinityConversations}:
   * {@code builder(conversations, AffinityConversations::stats, AffinityConversations::repairStats)}.
   * Pass functions that capture nothing (method references to the type, as here): the meters hold
   * {@code source} weakly, and a function that captured it would keep it alive.
   *
   * @throws NullPointerException if an argument is null
   */
  public static <S> Builder builder(S source, Function<? super S, AffinityStats> stats,
      Function<? super S, RepairStats> repairStats) {
    return new Builder(new Source<>(requireNonNull(source, "source"), requireNonNull(stats, "stats"),
        requireNonNull(repairStats, "repairStats")));
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    requireNonNull(registry, "registry");
    bindStats(registry, bound);
    RepairMetricsListener listener = repairListener;
    if (listener != null) {
      FunctionCounter.builder(REPLAYED_ITEMS, listener, RepairMetricsListener::itemsReplayed)
          .description("Items of history that replays sent").tags(tags).register(registry);
      FunctionCounter.builder(REPLAYED_BYTES, listener, RepairMetricsListener::bytesReplayed)
          .description("Bytes of the replay bodies sent").baseUnit("bytes").tags(tags)
          .register(registry);
    }
    if (redis != null) {
      bindFallbacks(registry, redis);
    }
  }

  @Override
  public String toString() {
    return "AffinityMetrics[source=" + bound.target().getClass().getSimpleName() + ", tags=" + tags
        + ", repairListener=" + (repairListener != null) + ", redis=" + (redis != null) + "]";
  }

  // Generic helpers, so that each meter's function reads the source's own type. The functions
  // capture the snapshots, never the source: the meters hold it weakly.
  private <S> void bindStats(MeterRegistry registry, Bound<S> bound) {
    StatsSnapshots<S> s = bound.snapshots();
    S target = bound.target();
    Gauge.builder(CHAINS_TRACKED, target, x -> s.stats(x).chainsTracked())
        .description("Chains in the affinity store now").tags(tags).register(registry);
    String pins = "Requests that continued a chain, by whether they carried its pin";
    count(registry, PINS, pins, target, x -> s.stats(x).pinsApplied(), "result", "applied");
    count(registry, PINS, pins, target, x -> s.stats(x).pinsMissing(), "result", "missing");
    count(registry, TOKENS_BOUND, "Affinity tokens bound to chain keys, fresh or inherited", target,
        x -> s.stats(x).tokensBound());
    count(registry, BACKEND_CHANGES, "Times a chain moved to another backend", target,
        x -> s.stats(x).backendChanges());
    for (ChainBreak.Kind kind : ChainBreak.Kind.values()) {
      count(registry, BREAKS, "Requests that broke a chain, by kind", target,
          x -> s.repairStats(x).breaks(kind), "kind", kind.name().toLowerCase(Locale.ROOT));
    }
    String repairs = "Chain breaks that ended, by outcome";
    count(registry, REPAIRS, repairs, target, x -> s.repairStats(x).repairsSucceeded(),
        "outcome", "succeeded");
    count(registry, REPAIRS, repairs, target, x -> s.repairStats(x).repairsFailed(),
        "outcome", "failed");
    String requests = "Requests that repairs sent, by action";
    count(registry, REPAIR_REQUESTS, requests, target, x -> s.repairStats(x).retries(),
        "action", "retry");
    count(registry, REPAIR_REQUESTS, requests, target, x -> s.repairStats(x).replays(),
        "action", "replay");
    count(registry, REASONING_LEFT_OUT, "Reasoning items that replays left out", target,
        x -> s.repairStats(x).reasoningLeftOut());
  }

  private <C> void bindFallbacks(MeterRegistry registry, Fallbacks<C> redis) {
    ToLongFunction<? super C> fallbacks = redis.fallbacks();
    count(registry, REDIS_FALLBACKS, "Redis operations that failed or were skipped and fell back "
        + "to the local store", redis.connector(), x -> fallbacks.applyAsLong(x));
  }

  private <T> void count(MeterRegistry registry, String name, String description, T target,
      ToDoubleFunction<T> read, String... tag) {
    FunctionCounter.builder(name, target, read).description(description).tags(tags).tags(tag)
        .register(registry);
  }

  /** A source of stats and the functions that read them. */
  private record Source<S>(S source, Function<? super S, AffinityStats> stats,
      Function<? super S, RepairStats> repairStats) {
    Bound<S> bound(Clock clock, Duration maxAge) {
      return new Bound<>(source, new StatsSnapshots<>(stats, repairStats, clock, maxAge.toMillis()));
    }
  }

  /** A source and the snapshots its meters share. */
  private record Bound<S>(S target, StatsSnapshots<S> snapshots) {}

  /** A Redis connector and the function that reads its fallbacks. */
  private record Fallbacks<C>(C connector, ToLongFunction<? super C> fallbacks) {}

  /**
   * Builds an {@link AffinityMetrics}. Not thread-safe.
   */
  public static final class Builder {
    private final Source<?> source;
    private List<String> cookieNames = List.of(DEFAULT_COOKIE_NAME);
    private final List<Tag> tags = new ArrayList<>();
    private @Nullable RepairMetricsListener repairListener;
    private @Nullable Fallbacks<?> redis;
    private Duration snapshotMaxAge = DEFAULT_SNAPSHOT_MAX_AGE;
    private Clock clock = Clock.systemUTC();

    private Builder(Source<?> source) {
      this.source = source;
    }

    /**
     * The affinity cookie names the source was built with, for the
     * {@value AffinityMetrics#COOKIE_TAG} tag (joined by commas); default
     * {@code APIM-Backend-Affinity}, the interceptor's default.
     *
     * @throws IllegalArgumentException if none is given or one is not a cookie name
     */
    public Builder cookieNames(String... cookieNames) {
      requireNonNull(cookieNames, "cookieNames");
      if (cookieNames.length == 0) {
        throw new IllegalArgumentException("give at least one cookie name, e.g. APIM-Backend-Affinity");
      }
      List<String> names = new ArrayList<>();
      for (String name : cookieNames) {
        if (name == null || !Names.isCookieName(name)) {
          throw new IllegalArgumentException("not a cookie name (letters, digits, !#$%&'*+-.^_`|~): " + name);
        }
        if (!names.contains(name)) {
          names.add(name);
        }
      }
      this.cookieNames = List.copyOf(names);
      return this;
    }

    /**
     * Tags for every meter, e.g. {@code Tags.of("client", "chat")}, besides
     * {@value AffinityMetrics#COOKIE_TAG}.
     */
    public Builder tags(Iterable<Tag> tags) {
      requireNonNull(tags, "tags").forEach(this.tags::add);
      return this;
    }

    /**
     * Publishes {@value AffinityMetrics#REPLAYED_ITEMS} and
     * {@value AffinityMetrics#REPLAYED_BYTES} from {@code listener}, which must be the listener the
     * source was built with.
     */
    public Builder repairListener(RepairMetricsListener listener) {
      this.repairListener = requireNonNull(listener, "listener");
      return this;
    }

    /**
     * Publishes {@value AffinityMetrics#REDIS_FALLBACKS} from a Redis connector, without a
     * dependency on {@code affinity4j-redis}: {@code redisFallbacks(connector, RedisConnector::fallbacks)}. The
     * meter holds {@code connector} weakly; pass a function that captures nothing.
     */
    public <C> Builder redisFallbacks(C connector, ToLongFunction<? super C> fallbacks) {
      requireNonNull(connector, "connector");
      requireNonNull(fallbacks, "fallbacks");
      this.redis = new Fallbacks<>(connector, fallbacks);
      return this;
    }

    /**
     * How long one snapshot of the stats serves the meters; default one second, so that one
     * publication takes one. {@link Duration#ZERO} takes a snapshot for every meter read.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder snapshotMaxAge(Duration snapshotMaxAge) {
      requireNonNull(snapshotMaxAge, "snapshotMaxAge");
      if (snapshotMaxAge.isNegative()) {
        throw new IllegalArgumentException("snapshotMaxAge must not be negative, was " + snapshotMaxAge);
      }
      this.snapshotMaxAge = snapshotMaxAge;
      return this;
    }

    /** The clock that ages snapshots; for tests; default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** Builds the binder. */
    public AffinityMetrics build() {
      return new AffinityMetrics(this);
    }
  }
}
