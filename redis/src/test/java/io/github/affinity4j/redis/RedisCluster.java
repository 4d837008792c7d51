package io.github.affinity4j.redis;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real Redis Cluster for the tests, on loopback: three masters with a replica each, six
 * {@code redis-server --cluster-enabled yes} on free ports, joined by
 * {@code redis-cli --cluster create … --cluster-replicas 1 --cluster-yes}. A node that stops
 * answering is failed over after one second ({@code cluster-node-timeout 1000}).
 *
 * <p>{@link #shared()} is one cluster for every test class of a run (each test uses its own key
 * prefix), stopped when the JVM exits; a test that kills a node launches its own. Without
 * {@code redis-server} or {@code redis-cli}, a test is skipped, or fails under CI ({@code CI=true}),
 * as for {@link RedisServer}.
 */
final class RedisCluster implements TestRedis, AutoCloseable {

  static final int MASTERS = 3;

  private static RedisCluster shared;

  private final Path dir;
  private final List<RedisServer> nodes;

  private RedisCluster(Path dir, List<RedisServer> nodes) {
    this.dir = dir;
    this.nodes = nodes;
  }

  /** The cluster every test class shares; started on first use, stopped when the JVM exits. */
  static synchronized RedisCluster shared() {
    if (shared == null) {
      shared = launch();
      RedisCluster cluster = shared;
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          cluster.close();
        } catch (IOException e) {
          // the JVM is exiting: the processes are killed in close() before the files
        }
      }, "redis-cluster-stop"));
    }
    return shared;
  }

  /** Starts six nodes and joins them into a cluster of three masters with a replica each. */
  static RedisCluster launch() {
    return launch(null);
  }

  /**
   * As {@link #launch()}, every node requiring {@code password} (also between nodes), or none if
   * null.
   */
  static RedisCluster launch(String password) {
    String cli = findCli();
    List<RedisServer> nodes = new ArrayList<>();
    Path dir = null;
    try {
      dir = Files.createTempDirectory("affinity4j-redis-cluster");
      for (int i = 0; i < 2 * MASTERS; i++) {
        Path nodeDir = Files.createDirectory(dir.resolve("node-" + i));
        List<String> args = new ArrayList<>(List.of("--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
            "--cluster-port", Integer.toString(RedisServer.freePort())));
        if (password != null) {
          args.addAll(List.of("--requirepass", password, "--masterauth", password));
        }
        RedisServer node = RedisServer.launchIn(nodeDir, RedisServer.freePort(), args.toArray(new String[0]));
        if (password != null) {
          node.authenticateWith(password);
        }
        nodes.add(node);
      }
      RedisCluster cluster = new RedisCluster(dir, nodes);
      cluster.create(cli, password);
      return cluster;
    } catch (IOException | RuntimeException e) {
      for (RedisServer node : nodes) {
        try {
          node.close();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw new IllegalStateException("Cannot start a Redis Cluster: " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private void create(String cli, String password) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(cli, "--cluster", "create"));
    for (RedisServer node : nodes) {
      command.add("127.0.0.1:" + node.port());
    }
    command.addAll(List.of("--cluster-replicas", "1", "--cluster-yes"));
    ProcessBuilder builder = new ProcessBuilder(command);
    if (password != null) {
      builder.environment().put("REDISCLI_AUTH", password); // not on the command line
    }
    Path log = dir.resolve("create.log");
    Process process = builder.redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
      process.destroyForcibly();
      throw new IllegalStateException("redis-cli --cluster create failed: " + Files.readString(log));
    }
    awaitHealthy();
  }

  /**
   * Waits until every live node says the cluster is ok, three masters serve every slot, and each
   * has a replica in sync, so that a failover can happen.
   */
  void awaitHealthy() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!healthy()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("Redis Cluster not healthy within 30 s: " + describe());
      }
      TimeUnit.MILLISECONDS.sleep(50); // polling processes we started
    }
  }

  private boolean healthy() throws IOException {
    int masters = 0;
    int syncedReplicas = 0;
    for (RedisServer node : live()) {
      if (!info(node, "CLUSTER", "INFO").contains("cluster_state:ok")) {
        return false;
      }
      String replication = info(node, "INFO", "replication");
      if (replication.contains("role:master")) {
        masters++;
      } else if (replication.contains("master_link_status:up")) {
        syncedReplicas++;
      }
    }
    return masters == MASTERS && syncedReplicas >= Math.min(MASTERS, live().size() - MASTERS);
  }

  /** The seed URIs of every node that is up. */
  String[] seeds() {
    return live().stream().map(RedisServer::uri).toArray(String[]::new);
  }

  @Override
  public RedisConnector.Builder connector() {
    return RedisConnector.builder().cluster(seeds());
  }

  @Override
  public String address() {
    return "redis-cluster://" + String.join(",", live().stream().map(n -> "127.0.0.1:" + n.port()).toList());
  }

  /** The nodes that are up. */
  List<RedisServer> live() {
    return nodes.stream().filter(RedisServer::isRunning).toList();
  }

  /** The live nodes that are masters now. */
  List<RedisServer> masters() throws IOException {
    List<RedisServer> masters = new ArrayList<>();
    for (RedisServer node : live()) {
      if (info(node, "INFO", "replication").contains("role:master")) {
        masters.add(node);
      }
    }
    return masters;
  }

  /** The master that serves {@code key}'s slot. */
  RedisServer masterOf(String key) throws IOException {
    for (RedisServer node : live()) {
      if (info(node, "INFO", "replication").contains("role:master")
          && !node.command("EXISTS", key).startsWith("-MOVED")) {
        return node;
      }
    }
    throw new IllegalStateException("No live master serves " + key + ": " + describe());
  }

  /** Sends a one-key command to the master of the key's slot, following a MOVED; the first reply line. */
  @Override
  public String command(String... words) throws IOException {
    RedisServer node = live().get(0);
    String reply = node.command(words);
    if (reply.startsWith("-MOVED ")) {
      int port = Integer.parseInt(reply.substring(reply.lastIndexOf(':') + 1));
      reply = node(port).command(words);
    }
    return reply;
  }

  /** Sends a command to the master of {@code key}'s slot; the whole reply, as {@link RedisServer#call}. */
  Object call(String key, String... words) throws IOException {
    return masterOf(key).call(words);
  }

  /** The keys matching {@code pattern} on every master. */
  @Override
  public List<String> keys(String pattern) throws IOException {
    List<String> keys = new ArrayList<>();
    for (RedisServer node : live()) {
      if (info(node, "INFO", "replication").contains("role:master")) {
        keys.addAll(node.keys(pattern));
      }
    }
    return keys;
  }

  /** The hash slot of {@code key}, as the cluster computes it. */
  long slot(String key) throws IOException {
    return (Long) live().get(0).call("CLUSTER", "KEYSLOT", key);
  }

  private RedisServer node(int port) {
    return nodes.stream().filter(n -> n.port() == port).findFirst()
        .orElseThrow(() -> new IllegalStateException("No node on port " + port));
  }

  private static String info(RedisServer node, String... command) throws IOException {
    return String.valueOf(node.call(command));
  }

  private String describe() {
    StringBuilder s = new StringBuilder();
    for (RedisServer node : nodes) {
      s.append("\n  ").append(node.port()).append(node.isRunning() ? "" : " (down)");
      if (node.isRunning()) {
        try {
          s.append(' ').append(info(node, "CLUSTER", "INFO").lines().filter(l -> l.startsWith("cluster_state"))
              .findFirst().orElse("?"));
        } catch (IOException e) {
          s.append(" unreachable");
        }
      }
    }
    return s.toString();
  }

  @Override
  public void close() throws IOException {
    for (RedisServer node : nodes) {
      node.close();
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    }
  }

  private static String findCli() {
    String server = RedisServer.findBinary(); // skips or fails first if redis-server is missing
    Path beside = Path.of(server).resolveSibling("redis-cli");
    if (Files.isExecutable(beside)) {
      return beside.toString();
    }
    String path = System.getenv("PATH");
    List<String> dirs = new ArrayList<>(Arrays.asList((path == null ? "" : path).split(File.pathSeparator)));
    dirs.add("/usr/bin");
    for (String d : dirs) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, "redis-cli"))) {
        return Path.of(d, "redis-cli").toString();
      }
    }
    RedisServer.unavailable("redis-cli is not installed: the cluster tests create their cluster with"
        + " redis-cli --cluster create (Debian: apt-get install -y redis-tools)");
    throw new AssertionError("unreachable");
  }
}
