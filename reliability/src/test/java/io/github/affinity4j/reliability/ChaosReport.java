package io.github.affinity4j.reliability;

import com.openai.errors.OpenAIException;
import com.openai.errors.OpenAIIoException;
import com.openai.errors.OpenAIServiceException;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.reliability.ChaosRun.Attempt;
import io.github.affinity4j.reliability.ChaosRun.RepairEvent;
import io.github.affinity4j.reliability.ChaosRun.Style;
import io.github.affinity4j.reliability.ChaosRun.Turn;
import io.github.affinity4j.reliability.FaultPlan.LossEpisode;
import io.github.affinity4j.testkit.PinnedBackendMode;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import io.github.affinity4j.core.internal.LostPins;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * What a {@link ChaosRun} saw, judged against the chaos invariants. Each check keeps its
 * violations (empty when the invariant held), with enough detail to find the turn, and the
 * figures; the run's raw records are judged in the constructor and not kept, so that the heap the
 * run leaves behind can be measured with the report alive.
 */
final class ChaosReport {
  private static final int MAX_EXAMPLES = 10;
  /** A run may retain this much heap after everything it made was released. */
  static final long RETAINED_HEAP_BOUND = 8L << 20;

  /** Everything the run observed, captured before it released the clients and the pool. */
  record Observed(SuiteSize size, long seed, PinnedBackendMode mode, FaultPlan plan, List<LossEpisode> episodes,
      List<Turn> turns, PinCheck.Result pins, TenantCheck.Result tenants, List<Attempt> attempts,
      List<RepairEvent> repairs, long repairsStarted, long repairsFailed, Map<String, RepairStats> repairStats,
      ResourceProbe.Pool pool, long peakHeapBytes, long elapsedNanos, boolean finishedInTime,
      List<Throwable> harnessErrors) {}

  /**
   * The outcome of one check.
   *
   * @param count how many violations
   * @param examples the first few, as text
   */
  record Verdict(long count, List<String> examples) {
    static Verdict of(List<String> problems) {
      return new Verdict(problems.size(), List.copyOf(problems.size() <= MAX_EXAMPLES ? problems
          : problems.subList(0, MAX_EXAMPLES)));
    }
  }

  final SuiteSize size;
  final long seed;
  final PinnedBackendMode mode;
  final long turns;
  final long successes;
  final long lossEpisodes;
  final long repairs;
  final List<String> harnessErrors;
  final boolean finishedInTime;
  final Verdict context;
  final Verdict untyped;
  final Verdict unnamed;
  final Verdict unnamedRepairFailures;
  final Verdict conversationState;
  final PinCheck.Result pins;
  final TenantCheck.Result tenants;
  /** Cross-tenant attempts made, and of those, resumes tried. */
  final long attempts;
  final long resumeAttempts;
  /** Attempts that got anything of the victim's chain: a resumed conversation, a repair by replay. */
  final Verdict attemptLeaks;
  final Verdict unattributedRepairs;
  final Verdict unjustifiedRepairs;
  final Verdict chainsOverRepaired;
  final ResourceProbe.Pool pool;
  private final String figuresBeforeRelease;
  private ResourceProbe.After after;

  // Only while judging, in the constructor.
  private Observed run;
  private Map<Integer, List<Turn>> turnsByConversation;
  private Map<String, Integer> owners;

  ChaosReport(Observed observed) {
    this.run = observed;
    this.turnsByConversation = observed.turns().stream()
        .collect(Collectors.groupingBy(Turn::conversation, TreeMap::new, Collectors.toList()));
    turnsByConversation.values().forEach(list -> list.sort((a, b) -> Integer.compare(a.index(), b.index())));
    this.owners = owners(observed.turns());

    size = observed.size();
    seed = observed.seed();
    mode = observed.mode();
    turns = observed.turns().size();
    successes = observed.turns().stream().filter(Turn::succeeded).count();
    lossEpisodes = observed.episodes().size();
    repairs = observed.repairs().size();
    harnessErrors = observed.harnessErrors().stream().map(String::valueOf).toList();
    finishedInTime = observed.finishedInTime();
    context = Verdict.of(contextViolations());
    untyped = Verdict.of(untypedFailures());
    unnamed = Verdict.of(unnamedFailures());
    unnamedRepairFailures = Verdict.of(unnamedRepairFailuresOf());
    conversationState = Verdict.of(conversationStateViolations());
    pins = observed.pins();
    tenants = observed.tenants();
    attempts = observed.attempts().size();
    resumeAttempts = observed.attempts().stream().filter(attempt -> attempt.style() != Style.INTERCEPTOR).count();
    attemptLeaks = Verdict.of(attemptLeaksOf());
    unattributedRepairs = Verdict.of(unattributedRepairsOf());
    unjustifiedRepairs = Verdict.of(unjustifiedRepairsOf());
    chainsOverRepaired = Verdict.of(chainsRepairedMoreThanTheirLosses());
    pool = observed.pool();
    figuresBeforeRelease = figuresOfRun();

    this.run = null;
    this.turnsByConversation = null;
    this.owners = null;
  }

  /** Adds what was measured after the run's release. */
  ChaosReport measured(ResourceProbe.After after) {
    this.after = after;
    return this;
  }

  /** The owner of every response id a caller saw succeed. */
  static Map<String, Integer> owners(List<Turn> turns) {
    Map<String, Integer> owners = new HashMap<>();
    turns.stream().filter(Turn::succeeded).forEach(turn -> owners.put(turn.responseId(), turn.conversation()));
    return owners;
  }

  // --- invariant 1: every turn whole, or a typed failure that says why ---

  /** Successful turns whose answer did not see the whole conversation, or was not this turn's. */
  private List<String> contextViolations() {
    List<String> problems = new ArrayList<>();
    for (Turn turn : run.turns()) {
      if (!turn.succeeded()) {
        continue;
      }
      SimulatedAnswer answer;
      try {
        answer = SimulatedAnswer.parse(turn.answerText());
      } catch (IllegalArgumentException e) {
        problems.add(describe(turn) + ": not a simulated answer: " + turn.answerText());
        continue;
      }
      if (answer.userMessages() != turn.expectedUserMessages()) {
        problems.add(describe(turn) + ": the model saw " + answer.userMessages() + " user messages, the"
            + " conversation had " + turn.expectedUserMessages() + (answer.userMessages() < turn.expectedUserMessages()
                ? " (context lost)" : " (a turn the caller saw fail is in the context)"));
      } else if (!answer.lastUserMessage().equals(ChaosRun.marker(turn.conversation(), turn.index()))) {
        problems.add(describe(turn) + ": answered another message: " + answer.lastUserMessage());
      }
    }
    return problems;
  }

  /** Failures that are not the SDK's typed exceptions (an NPE, an IllegalStateException, a silent end). */
  private List<String> untypedFailures() {
    List<String> problems = new ArrayList<>();
    for (Turn turn : run.turns()) {
      if (!turn.succeeded() && !(turn.failure().error() instanceof OpenAIException)) {
        problems.add(describe(turn) + ": " + turn.failure().error());
      }
    }
    return problems;
  }

  /**
   * Failures that do not name the chain the turn continued, as a value (a {@link ChainNote} on the
   * exception or one of its causes, or header {@value ChainNote#HEADER} of the error response an
   * interceptor passed on), or do not name a cause: the status of a service error, the I/O failure
   * under an {@code OpenAIIoException}.
   */
  private List<String> unnamedFailures() {
    List<String> problems = new ArrayList<>();
    for (Turn turn : run.turns()) {
      if (turn.succeeded()) {
        continue;
      }
      Throwable error = turn.failure().error();
      if (turn.previousResponseId() != null
          && !namesChain(error, ChainKey.response(turn.previousResponseId()).in(turn.scope()))) {
        problems.add(describe(turn) + ": does not name chain response:" + turn.previousResponseId() + ": "
            + summary(error));
      }
      boolean namesCause = error instanceof OpenAIServiceException
          || (error instanceof OpenAIIoException && error.getCause() != null)
          || (error instanceof OpenAIException && !(error instanceof OpenAIIoException) && error.getMessage() != null);
      if (!namesCause) {
        problems.add(describe(turn) + ": names no cause: " + summary(error));
      }
    }
    return problems;
  }

  /**
   * How affinity4j named the chain of a failed turn, as values: the reason and the chain (its
   * {@code kind:id}), and the kind of break if known. From a {@link ChainNote} on the failure or one
   * of its causes; else from header {@value ChainNote#HEADER} of the SDK's error, which is how an
   * interceptor names an error response (it carries no kind of break: the SDK's error, its status
   * and code, says what broke).
   */
  record Naming(ChainNote.Reason reason, String chain, Optional<ChainBreak.Kind> brokenBy, boolean byNote) {

    static Optional<Naming> of(Throwable error) {
      Optional<ChainNote> note = ChainNote.find(error);
      if (note.isPresent()) {
        return Optional.of(new Naming(note.get().reason(), note.get().chain().toString(), note.get().brokenBy(), true));
      }
      for (String header : noteHeaders(error)) {
        ChainNote.Reason reason = ChainNote.reasonIn(header);
        if (reason != null) {
          return Optional.of(new Naming(reason, header.substring(header.indexOf(' ') + 1), Optional.empty(), false));
        }
      }
      return Optional.empty();
    }
  }

  /** The {@value ChainNote#HEADER} values of the SDK's errors in {@code error} and its causes. */
  static List<String> noteHeaders(Throwable error) {
    List<String> values = new ArrayList<>();
    int depth = 0;
    for (Throwable current = error; current != null && depth < 16; current = current.getCause(), depth++) {
      if (current instanceof OpenAIServiceException service) {
        values.addAll(service.headers().values(ChainNote.HEADER));
      }
    }
    return values;
  }

  /**
   * Whether {@code error} names {@code chain}, as a value: a note on it or one of its causes by the
   * whole key, scope included (a note must name the caller's chain, not another tenant's of the same
   * id); or the header of an error response an interceptor passed on, by {@code kind:id} (the
   * interceptor named the chain of the request it saw, the caller's).
   */
  static boolean namesChain(Throwable error, ChainKey chain) {
    int depth = 0;
    for (Throwable current = error; current != null && depth < 16; current = current.getCause(), depth++) {
      for (Throwable suppressed : current.getSuppressed()) {
        if (suppressed instanceof ChainNote note && note.chain().equals(chain)) {
          return true;
        }
      }
    }
    for (String header : noteHeaders(error)) {
      if (ChainNote.reasonIn(header) != null && header.substring(header.indexOf(' ') + 1).equals(chain.toString())) {
        return true;
      }
    }
    return false;
  }

  /** The exception's type and message, its causes' and their notes, shortened. */
  private static String summary(Throwable error) {
    StringBuilder out = new StringBuilder();
    int depth = 0;
    for (Throwable current = error; current != null && depth < 4; current = current.getCause(), depth++) {
      out.append(depth == 0 ? "" : " <- ").append(current);
      for (Throwable suppressed : current.getSuppressed()) {
        if (suppressed instanceof ChainNote note) {
          out.append(" [with ").append(note.getMessage()).append(']');
        }
      }
    }
    return out.length() > 400 ? out.substring(0, 400) + "…" : out.toString();
  }

  /**
   * Repairs that failed ({@link ChainNote.Reason#REPAIR_FAILED}) without naming, as values, the
   * chain and what broke: a note's kind of break, or, named by header, the SDK's service error
   * (its status and code); and whose message does not hold the chain's id.
   */
  private List<String> unnamedRepairFailuresOf() {
    List<String> problems = new ArrayList<>();
    for (Turn turn : run.turns()) {
      if (turn.succeeded()) {
        continue;
      }
      Throwable error = turn.failure().error();
      Optional<Naming> naming = Naming.of(error);
      if (naming.isEmpty() || naming.get().reason() != ChainNote.Reason.REPAIR_FAILED) {
        continue;
      }
      boolean namesChain = turn.previousResponseId() != null
          && namesChain(error, ChainKey.response(turn.previousResponseId()).in(turn.scope()))
          && turn.failure().message().contains(turn.previousResponseId());
      boolean namesCause = naming.get().byNote() ? naming.get().brokenBy().isPresent()
          : error instanceof OpenAIServiceException;
      if (!namesChain || !namesCause) {
        problems.add(describe(turn) + ": " + naming.get() + ": " + summary(error));
      }
    }
    return problems;
  }

  /**
   * Conversations that moved on to a response other than the one the caller got, or moved on when
   * the caller got an exception ("a failed turn leaves the conversation where it was").
   */
  private List<String> conversationStateViolations() {
    List<String> problems = new ArrayList<>();
    for (Turn turn : run.turns()) {
      if (turn.style() == Style.INTERCEPTOR) {
        continue;
      }
      String expected = turn.succeeded() ? turn.responseId() : turn.previousResponseId();
      if (!java.util.Objects.equals(expected, turn.stateAfter())) {
        problems.add(describe(turn) + ": lastResponseId() is " + turn.stateAfter() + ", expected " + expected);
      }
    }
    return problems;
  }

  /** Failures by cause: the exception's type, its status, and whether a repair gave up. */
  private Map<String, Long> failuresByCause() {
    return run.turns().stream().filter(turn -> !turn.succeeded())
        .collect(Collectors.groupingBy(ChaosReport::cause, TreeMap::new, Collectors.counting()));
  }

  /** One message per cause, shortened, to show what a caller reads. */
  private Map<String, String> exampleMessages() {
    Map<String, String> examples = new TreeMap<>();
    // A turn that continued a chain first: its failure shows how the chain is named.
    for (boolean continued : new boolean[] {true, false}) {
      for (Turn turn : run.turns()) {
        if (!turn.succeeded() && (turn.previousResponseId() != null) == continued) {
          examples.putIfAbsent(cause(turn), summary(turn.failure().error()));
        }
      }
    }
    return examples;
  }

  static String cause(Turn turn) {
    return cause(turn.failure().error(), turn.mode());
  }

  /** The exception's type, its status, and whether a repair gave up or a stream broke. */
  static String cause(Throwable error, ChaosRun.Mode mode) {
    StringBuilder cause = new StringBuilder(error.getClass().getSimpleName());
    if (error instanceof OpenAIServiceException service) {
      cause.append(' ').append(service.statusCode());
    }
    if (Naming.of(error).map(Naming::reason).orElse(null) == ChainNote.Reason.REPAIR_FAILED) {
      cause.append(" (repair failed)");
    } else if (mode == ChaosRun.Mode.STREAM && !(error instanceof OpenAIServiceException)) {
      cause.append(" (stream)");
    }
    return cause.toString();
  }

  // --- invariant 2: no pin, and no content, of another conversation or tenant ---

  /**
   * Attempts that got anything of the victim's chain on the caller's side: a resumed conversation,
   * or a repair by replay during the attempt (the journal knew the victim's history in the
   * attacker's scope). What such a leak sent is judged from the request log by {@link TenantCheck}.
   */
  private List<String> attemptLeaksOf() {
    List<String> problems = new ArrayList<>();
    for (Attempt attempt : run.attempts()) {
      if (attempt.leak() != null) {
        problems.add("attempt " + attempt.number() + " (" + attempt.style() + "): " + attempt.leak());
      }
    }
    for (RepairEvent repair : run.repairs()) {
      if (repair.replayed() && turnOf(repair).isEmpty()) {
        attemptOf(repair).ifPresent(attempt -> problems.add("attempt " + attempt.number() + " by tenant "
            + attempt.attacker() + " on " + attempt.victimResponseId() + " (conversation " + attempt.victim()
            + ") was repaired by a replay"));
      }
    }
    return problems;
  }

  /** The attempts by outcome. */
  private Map<String, Long> attemptsByOutcome() {
    return run.attempts().stream().collect(Collectors.groupingBy(Attempt::outcome, TreeMap::new,
        Collectors.counting()));
  }

  // --- invariant 3: repairs follow losses ---

  /** Repairs no turn of the chain's owner was running when they happened. */
  private List<String> unattributedRepairsOf() {
    List<String> problems = new ArrayList<>();
    for (RepairEvent repair : run.repairs()) {
      if (turnOf(repair).isEmpty() && attemptOf(repair).isEmpty()) {
        problems.add("repair of response:" + repair.chainResponseId() + " (conversation "
            + owners.get(repair.chainResponseId()) + ") outside any of its owner's turns");
      }
    }
    return problems;
  }

  /** Turns with more than one repair, or a repair while the chain's backend was not lost. */
  private List<String> unjustifiedRepairsOf() {
    Map<Turn, Integer> repairsPerTurn = repairsPerTurn();
    List<String> problems = new ArrayList<>();
    repairsPerTurn.forEach((turn, count) -> {
      if (count > 1) {
        problems.add(describe(turn) + ": repaired " + count + " times in one turn");
      } else if (!metLoss(turn)) {
        problems.add(describe(turn) + ": repaired, but " + turn.homeBefore() + ", which held "
            + turn.previousResponseId() + ", was not lost during the turn");
      }
    });
    return problems;
  }

  /** Chains with more repairs than backend losses they met (turns whose backend was lost meanwhile). */
  private List<String> chainsRepairedMoreThanTheirLosses() {
    Map<Turn, Integer> repairsPerTurn = repairsPerTurn();
    List<String> problems = new ArrayList<>();
    turnsByConversation.forEach((conversation, turns) -> {
      long repairs = turns.stream().mapToLong(turn -> repairsPerTurn.getOrDefault(turn, 0)).sum();
      long losses = turns.stream().filter(this::metLoss).count();
      if (repairs > losses) {
        problems.add("conversation " + conversation + ": " + repairs + " repairs, " + losses + " losses met");
      }
    });
    return problems;
  }

  private long turnsThatMetALoss() {
    return run.turns().stream().filter(this::metLoss).count();
  }

  private long maxRepairsPerChain() {
    Map<Turn, Integer> repairsPerTurn = repairsPerTurn();
    return turnsByConversation.values().stream()
        .mapToLong(turns -> turns.stream().mapToLong(turn -> repairsPerTurn.getOrDefault(turn, 0)).sum())
        .max().orElse(0);
  }

  private long chainsRepaired() {
    Map<Turn, Integer> repairsPerTurn = repairsPerTurn();
    return repairsPerTurn.keySet().stream().map(Turn::conversation).distinct().count();
  }

  /**
   * Whether the backend that held the turn's chain was lost during the turn, or shortly before it:
   * a backend seen lost is replayed around at once until a probe on its pin hears it again (at
   * most one {@link LostPins#PROBE} after it is back, plus that probe's time).
   */
  private boolean metLoss(Turn turn) {
    long learned = 2 * LostPins.PROBE.toNanos();
    return turn.homeBefore() != null && run.episodes().stream()
        .anyMatch(episode -> episode.backend().equals(turn.homeBefore())
            && episode.overlaps(turn.startNanos() - learned, turn.endNanos()));
  }

  private Map<Turn, Integer> repairsPerTurn() {
    Map<Turn, Integer> counts = new HashMap<>();
    for (RepairEvent repair : run.repairs()) {
      turnOf(repair).ifPresent(turn -> counts.merge(turn, 1, Integer::sum));
    }
    return counts;
  }

  /**
   * The turn of the chain's owner that the repair happened in. When the other tenant was trying
   * the same response at that moment, the repair is the turn's only if it was made in the turn's
   * scope.
   */
  private Optional<Turn> turnOf(RepairEvent repair) {
    Integer owner = owners.get(repair.chainResponseId());
    if (owner == null) {
      return Optional.empty();
    }
    Optional<Turn> turn = turnsByConversation.get(owner).stream()
        .filter(t -> repair.chainResponseId().equals(t.previousResponseId())
            && t.startNanos() <= repair.nanos() && repair.nanos() <= t.endNanos())
        .findFirst();
    if (turn.isPresent() && attemptOf(repair).isPresent()
        && !java.util.Objects.equals(repair.scope(), turn.get().scope())) {
      return Optional.empty();
    }
    return turn;
  }

  /**
   * The cross-tenant attempt that named the repaired response while the repair happened. None is
   * expected: the attacker's scope holds no pin and no history of that response. Without scoping,
   * the victim's chain is repaired (replayed) on the attacker's behalf.
   */
  private Optional<Attempt> attemptOf(RepairEvent repair) {
    return run.attempts().stream()
        .filter(attempt -> attempt.victimResponseId().equals(repair.chainResponseId())
            && attempt.startNanos() <= repair.nanos() && repair.nanos() <= attempt.endNanos())
        .findFirst();
  }

  // --- invariant 4: the process ends clean ---

  List<String> resourceViolations() {
    List<String> problems = new ArrayList<>();
    if (!pool.quiet()) {
      problems.add("OkHttp not idle after the run: " + pool);
    }
    if (!after.leftThreads().isEmpty()) {
      problems.add("non-daemon threads left: " + after.leftThreads());
    }
    if (after.retainedBytes() > RETAINED_HEAP_BOUND) {
      problems.add("heap retained after release: " + mib(after.retainedBytes()) + " MiB, bound "
          + mib(RETAINED_HEAP_BOUND) + " MiB");
    }
    return problems;
  }

  // --- figures ---

  /** The figures, as printed and as RELIABILITY.md quotes them. */
  String figures() {
    return figuresBeforeRelease + String.format("  after release: heap retained %d MiB (bound %d MiB),"
            + " OkHttp %s, non-daemon threads left: %s%n",
        mib(after.retainedBytes()), mib(RETAINED_HEAP_BOUND), pool,
        after.leftThreads().isEmpty() ? "none" : after.leftThreads());
  }

  private String figuresOfRun() {
    long failures = turns - successes;
    long byReplay = run.repairs().stream().filter(RepairEvent::replayed).count();
    StringBuilder out = new StringBuilder();
    out.append(String.format("affinity4j chaos suite (%s, %s): seed=%d (replay with -D%s=%d)%n",
        size.label(), mode, seed, SuiteSize.SEED_PROPERTY, seed));
    out.append(String.format("  workload: %d conversations x %d turns on %d threads, 3 backends, styles"
            + " interceptor/conversation/layered, turns sync/async/stream 50/20/30%%, tenants A and B (two keys,"
            + " B's conversation style on a second origin) on one interceptor, store and journal%n",
        size.conversations, size.turns, size.threads));
    out.append(String.format("  faults planned: %s; loss episodes: %d%n", run.plan().counts(), lossEpisodes));
    out.append(String.format("  turns=%d successes=%d typed failures=%d untyped failures=%d"
            + " (failures of a continued chain not naming it or a cause: %d)%n", turns, successes,
        failures - untyped.count(), untyped.count(), unnamed.count()));
    out.append(String.format("  failures by cause: %s%n", failuresByCause()));
    exampleMessages().forEach((cause, message) ->
        out.append(String.format("    e.g. %s: %s%n", cause, message.replace('\n', ' '))));
    out.append(String.format("  repairs=%d (by replay %d, by retry %d), repairs started=%d, failed=%d;"
            + " chains repaired=%d, max repairs per chain=%d; turns that met a backend loss=%d%n",
        repairs, byReplay, repairs - byReplay, run.repairsStarted(), run.repairsFailed(),
        chainsRepaired(), maxRepairsPerChain(), turnsThatMetALoss()));
    out.append(String.format("  requests=%d: continued=%d (with their own pin %d, unpinned %d), new chains and"
            + " replays=%d (replays %d); pin or content of another chain: %d%n",
        pins.requests(), pins.continued(), pins.pinned(), pins.unpinnedContinuations(), pins.fresh(),
        pins.replays(), pins.violations()));
    out.append(String.format("  tenants: requests %s, replays %s; cross-tenant attempts=%d (resumes %d) %s,"
            + " sent naming the other tenant's response=%d, replayed=%d, pinned=%d, with its content=%d;"
            + " attempts that got any of the victim's chain=%d%n",
        tenants.requestsByTenant(), tenants.replaysByTenant(), attempts, resumeAttempts, attemptsByOutcome(),
        tenants.crossTenantRequests(), tenants.attackReplays(), tenants.pinnedAttacks(),
        tenants.attacksWithForeignContent(), attemptLeaks.count()));
    out.append(String.format("  requests with no tenant's key=%d, with the other tenant's content=%d, response id"
            + " (outside attempts)=%d, pin=%d%n", tenants.unattributed(), tenants.foreignContent(),
        tenants.foreignResponseIds(), tenants.foreignPins()));
    out.append("  repair counters:");
    run.repairStats().forEach((layer, stats) -> out.append(' ').append(layer).append(' ').append(stats).append(';'));
    out.append(System.lineSeparator());
    out.append(String.format("  heap: peak %d MiB in use (not collected); elapsed %.1f s%s%n",
        mib(run.peakHeapBytes()), run.elapsedNanos() / 1e9, finishedInTime ? "" : " (DID NOT FINISH IN TIME)"));
    return out.toString();
  }

  /** Prints the figures and writes them to {@code target/reliability/}. */
  void publish() {
    String figures = figures();
    System.out.print(figures);
    Path file = Path.of("target", "reliability",
        "chaos-" + size.label() + "-" + mode.name().toLowerCase(java.util.Locale.ROOT) + ".txt");
    try {
      Files.createDirectories(file.getParent());
      Files.writeString(file, figures, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Optional<String> backendOf(String answerText) {
    try {
      return Optional.of(SimulatedAnswer.parse(answerText).backend());
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private static String describe(Turn turn) {
    return "conversation " + turn.conversation() + " turn " + turn.index() + " (tenant " + turn.tenant() + ", "
        + turn.style() + ", " + turn.mode() + ")";
  }

  private static long mib(long bytes) {
    return bytes >> 20;
  }
}
