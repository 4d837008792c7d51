package io.github.affinity4j.benchmarks;

import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.JournalTurn;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.redis.RedisAffinityStore;
import io.github.affinity4j.redis.RedisConnector;
import io.github.affinity4j.redis.RedisHistoryJournal;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntConsumer;

/**
 * {@code redis}: what a lookup costs with the Redis store next to the in-memory one, on one Redis
 * and on a Redis Cluster, on loopback. Latency: one thread, one pin lookup at a time (p50, p99,
 * mean). Throughput: 8 threads sharing one store (for Redis, one connector: one connection,
 * commands pipelined). Also a repair's history read of a 10-turn chain and a turn's record, by the
 * instance that recorded the chain and by another that meets it first (on a cluster, that one must
 * find the chain's root first). Prints a table with the Redis / Caffeine and Cluster / Redis ratios.
 * And the round trips a Redis-backed pinned turn waits for (its pin lookup, bind and journal record,
 * one after the other as the engine makes them), measured through a loopback proxy that holds every
 * reply of Redis for {@value #PROXY_DELAY_MILLIS} ms: the turn's time over that delay, with a
 * PASS/MISS line against the target of 1 (one node only: a cluster announces its nodes' own ports).
 *
 * <pre>
 * java -jar benchmarks/target/affinity4j-benchmarks.jar redis [--quick] [--redis-uri redis://host:port]
 *     [--cluster-uri redis://host:port,redis://host2:port]
 * </pre>
 *
 * <p>Without {@code --redis-uri}, starts {@code redis-server} from the PATH on a free loopback port;
 * without {@code --cluster-uri}, six more as a cluster of three masters with a replica each, joined
 * with {@code redis-cli --cluster create} (skipped if redis-cli is missing); no persistence; all
 * stopped at the end.
 */
public final class StoreLookupBenchmark {

  private static final int KEYS = 10_000;
  private static final int CHAINS = 100;
  private static final int THREADS = 8;
  private static final int PROXY_DELAY_MILLIS = 20;

  private StoreLookupBenchmark() {}

  /** Measures and prints the table; returns whether a pinned turn waits for one round trip at most. */
  static boolean run(String[] args) throws Exception {
    boolean quick = Arrays.asList(args).contains("--quick");
    String uri = option(args, "--redis-uri");
    String clusterSeeds = option(args, "--cluster-uri");
    int latencyOps = quick ? 20_000 : 100_000;
    Duration window = quick ? Duration.ofSeconds(1) : Duration.ofSeconds(5);
    List<Process> servers = new ArrayList<>();
    Path dir = Files.createTempDirectory("affinity4j-bench-redis");
    try {
      if (uri == null) {
        int port = freePort();
        servers.add(startRedis(port, dir.resolve("standalone")));
        uri = "redis://127.0.0.1:" + port;
      }
      String[] seeds = clusterSeeds != null ? clusterSeeds.split(",") : startCluster(dir, servers);
      Measured caffeine = measure(null, latencyOps, window);
      Measured redis;
      Measured cluster = null;
      try (Connectors standalone = new Connectors(RedisConnector.builder().uri(uri))) {
        redis = measure(standalone, latencyOps, window);
      }
      if (seeds != null) {
        try (Connectors clustered = new Connectors(RedisConnector.builder().cluster(seeds))) {
          cluster = measure(clustered, latencyOps, window);
        }
      }
      print(uri, seeds, caffeine, redis, cluster);
      boolean plain = uri.startsWith("redis://");
      double roundTrips = plain ? roundTripsPerTurn(uri, quick ? 50 : 200, false) : Double.NaN;
      double waited = plain ? roundTripsPerTurn(uri, quick ? 20 : 50, true) : Double.NaN;
      System.out.println();
      System.out.printf(Locale.ROOT, "Round trips a Redis-backed pinned turn waits for (lookup, bind, record; each reply"
          + " held %d ms; median turn over that): %.2f (each write's reply waited for, as before: %.2f)%n",
          PROXY_DELAY_MILLIS, roundTrips, waited);
      boolean pass = roundTrips < 1.5;
      System.out.printf(Locale.ROOT, "  %-4s %-55s measured %.2f%n", pass ? "PASS" : "MISS",
          "1 round trip on the request's path", roundTrips);
      System.out.println(pass ? "redis: all targets PASS" : "redis: some targets MISS");
      return pass;
    } finally {
      for (Process server : servers) {
        server.destroy();
        server.waitFor(10, TimeUnit.SECONDS);
      }
      deleteRecursively(dir);
    }
  }

  /**
   * A pinned turn's calls through a proxy that holds Redis' replies for {@value #PROXY_DELAY_MILLIS}
   * ms each: the median turn time over that delay is the number of round trips the turn waited for.
   * {@code awaitEachWrite} waits for the bind's and the record's replies too, as they were before.
   */
  private static double roundTripsPerTurn(String uri, int turns, boolean awaitEachWrite) throws Exception {
    java.net.URI target = java.net.URI.create(uri);
    long delay = TimeUnit.MILLISECONDS.toNanos(PROXY_DELAY_MILLIS);
    try (DelayingProxy proxy = new DelayingProxy(target.getHost(), target.getPort(), delay);
        RedisConnector connector = RedisConnector.builder().uri(new java.net.URI(target.getScheme(),
            target.getUserInfo(), "127.0.0.1", proxy.port(), target.getPath(), null, null).toString())
            .keyPrefix("affinity4j-bench-rt:" + System.nanoTime() + ":").commandTimeout(Duration.ofSeconds(5)).build()) {
      AffinityStore store = RedisAffinityStore.builder().connector(connector).build();
      HistoryJournal journal = RedisHistoryJournal.builder().connector(connector).build();
      byte[] items = "[{\"role\":\"user\",\"content\":\"hi\"}]".getBytes(StandardCharsets.UTF_8);
      long[] nanos = new long[turns];
      for (int i = -10; i < turns; i++) { // the first 10 connect and load the scripts
        long start = System.nanoTime();
        store.get(ChainKey.response("resp_rt_" + (i - 1)));
        store.put(ChainKey.response("resp_rt_" + i), token(i + 10));
        if (awaitEachWrite) {
          connector.awaitWrites(Duration.ofSeconds(5));
        }
        journal.record(JournalTurn.builder().responseId("resp_rt_" + i).previousResponseId("resp_rt_" + (i - 1))
            .input(items).output(items).build());
        if (awaitEachWrite) {
          connector.awaitWrites(Duration.ofSeconds(5));
        }
        if (i >= 0) {
          nanos[i] = System.nanoTime() - start;
        }
      }
      if (!connector.awaitWrites(Duration.ofSeconds(10)) || connector.fallbacks() > 0 || connector.droppedWrites() > 0) {
        throw new IllegalStateException("Redis did not take every write: " + connector);
      }
      Arrays.sort(nanos);
      return percentile(nanos, 50) / (double) delay;
    }
  }

  /** What one deployment measured, in nanoseconds (lookups per second for the throughput). */
  private record Measured(long lookupP50, long lookupP99, long lookupMean, double lookupsPerSecond, long bindP50,
      long historyP50, long recordP50, long historyElsewhereP50, long recordElsewhereP50) {}

  /** Two connectors to one deployment: one instance's, and another instance's that saw nothing. */
  private static final class Connectors implements AutoCloseable {
    final RedisConnector mine;
    final RedisConnector other;

    Connectors(RedisConnector.Builder builder) {
      String prefix = "affinity4j-bench:" + System.nanoTime() + ":";
      mine = builder.keyPrefix(prefix).clientName("bench-a").build();
      other = builder.keyPrefix(prefix).clientName("bench-b").build();
      for (RedisConnector connector : List.of(mine, other)) {
        if (!connector.awaitConnection(Duration.ofSeconds(10))) {
          throw new IllegalStateException("Cannot connect to " + connector);
        }
      }
    }

    @Override
    public void close() {
      mine.close();
      other.close();
    }
  }

  /** Measures Caffeine ({@code connectors} null) or Redis through {@code connectors}. */
  private static Measured measure(Connectors connectors, int latencyOps, Duration window) throws Exception {
    AffinityStore store = connectors == null ? CaffeineAffinityStore.builder().build()
        : RedisAffinityStore.builder().connector(connectors.mine).build();
    HistoryJournal journal = connectors == null ? CaffeineHistoryJournal.builder().build()
        : RedisHistoryJournal.builder().connector(connectors.mine).build();
    // Another instance: it knows no chain's root, as one that meets another's chain for the first time.
    HistoryJournal elsewhere = connectors == null ? journal
        : RedisHistoryJournal.builder().connector(connectors.other).localFallbackMaximumEntries(0).build();
    for (int i = 0; i < KEYS; i++) {
      store.put(key(i), token(i));
    }
    byte[] items = ("[{\"role\":\"user\",\"content\":\"" + "x".repeat(500) + "\"}]").getBytes(StandardCharsets.UTF_8);
    for (int c = 0; c < CHAINS; c++) {
      for (int t = 1; t <= 10; t++) {
        journal.record(JournalTurn.builder().responseId("resp_" + c + "_" + t)
            .previousResponseId(t == 1 ? null : "resp_" + c + "_" + (t - 1)).input(items).output(items).build());
      }
    }
    if (connectors != null) {
      connectors.mine.awaitWrites(Duration.ofSeconds(10));
    }
    long[] lookups = latencies(i -> store.get(key(i)), latencyOps);
    double perSecond = throughput(i -> store.get(key(i)), window);
    AffinityToken bound = token(1);
    long[] binds = latencies(i -> store.put(key(i), bound), latencyOps / 2);
    long[] histories = latencies(i -> journal.history(ChainKey.response("resp_" + (i % CHAINS) + "_10")),
        latencyOps / 10);
    int[] next = {0};
    long[] records = latencies(i -> journal.record(JournalTurn.builder().responseId("resp_m_" + next[0]++)
        .previousResponseId("resp_" + (i % CHAINS) + "_10").input(items).output(items).build()), latencyOps / 10);
    if (connectors != null) { // the other instance reads what this one sent, once Redis took it
      connectors.mine.awaitWrites(Duration.ofSeconds(10));
    }
    // Each chain once, as an instance meets a chain it has not seen: sequential, no warm-up.
    long[] historiesElsewhere = once(i -> elsewhere.history(ChainKey.response("resp_" + i + "_9")));
    long[] recordsElsewhere = once(i -> elsewhere.record(JournalTurn.builder().responseId("resp_o_" + i)
        .previousResponseId("resp_" + i + "_8").input(items).output(items).build()));
    journal.clear();
    return new Measured(percentile(lookups, 50), percentile(lookups, 99), mean(lookups), perSecond,
        percentile(binds, 50), percentile(histories, 50), percentile(records, 50),
        percentile(historiesElsewhere, 50), percentile(recordsElsewhere, 50));
  }

  private static void print(String uri, String[] seeds, Measured caffeine, Measured redis, Measured cluster) {
    System.out.println("Store and journal: Caffeine vs Redis (" + uri.replaceAll("//[^@/]*@", "//") + ") vs Redis Cluster ("
        + (seeds == null ? "not run: redis-cli missing" : seeds.length + " seeds, 3 masters + 1 replica each")
        + "), Lettuce, one connection each; " + KEYS + " pins, JDK " + System.getProperty("java.version") + ", "
        + Runtime.getRuntime().availableProcessors() + " CPUs");
    System.out.println();
    System.out.printf("| %-48s | %-12s | %-12s | %-14s | %-16s | %-15s |%n", "operation", "Caffeine", "Redis",
        "Redis Cluster", "Redis / Caffeine", "Cluster / Redis");
    System.out.println("|---|---|---|---|---|---|");
    row("pin lookup, p50 (1 thread)", caffeine, redis, cluster, Measured::lookupP50);
    row("pin lookup, p99 (1 thread)", caffeine, redis, cluster, Measured::lookupP99);
    row("pin lookup, mean (1 thread)", caffeine, redis, cluster, Measured::lookupMean);
    System.out.printf("| %-48s | %-12s | %-12s | %-14s | %-16s | %-15s |%n", "pin lookups / s (" + THREADS + " threads)",
        perSecond(caffeine.lookupsPerSecond()), perSecond(redis.lookupsPerSecond()),
        cluster == null ? "-" : perSecond(cluster.lookupsPerSecond()),
        ratio(redis.lookupsPerSecond(), caffeine.lookupsPerSecond()),
        cluster == null ? "-" : ratio(cluster.lookupsPerSecond(), redis.lookupsPerSecond()));
    row("pin bind, p50", caffeine, redis, cluster, Measured::bindP50);
    row("history of a 10-turn chain (20 KiB), p50", caffeine, redis, cluster, Measured::historyP50);
    row("record a turn (11th of its chain), p50", caffeine, redis, cluster, Measured::recordP50);
    row("history, by an instance new to the chain, p50", caffeine, redis, cluster, Measured::historyElsewhereP50);
    row("record, parent by another instance, p50", caffeine, redis, cluster, Measured::recordElsewhereP50);
    System.out.println();
    System.out.println("A lookup is one GETEX round trip; a bind and a record return once sent, without Redis' reply."
        + " On a cluster, a record or a history read is one script on the chain's master when the instance knows the"
        + " chain's root (it recorded or read the chain, or looked up its pin: the root is read beside the pin), else"
        + " one GET of the root first, waited for (the last two rows, made without a pin lookup); Caffeine's last two"
        + " rows are its own journal.");
  }

  private static void row(String name, Measured caffeine, Measured redis, Measured cluster,
      java.util.function.ToLongFunction<Measured> value) {
    long c = value.applyAsLong(caffeine);
    long r = value.applyAsLong(redis);
    System.out.printf("| %-48s | %-12s | %-12s | %-14s | %-16s | %-15s |%n", name, micros(c), micros(r),
        cluster == null ? "-" : micros(value.applyAsLong(cluster)), ratio(r, c),
        cluster == null ? "-" : ratio(value.applyAsLong(cluster), r));
  }

  private static String option(String[] args, String name) {
    for (int i = 0; i < args.length - 1; i++) {
      if (args[i].equals(name)) {
        return args[i + 1];
      }
    }
    return null;
  }

  /** Each of the chains once, in order, one at a time. */
  private static long[] once(IntConsumer op) {
    long[] nanos = new long[CHAINS];
    for (int i = 0; i < CHAINS; i++) {
      long start = System.nanoTime();
      op.accept(i);
      nanos[i] = System.nanoTime() - start;
    }
    Arrays.sort(nanos);
    return nanos;
  }

  private static ChainKey key(int i) {
    return ChainKey.response("resp_bench_" + (i % KEYS));
  }

  private static AffinityToken token(int i) {
    return AffinityToken.builder().name("APIM-Backend-Affinity")
        .value("2d6f1c0e9b7a4f3d8c5e1a2b3c4d5e6f" + String.format(Locale.ROOT, "%08x", i))
        .domain("my-apim.azure-api.net").seenAt(Instant.now())
        .routing(new RoutingInfo("Sweden Central", null, null, null, null, null)).build();
  }

  private static long[] latencies(IntConsumer op, int count) {
    for (int i = 0; i < count; i++) { // warm-up
      op.accept(ThreadLocalRandom.current().nextInt(KEYS));
    }
    long[] nanos = new long[count];
    for (int i = 0; i < count; i++) {
      int k = ThreadLocalRandom.current().nextInt(KEYS);
      long start = System.nanoTime();
      op.accept(k);
      nanos[i] = System.nanoTime() - start;
    }
    Arrays.sort(nanos);
    return nanos;
  }

  private static double throughput(IntConsumer op, Duration window) throws InterruptedException {
    LongAdder done = new LongAdder();
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      Thread thread = new Thread(() -> {
        try {
          start.await();
        } catch (InterruptedException e) {
          return;
        }
        while (!stop.get()) {
          op.accept(ThreadLocalRandom.current().nextInt(KEYS));
          done.increment();
        }
      });
      threads.add(thread);
      thread.start();
    }
    long begin = System.nanoTime();
    start.countDown();
    Thread.sleep(window.toMillis()); // the measurement window itself
    stop.set(true);
    long count = done.sum();
    long elapsed = System.nanoTime() - begin;
    for (Thread thread : threads) {
      thread.join();
    }
    return count / (elapsed / 1e9);
  }

  private static long percentile(long[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
  }

  private static long mean(long[] values) {
    long sum = 0;
    for (long v : values) {
      sum += v;
    }
    return sum / values.length;
  }

  private static String micros(long nanos) {
    return String.format(Locale.ROOT, "%.1f µs", nanos / 1_000.0);
  }

  private static String perSecond(double ops) {
    return String.format(Locale.ROOT, "%,.0f", ops);
  }

  private static String ratio(double a, double b) {
    double r = a / Math.max(b, 1e-9);
    return String.format(Locale.ROOT, r < 1 ? "%.3fx" : "%.1fx", r);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /**
   * Starts a cluster of three masters with a replica each on loopback (six redis-server, joined by
   * redis-cli --cluster create); adds the processes to {@code servers}. Null if redis-cli is missing.
   */
  private static String[] startCluster(Path dir, List<Process> servers) throws IOException, InterruptedException {
    String cli = onPath("redis-cli");
    if (cli == null) {
      return null;
    }
    List<String> create = new ArrayList<>(List.of(cli, "--cluster", "create"));
    String[] seeds = new String[6];
    for (int i = 0; i < seeds.length; i++) {
      int port = freePort();
      servers.add(startRedis(port, dir.resolve("node-" + i), "--cluster-enabled", "yes", "--cluster-config-file",
          "nodes.conf", "--cluster-port", Integer.toString(freePort())));
      create.add("127.0.0.1:" + port);
      seeds[i] = "redis://127.0.0.1:" + port;
    }
    create.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
    Process join = new ProcessBuilder(create).redirectErrorStream(true)
        .redirectOutput(dir.resolve("create.log").toFile()).start();
    if (!join.waitFor(60, TimeUnit.SECONDS) || join.exitValue() != 0) {
      join.destroyForcibly();
      throw new IllegalStateException("redis-cli --cluster create failed: " + Files.readString(dir.resolve("create.log")));
    }
    return seeds;
  }

  private static String onPath(String name) {
    for (String entry : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (!entry.isEmpty() && Files.isExecutable(Path.of(entry, name))) {
        return Path.of(entry, name).toString();
      }
    }
    return null;
  }

  private static Process startRedis(int port, Path dir, String... extra) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    String binary = onPath("redis-server");
    List<String> command = new ArrayList<>(List.of(binary == null ? "redis-server" : binary, "--port",
        Integer.toString(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
        "--loglevel", "warning"));
    command.addAll(List.of(extra));
    Process process = new ProcessBuilder(command)
        .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!pong(port)) {
      if (!process.isAlive() || System.nanoTime() > deadline) {
        process.destroy();
        throw new IllegalStateException("redis-server did not start; install it (apt-get install -y"
            + " redis-server) or pass --redis-uri");
      }
      Thread.sleep(10); // polling a process we started
    }
    return process;
  }

  private static boolean pong(int port) {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      OutputStream out = socket.getOutputStream();
      out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      return in.read() == '+';
    } catch (IOException e) {
      return false;
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    try (var files = Files.walk(dir)) {
      files.sorted(java.util.Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    }
  }
}
