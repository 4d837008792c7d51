package io.github.affinity4j.examples;

import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The probe's {@code --simulator} options: an embedded {@link ApimSimulator} on loopback to probe
 * instead of a real gateway, its pool size, and a backend to kill part-way. Mixed into
 * {@link ProbeCommand}; picocli sets the fields. Not thread-safe; one run at a time.
 */
final class ProbeSimulator {
  /** The API key sent to the simulator, which checks none; not a secret. */
  static final String API_KEY = "simulator-key-not-a-secret";
  static final int DEFAULT_BACKENDS = 3;
  // Seeded, as the demo's, so that a run's ids and cookies are the same every time.
  private static final long SEED = 20_250_601L;

  @Option(names = "--simulator", order = 20,
      description = "Probe an embedded APIM simulator on loopback (round-robin pool, cookie "
          + "affinity) instead of a gateway: no --base-url, no key.")
  private boolean enabled;

  @Option(names = "--backends", paramLabel = "N", order = 21,
      description = "With --simulator: backends in the pool, 1 to 30; default "
          + DEFAULT_BACKENDS + ".")
  private @Nullable Integer backends;

  @Option(names = "--kill-backend", paramLabel = "N", order = 22,
      description = "With --simulator: kill backend N (1 = the first) once every conversation "
          + "has had --kill-after-turn turns; the remaining turns follow.")
  private @Nullable Integer killBackend;

  @Option(names = "--kill-after-turn", paramLabel = "T", order = 23,
      description = "With --kill-backend: the turn after which the backend dies; default 1.")
  private @Nullable Integer killAfterTurn;

  /** Whether {@code --simulator} was given. */
  boolean enabled() {
    return enabled;
  }

  /** The turn after which a backend is killed; 0 if none is. */
  int killAfterTurn() {
    return killBackend == null ? 0 : killAfterTurn == null ? 1 : killAfterTurn;
  }

  /**
   * Checks the options against each other and {@code turns}.
   *
   * @throws ParameterException (made by {@code usage}) for options that do not go together
   */
  void validate(int turns, Function<String, ParameterException> usage) {
    if (!enabled) {
      if (backends != null || killBackend != null || killAfterTurn != null) {
        throw usage.apply("--backends, --kill-backend and --kill-after-turn need --simulator");
      }
      return;
    }
    int pool = pool();
    if (pool < 1 || pool > 30) {
      throw usage.apply("--backends must be 1 to 30, as in an APIM pool, was " + pool);
    }
    if (killAfterTurn != null && killBackend == null) {
      throw usage.apply("--kill-after-turn needs --kill-backend");
    }
    if (killBackend != null && (killBackend < 1 || killBackend > pool)) {
      throw usage.apply("--kill-backend must be 1 to " + pool + " (--backends), was " + killBackend);
    }
    if (killBackend != null && (killAfterTurn() < 1 || killAfterTurn() >= turns)) {
      throw usage.apply("--kill-after-turn must be 1 to " + (turns - 1) + " (a turn must follow it), "
          + "was " + killAfterTurn());
    }
  }

  /** Starts the simulator. */
  ApimSimulator start() {
    return ApimSimulator.builder().backends(pool()).random(new Random(SEED)).start();
  }

  /** The backend to kill, or null if none is. */
  @Nullable SimulatedBackend victim(ApimSimulator apim) {
    return killBackend == null ? null : apim.backends().get(killBackend - 1);
  }

  /** The comment lines that describe the pool, e.g. {@code simulator: 3 backends: backend-1 (East US), …}. */
  List<String> describe(ApimSimulator apim) {
    List<String> names = new ArrayList<>();
    for (SimulatedBackend backend : apim.backends()) {
      names.add(backend.name() + " (" + backend.region() + ")");
    }
    List<String> lines = new ArrayList<>();
    lines.add("simulator: " + names.size() + " backends, round-robin, cookie " + apim.cookieName()
        + ": " + String.join(", ", names));
    SimulatedBackend victim = victim(apim);
    if (victim != null) {
      lines.add("simulator: " + victim.name() + " (" + victim.region() + ") is killed after turn "
          + killAfterTurn() + " of every conversation; turns run in that order");
    }
    return lines;
  }

  private int pool() {
    return backends == null ? DEFAULT_BACKENDS : backends;
  }
}
