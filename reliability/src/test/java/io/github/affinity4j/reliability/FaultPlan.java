package io.github.affinity4j.reliability;

import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The faults of a chaos run, drawn from a seed before the run starts, each due after a number of
 * completed turns (not at a wall-clock time, so a slow CI machine and a fast laptop see the same
 * faults at the same point of the workload): backends killed and revived, circuit breakers tripped
 * by 500s and closed again, 429 bursts with {@code Retry-After}, added latency, streams cut
 * mid-way.
 *
 * <p>Rules the plan keeps, so that the pool is degraded but never gone by design: at most two
 * backends are lost (killed, or their breaker being tripped) at once; one breaker episode at a
 * time, since breakers close by advancing the simulator's one clock; no 429 burst on a backend
 * whose breaker is being tripped (a burst replaces the pending 500s).
 *
 * <p>The workload calls {@link #onTurnCompleted(long)} after each turn; due actions run there, one
 * at a time. Loss episodes are timed with {@link System#nanoTime()} as they run, for the check that
 * repairs follow losses. Thread-safe.
 */
final class FaultPlan {
  enum Kind {
    KILL, REVIVE, TRIP_BREAKER, CLOSE_BREAKER, RATE_LIMIT, CUT_STREAM, SLOW, FAST
  }

  /**
   * One fault action.
   *
   * @param atTurn completed turns after which it runs
   * @param kind what it does
   * @param backend the backend it acts on
   * @param count the 429s of a burst, the events before a cut
   * @param duration the Retry-After of a burst, the latency added
   */
  record Action(long atTurn, Kind kind, String backend, int count, Duration duration) {
    @Override
    public String toString() {
      return "@" + atTurn + " " + kind + " " + backend
          + (kind == Kind.RATE_LIMIT ? " x" + count + " retry-after " + duration.toMillis() + "ms" : "")
          + (kind == Kind.CUT_STREAM ? " after " + count + " events" : "")
          + (kind == Kind.SLOW ? " +" + duration.toMillis() + "ms" : "");
    }
  }

  /**
   * A time during which a backend was lost to the chains pinned to it: killed, or its breaker being
   * tripped (from the first injected 500 until the breaker is closed again).
   *
   * @param backend the backend
   * @param kind {@link Kind#KILL} or {@link Kind#TRIP_BREAKER}
   * @param startNanos when the loss began, {@link System#nanoTime()}
   * @param endNanos when it ended
   */
  record LossEpisode(String backend, Kind kind, long startNanos, long endNanos) {
    boolean overlaps(long fromNanos, long toNanos) {
      return startNanos <= toNanos && endNanos >= fromNanos;
    }
  }

  /** How long a tripped breaker stays open unless the plan closes it; the plan always does. */
  static final Duration TRIP_DURATION = Duration.ofMinutes(5);
  /** Failures that trip a breaker. */
  static final int TRIP_COUNT = 3;

  private final long seed;
  private final List<Action> actions;
  // Guarded by this.
  private int next;
  private ApimSimulator simulator;
  private MutableClock clock;
  private final Map<String, Long> openLosses = new java.util.HashMap<>();
  private final Map<String, Kind> openKinds = new java.util.HashMap<>();
  private final List<LossEpisode> episodes = new ArrayList<>();

  private FaultPlan(long seed, List<Action> actions) {
    this.seed = seed;
    this.actions = List.copyOf(actions);
  }

  /**
   * Draws a plan for a run of {@code totalTurns} turns over {@code backends}.
   *
   * @throws IllegalArgumentException if the run is too short to hold faults or the pool has fewer
   *     than three backends
   */
  static FaultPlan generate(long seed, long totalTurns, List<String> backends) {
    if (totalTurns < 100 || backends.size() < 3) {
      throw new IllegalArgumentException("a fault plan needs 100 turns or more and 3 backends or more");
    }
    Random random = new Random(seed);
    List<Action> actions = new ArrayList<>();
    long percent = totalTurns / 100;

    // Losses: a walk over the run, starting one whenever fewer than two are under way.
    List<long[]> lossWindows = new ArrayList<>();          // {backendIndex, start, end, breaker?1:0}
    for (long at = 3 * percent; at < 85 * percent; at += percent * (1 + random.nextInt(4))) {
      long now = at;
      List<long[]> active = lossWindows.stream().filter(w -> w[1] <= now && w[2] > now).toList();
      if (active.size() >= 2) {
        continue;
      }
      List<Integer> free = new ArrayList<>();
      for (int b = 0; b < backends.size(); b++) {
        int index = b;
        if (active.stream().noneMatch(w -> w[0] == index)) {
          free.add(b);
        }
      }
      int backend = free.get(random.nextInt(free.size()));
      long length = percent * (2 + random.nextInt(6));
      boolean breakerActive = lossWindows.stream().anyMatch(w -> w[3] == 1 && w[1] <= now && w[2] > now);
      boolean breaker = !breakerActive && random.nextInt(10) < 4;
      lossWindows.add(new long[] {backend, at, at + length, breaker ? 1 : 0});
      String name = backends.get(backend);
      actions.add(new Action(at, breaker ? Kind.TRIP_BREAKER : Kind.KILL, name, 0, Duration.ZERO));
      actions.add(new Action(at + length, breaker ? Kind.CLOSE_BREAKER : Kind.REVIVE, name, 0, Duration.ZERO));
    }

    // Latency: per backend, now and then, for a while.
    for (String name : backends) {
      for (long at = percent * (2 + random.nextInt(10)); at < 90 * percent;
          at += percent * (5 + random.nextInt(15))) {
        long length = percent * (3 + random.nextInt(6));
        actions.add(new Action(at, Kind.SLOW, name, 0, Duration.ofMillis(10 + random.nextInt(90))));
        actions.add(new Action(at + length, Kind.FAST, name, 0, Duration.ZERO));
        at += length;
      }
    }

    // Point faults: 429 bursts and cut streams, one every 6 to 18 turns, whatever the run's size.
    for (long at = percent; at < 95 * percent; at += 6 + random.nextInt(13)) {
      int backend = random.nextInt(backends.size());
      String name = backends.get(backend);
      if (random.nextBoolean()) {
        long now = at;
        boolean tripping = lossWindows.stream()
            .anyMatch(w -> w[0] == backend && w[3] == 1 && w[1] <= now && w[2] >= now);
        if (!tripping) {
          actions.add(new Action(at, Kind.RATE_LIMIT, name, 1 + random.nextInt(4),
              Duration.ofMillis(10 + random.nextInt(140))));
        }
      } else {
        actions.add(new Action(at, Kind.CUT_STREAM, name, random.nextInt(7), Duration.ZERO));
      }
    }
    actions.sort(Comparator.comparingLong(Action::atTurn));
    return new FaultPlan(seed, actions);
  }

  long seed() {
    return seed;
  }

  List<Action> actions() {
    return actions;
  }

  /** How many actions of each kind the plan holds. */
  Map<Kind, Integer> counts() {
    Map<Kind, Integer> counts = new EnumMap<>(Kind.class);
    actions.forEach(action -> counts.merge(action.kind(), 1, Integer::sum));
    return counts;
  }

  /** Binds the plan to the pool it acts on; the clock is the simulator's. */
  synchronized void attach(ApimSimulator simulator, MutableClock clock) {
    this.simulator = simulator;
    this.clock = clock;
  }

  /** Runs the actions due once {@code completedTurns} turns are done. */
  synchronized void onTurnCompleted(long completedTurns) {
    while (next < actions.size() && actions.get(next).atTurn() <= completedTurns) {
      apply(actions.get(next++));
    }
  }

  /** Runs what is left, and brings every backend back whole; closes the loss episodes. */
  synchronized void finish() {
    onTurnCompleted(Long.MAX_VALUE);
    for (SimulatedBackend backend : simulator.backends()) {
      backend.revive();
      backend.clearFaults();
    }
    clock.advance(TRIP_DURATION.multipliedBy(2));
    long now = System.nanoTime();
    openLosses.forEach((backend, start) -> episodes.add(new LossEpisode(backend, openKinds.get(backend), start, now)));
    openLosses.clear();
    simulator = null;   // the plan outlives the run in its report; the pool must not
    clock = null;
  }

  /** The loss episodes as they happened; complete after {@link #finish()}. */
  synchronized List<LossEpisode> lossEpisodes() {
    return List.copyOf(episodes);
  }

  private void apply(Action action) {
    SimulatedBackend backend = simulator.backend(action.backend());
    switch (action.kind()) {
      case KILL:
        backend.kill();
        lossBegins(action);
        break;
      case REVIVE:
        backend.revive();
        lossEnds(action);
        break;
      case TRIP_BREAKER:
        lossBegins(action);
        backend.failNext(TRIP_COUNT, 500, null);
        break;
      case CLOSE_BREAKER:
        backend.failNext(0, 500, null);        // 500s not yet served are dropped
        clock.advance(TRIP_DURATION.multipliedBy(2));
        lossEnds(action);
        break;
      case RATE_LIMIT:
        backend.failNext(action.count(), 429, action.duration());
        break;
      case CUT_STREAM:
        backend.cutNextStreamAfter(action.count());
        break;
      case SLOW:
        backend.latency(action.duration());
        break;
      case FAST:
        backend.latency(Duration.ZERO);
        break;
      default:
        throw new AssertionError(action);
    }
  }

  private void lossBegins(Action action) {
    openLosses.put(action.backend(), System.nanoTime());
    openKinds.put(action.backend(), action.kind());
  }

  private void lossEnds(Action action) {
    Long start = openLosses.remove(action.backend());
    Kind kind = openKinds.remove(action.backend());
    if (start != null) {
      episodes.add(new LossEpisode(action.backend(), kind, start, System.nanoTime()));
    }
  }

  @Override
  public String toString() {
    return "FaultPlan[seed=" + seed + ", " + counts() + "]";
  }
}
