package io.github.affinity4j.benchmarks;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.core.internal.ChainRegistry;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.UUID;

/**
 * Issue 7, point 2: retained heap per tracked chain in the affinity store (no journal), and per
 * journaled turn of about 1 KiB of items, through the real engine: {@link ChainRegistry#bind} on
 * a {@link CaffeineAffinityStore}, and {@link CaffeineHistoryJournal#record}.
 *
 * <p>Each chain is bound to its own token built as the interceptor builds one from a parsed
 * {@code Set-Cookie}: new strings for name, value (40 characters, as the simulator issues),
 * domain and path, a {@code seenAt} instant, and the routing facts of an APIM response (region,
 * two request ids, rate-limit counts). Ids are {@code resp_} plus 48 characters, as the simulator
 * issues. A journaled turn names its parent with a string of its own, as one parsed from a
 * request body is. Heap is read with {@link MemoryMXBean} after repeated
 * {@link System#gc()} before and after the fill; caches run maintenance on the calling thread, so
 * nothing is pending in their buffers when the heap is read. Run it alone in its JVM for the
 * cleanest figures.
 */
final class MemoryHarness {
  private static final int CHAINS = 100_000;
  private static final int TURNS_PER_CHAIN = 8;
  private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

  private MemoryHarness() {}

  /** Measures, prints the table; returns whether every target holds. */
  static boolean run(String[] args) throws InterruptedException {
    boolean quick = List.of(args).contains("--quick");
    Random random = new Random(7);
    System.out.println("Memory: " + CHAINS + " chains bound in a CaffeineAffinityStore; "
        + CHAINS + " journaled turns (" + CHAINS / TURNS_PER_CHAIN + " chains x " + TURNS_PER_CHAIN
        + ") of ~1 KiB in a CaffeineHistoryJournal" + (quick ? " (same size in quick mode)" : ""));
    System.out.println();

    // --- affinity store, no journal ---
    // Each chain one response key with its own token: what the target is about.
    double perChain = storeBytesPerKey(CHAINS, 1, random);
    // Chains of 8 turns: the follow-up keys inherit the first turn's token (the same object).
    double perKeyInLongChains = storeBytesPerKey(CHAINS / TURNS_PER_CHAIN, TURNS_PER_CHAIN, random);

    // --- journal ---
    long jsonBytes = 0;
    long before = usedHeap();
    CaffeineHistoryJournal journal = CaffeineHistoryJournal.builder()
        .maximumEntries(2L * CHAINS).maximumBytes(1L << 30).executor(Runnable::run).build();
    for (int c = 0; c < CHAINS / TURNS_PER_CHAIN; c++) {
      String previous = null;
      for (int t = 1; t <= TURNS_PER_CHAIN; t++) {
        String id = randomId("resp_", 48, random);
        byte[] input = inputItems(c, t, random);
        byte[] output = outputItems(c, t, random);
        jsonBytes += input.length + output.length;
        journal.record(JournalTurn.builder().responseId(id)
            .previousResponseId(previous == null ? null : new String(previous))
            .input(input).output(output).build());
        previous = id;
      }
    }
    long journaled = journal.estimatedSize();
    if (journaled != CHAINS) {
      throw new IllegalStateException("expected " + CHAINS + " turns journaled, found " + journaled);
    }
    hold();
    long after = usedHeap();
    double perTurn = (after - before) / (double) CHAINS;
    double jsonPerTurn = jsonBytes / (double) CHAINS;
    Reference.reachabilityFence(journal);

    System.out.printf("| %-44s | %12s | %12s | %8s |%n", "what", "heap / unit", "JSON / unit", "ratio");
    System.out.println("|" + "-".repeat(46) + "|" + "-".repeat(14) + "|" + "-".repeat(14) + "|"
        + "-".repeat(10) + "|");
    System.out.printf("| %-44s | %10.0f B | %12s | %8s |%n",
        "new chain: 1 response key, own token", perChain, "-", "-");
    System.out.printf("| %-44s | %10.0f B | %12s | %8s |%n",
        TURNS_PER_CHAIN + "-turn chain, per response key", perKeyInLongChains, "-", "-");
    System.out.printf("| %-44s | %10.0f B | %12s | %8s |%n",
        TURNS_PER_CHAIN + "-turn chain, whole chain", perKeyInLongChains * TURNS_PER_CHAIN, "-", "-");
    System.out.printf("| %-44s | %10.0f B | %10.0f B | %7.2fx |%n",
        "journaled turn (" + journaled + " entries)", perTurn, jsonPerTurn, perTurn / jsonPerTurn);
    System.out.println();
    boolean chainPass = perChain <= 300;
    boolean journalPass = perTurn / jsonPerTurn <= 1.3;
    System.out.printf("  %-4s %-55s measured %.0f B%n", chainPass ? "PASS" : "MISS",
        "<= 300 B per tracked chain without journal", perChain);
    System.out.printf("  %-4s %-55s measured %.2fx%n", journalPass ? "PASS" : "MISS",
        "journal <= 1.3x the serialised JSON size", perTurn / jsonPerTurn);
    System.out.println(chainPass && journalPass ? "memory: all targets PASS" : "memory: some targets MISS");
    return chainPass && journalPass;
  }

  private static byte[] inputItems(int chain, int turn, Random random) {
    String text = "Chain " + chain + ", turn " + turn + ": " + words(200, random);
    return ("[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\""
        + text + "\"}]}]").getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] outputItems(int chain, int turn, Random random) {
    String text = words(560, random);
    return ("[{\"id\":\"" + randomId("msg_", 32, random) + "\",\"type\":\"message\",\"status\":"
        + "\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\""
        + text + "\",\"annotations\":[],\"logprobs\":[]}]}]").getBytes(StandardCharsets.UTF_8);
  }

  private static String words(int length, Random random) {
    StringBuilder text = new StringBuilder(length);
    while (text.length() < length) {
      int word = 2 + random.nextInt(8);
      for (int i = 0; i < word; i++) {
        text.append((char) ('a' + random.nextInt(26)));
      }
      text.append(' ');
    }
    return text.substring(0, length);
  }

  private static String randomId(String prefix, int length, Random random) {
    StringBuilder id = new StringBuilder(prefix.length() + length).append(prefix);
    for (int i = 0; i < length; i++) {
      id.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
    }
    return id.toString().toLowerCase(Locale.ROOT);
  }

  /**
   * Fills a store through {@link ChainRegistry#bind} with {@code chains} chains of {@code turns}
   * response keys each (the first bound to a fresh token, the rest inheriting it) and returns the
   * retained heap per key. The store's maximum size is the number of keys, as a user would size it.
   */
  private static double storeBytesPerKey(int chains, int turns, Random random)
      throws InterruptedException {
    long before = usedHeap();
    int keys = chains * turns;
    CaffeineAffinityStore store = CaffeineAffinityStore.builder()
        .maximumSize(keys).executor(Runnable::run).build();
    ChainRegistry registry = ChainRegistry.builder().store(store).build();
    Instant now = Instant.now();
    for (int c = 0; c < chains; c++) {
      // As the interceptor builds a token from a parsed Set-Cookie: new strings each time.
      AffinityToken token = AffinityToken.builder()
          .name(new String("APIM-Backend-Affinity"))
          .value(randomId("", 40, random))
          .domain(new String("my-apim.azure-api.net"))
          .path(new String("/"))
          .seenAt(now.plusNanos(c))
          .routing(new RoutingInfo(new String("Sweden Central"), new UUID(random.nextLong(), random.nextLong()).toString(),
              new UUID(random.nextLong(), random.nextLong()).toString(), 1_999L, 1_999_000L, null))
          .build();
      ChainKey previous = null;
      for (int t = 0; t < turns; t++) {
        ChainKey key = ChainKey.response(randomId("resp_", 48, random));
        registry.bind(key, previous, t == 0 ? token : null);
        previous = key;
      }
    }
    store.estimatedSize();
    long tracked = registry.stats().chainsTracked();
    if (tracked != keys) {
      throw new IllegalStateException("expected " + keys + " keys tracked, found " + tracked);
    }
    hold();
    long after = usedHeap();
    Reference.reachabilityFence(registry);
    Reference.reachabilityFence(store);
    return (after - before) / (double) keys;
  }

  /** With -Daffinity4j.bench.hold=true, waits 30 s for {@code jcmd <pid> GC.class_histogram}. */
  private static void hold() throws InterruptedException {
    if (Boolean.getBoolean("affinity4j.bench.hold")) {
      System.out.println("holding for 30 s; pid " + ProcessHandle.current().pid());
      Thread.sleep(30_000);
    }
  }

  /** Heap in use after the collector has had several chances to clear everything unreachable. */
  static long usedHeap() throws InterruptedException {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 6; i++) {
      System.gc();
      Thread.sleep(50);
      used = Math.min(used, memory.getHeapMemoryUsage().getUsed());
    }
    return used;
  }
}
