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
 * {@code redis}: what a lookup costs with the Redis store next to the in-memory one, on loopback.
 * Latency: one thread, one pin lookup at a time (p50, p99, mean). Throughput: 8 threads sharing one
 * store (for Redis, one connector: one connection, commands pipelined). Also a repair's history read
 * of a 10-turn chain, and a turn's record. Prints a table with the Redis / Caffeine ratios.
 *
 * <pre>
 * java -jar benchmarks/target/affinity4j-benchmarks.jar redis [--quick] [--redis-uri redis://host:port]
 * </pre>
 *
 * <p>Without {@code --redis-uri}, starts {@code redis-server} from the PATH on a free loopback port
 * (no persistence) and stops it at the end.
 */
public final class StoreLookupBenchmark {

  private static final int KEYS = 10_000;
  private static final int THREADS = 8;

  private StoreLookupBenchmark() {}

  /** Measures and prints the table; it has no targets, so returns true. */
  static boolean run(String[] args) throws Exception {
    boolean quick = Arrays.asList(args).contains("--quick");
    String uri = null;
    for (int i = 0; i < args.length - 1; i++) {
      if (args[i].equals("--redis-uri")) {
        uri = args[i + 1];
      }
    }
    int latencyOps = quick ? 20_000 : 100_000;
    Duration window = quick ? Duration.ofSeconds(1) : Duration.ofSeconds(5);
    Process server = null;
    Path dir = null;
    if (uri == null) {
      dir = Files.createTempDirectory("affinity4j-bench-redis");
      int port = freePort();
      server = startRedis(port, dir);
      uri = "redis://127.0.0.1:" + port;
    }
    try (RedisConnector connector = RedisConnector.builder().uri(uri)
        .keyPrefix("affinity4j-bench:" + System.nanoTime() + ":").build()) {
      if (!connector.awaitConnection(Duration.ofSeconds(10))) {
        throw new IllegalStateException("Cannot connect to " + connector);
      }
      AffinityStore caffeine = CaffeineAffinityStore.builder().build();
      AffinityStore redis = RedisAffinityStore.builder().connector(connector).build();
      HistoryJournal caffeineJournal = CaffeineHistoryJournal.builder().build();
      HistoryJournal redisJournal = RedisHistoryJournal.builder().connector(connector).build();
      for (AffinityStore store : List.of(caffeine, redis)) {
        for (int i = 0; i < KEYS; i++) {
          store.put(key(i), token(i));
        }
      }
      byte[] turnItems = ("[{\"role\":\"user\",\"content\":\"" + "x".repeat(500) + "\"}]")
          .getBytes(StandardCharsets.UTF_8);
      for (HistoryJournal journal : List.of(caffeineJournal, redisJournal)) {
        for (int c = 0; c < 100; c++) {
          for (int t = 1; t <= 10; t++) {
            journal.record(JournalTurn.builder().responseId("resp_" + c + "_" + t)
                .previousResponseId(t == 1 ? null : "resp_" + c + "_" + (t - 1))
                .input(turnItems).output(turnItems).build());
          }
        }
      }

      System.out.println("Store lookup: Redis (" + uri.replaceAll("//[^@/]*@", "//") + ", Lettuce, one connection)"
          + " vs Caffeine, " + KEYS + " pins, JDK " + System.getProperty("java.version") + ", "
          + Runtime.getRuntime().availableProcessors() + " CPUs");
      System.out.println();
      System.out.printf("| %-40s | %-22s | %-22s | %-8s |%n", "operation", "Caffeine", "Redis", "Redis / Caffeine");
      System.out.println("|---|---|---|---|");

      IntConsumer caffeineGet = i -> caffeine.get(key(i));
      IntConsumer redisGet = i -> redis.get(key(i));
      long[] cl = latencies(caffeineGet, latencyOps);
      long[] rl = latencies(redisGet, latencyOps);
      row("pin lookup, p50 (1 thread)", micros(percentile(cl, 50)), micros(percentile(rl, 50)),
          ratio(percentile(rl, 50), percentile(cl, 50)));
      row("pin lookup, p99 (1 thread)", micros(percentile(cl, 99)), micros(percentile(rl, 99)),
          ratio(percentile(rl, 99), percentile(cl, 99)));
      row("pin lookup, mean (1 thread)", micros(mean(cl)), micros(mean(rl)), ratio(mean(rl), mean(cl)));
      double ct = throughput(caffeineGet, window);
      double rt = throughput(redisGet, window);
      row("pin lookups / s (" + THREADS + " threads)", perSecond(ct), perSecond(rt), ratio(rt, ct));

      AffinityToken bound = token(1);
      IntConsumer caffeinePut = i -> caffeine.put(key(i), bound);
      IntConsumer redisPut = i -> redis.put(key(i), bound);
      long[] cp = latencies(caffeinePut, latencyOps / 2);
      long[] rp = latencies(redisPut, latencyOps / 2);
      row("pin bind, p50 (1 thread)", micros(percentile(cp, 50)), micros(percentile(rp, 50)),
          ratio(percentile(rp, 50), percentile(cp, 50)));

      IntConsumer caffeineHistory = i -> caffeineJournal.history(ChainKey.response("resp_" + (i % 100) + "_10"));
      IntConsumer redisHistory = i -> redisJournal.history(ChainKey.response("resp_" + (i % 100) + "_10"));
      long[] ch = latencies(caffeineHistory, latencyOps / 10);
      long[] rh = latencies(redisHistory, latencyOps / 10);
      row("history of a 10-turn chain (20 KiB), p50", micros(percentile(ch, 50)), micros(percentile(rh, 50)),
          ratio(percentile(rh, 50), percentile(ch, 50)));

      int[] next = {0};
      IntConsumer caffeineRecord = i -> caffeineJournal.record(JournalTurn.builder()
          .responseId("resp_c_" + next[0]++).previousResponseId("resp_" + (i % 100) + "_10")
          .input(turnItems).output(turnItems).build());
      IntConsumer redisRecord = i -> redisJournal.record(JournalTurn.builder()
          .responseId("resp_r_" + next[0]++).previousResponseId("resp_" + (i % 100) + "_10")
          .input(turnItems).output(turnItems).build());
      long[] cr = latencies(caffeineRecord, latencyOps / 10);
      long[] rr = latencies(redisRecord, latencyOps / 10);
      row("record a turn (11th of its chain), p50", micros(percentile(cr, 50)), micros(percentile(rr, 50)),
          ratio(percentile(rr, 50), percentile(cr, 50)));
      System.out.println();
      System.out.println("A lookup is one GETEX round trip; next to an HTTP request to a model (tens of ms"
          + " and up), the Redis column is what sharing state across instances costs.");
      redisJournal.clear();
    } finally {
      if (server != null) {
        server.destroy();
        server.waitFor(10, TimeUnit.SECONDS);
        deleteRecursively(dir);
      }
    }
    return true;
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

  private static void row(String name, String caffeine, String redis, String ratio) {
    System.out.printf("| %-40s | %-22s | %-22s | %-8s |%n", name, caffeine, redis, ratio);
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  private static Process startRedis(int port, Path dir) throws IOException, InterruptedException {
    String binary = "redis-server";
    for (String entry : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (!entry.isEmpty() && Files.isExecutable(Path.of(entry, "redis-server"))) {
        binary = Path.of(entry, "redis-server").toString();
      }
    }
    Process process = new ProcessBuilder(binary, "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", dir.toString(), "--loglevel", "warning")
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
