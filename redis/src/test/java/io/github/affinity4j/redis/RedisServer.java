package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.fail;

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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * A real {@code redis-server} for the tests, on a free loopback port, started from the binary on
 * the PATH (or the one named by system property {@code affinity4j.redis.server} or environment
 * variable {@code AFFINITY4J_REDIS_SERVER}). No snapshot, no append-only file, a temporary
 * directory. Can be stopped and started again on the same port, to test outages.
 *
 * <p>Without the binary, a test is skipped with a message saying how to install it; under CI
 * (environment {@code CI=true}) it fails instead, since a CI that skips these tests proves nothing.
 */
final class RedisServer implements TestRedis, AutoCloseable {

  private final String binary;
  private final int port;
  private final List<String> extraArgs;
  private final Path dir;
  private final boolean tls;
  private Process process;
  // Sent with AUTH before each command of the tests' own, if the server requires one.
  private volatile String password;

  private RedisServer(String binary, int port, List<String> extraArgs, Path dir, boolean tls) {
    this.binary = binary;
    this.port = port;
    this.extraArgs = extraArgs;
    this.dir = dir;
    this.tls = tls;
  }

  /** Starts a server with these extra {@code redis-server} arguments, e.g. {@code --requirepass x}. */
  static RedisServer launch(String... extraArgs) {
    String binary = findBinary();
    try {
      RedisServer server = new RedisServer(binary, freePort(), List.of(extraArgs),
          Files.createTempDirectory("affinity4j-redis"), false);
      server.start();
      return server;
    } catch (IOException e) {
      throw new IllegalStateException("Cannot start redis-server", e);
    }
  }

  /**
   * Starts a server that accepts only TLS, with a certificate for 127.0.0.1 signed by a CA made
   * for it ({@link #caCertificate()}); needs the {@code openssl} command.
   */
  static RedisServer launchTls() {
    String binary = findBinary();
    try {
      Path dir = Files.createTempDirectory("affinity4j-redis-tls");
      makeCertificates(dir);
      int port = freePort();
      RedisServer server = new RedisServer(binary, port, List.of("--port", "0", "--tls-port",
          Integer.toString(port), "--tls-cert-file", dir.resolve("server.pem").toString(), "--tls-key-file",
          dir.resolve("server.key").toString(), "--tls-ca-cert-file", dir.resolve("ca.pem").toString(),
          "--tls-auth-clients", "no"), dir, true);
      server.start();
      return server;
    } catch (IOException e) {
      throw new IllegalStateException("Cannot start redis-server with TLS", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  Path caCertificate() {
    return dir.resolve("ca.pem");
  }

  int port() {
    return port;
  }

  String uri() {
    return "redis://127.0.0.1:" + port;
  }

  @Override
  public RedisConnector.Builder connector() {
    return RedisConnector.builder().uri(uri());
  }

  @Override
  public String address() {
    return "redis://127.0.0.1:" + port;
  }

  Path dir() {
    return dir;
  }

  /** True while the server process runs. */
  boolean isRunning() {
    return process != null && process.isAlive();
  }

  /** Starts the server again, on the same port, after {@link #stop()}. */
  void start() throws IOException {
    List<String> command = new ArrayList<>(List.of(binary, "--port", Integer.toString(port),
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
        "--daemonize", "no", "--loglevel", "warning"));
    command.addAll(extraArgs);
    process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("redis.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!answers()) {
      if (!process.isAlive()) {
        throw new IllegalStateException("redis-server exited with " + process.exitValue() + ": "
            + Files.readString(dir.resolve("redis.log")));
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("redis-server did not answer on port " + port + " within 10 s");
      }
      Thread.onSpinWait();
    }
  }

  /** Kills the server (SIGKILL: no shutdown, no failover handed over) and waits until it is gone. */
  void kill() throws InterruptedException {
    if (process == null) {
      return;
    }
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    process = null;
  }

  /** Starts a server in the given directory, kept after {@link #stop()}: a cluster node's config lives there. */
  static RedisServer launchIn(Path dir, int port, String... extraArgs) throws IOException {
    RedisServer server = new RedisServer(findBinary(), port, List.of(extraArgs), dir, false);
    server.start();
    return server;
  }

  /** Stops the server (SIGTERM, no snapshot) and waits until its port is closed. */
  void stop() throws InterruptedException {
    if (process == null) {
      return;
    }
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    process = null;
  }

  /** Sends one command in Redis' inline protocol and returns the first reply line. */
  @Override
  public String command(String... words) throws IOException {
    try (Socket socket = open()) {
      socket.setSoTimeout(5_000);
      OutputStream out = socket.getOutputStream();
      StringBuilder request = new StringBuilder("*").append(words.length).append("\r\n");
      for (String word : words) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        request.append('$').append(bytes.length).append("\r\n").append(word).append("\r\n");
      }
      out.write(request.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = socket.getInputStream();
      StringBuilder line = new StringBuilder();
      int c;
      while ((c = in.read()) != -1 && c != '\n') {
        if (c != '\r') {
          line.append((char) c);
        }
      }
      return line.toString();
    }
  }

  /** Makes the tests' own commands authenticate with {@code password} first. */
  void authenticateWith(String password) {
    this.password = password;
  }

  private Socket open() throws IOException {
    Socket socket = new Socket(InetAddress.getLoopbackAddress(), port);
    String secret = password;
    if (secret != null) {
      byte[] auth = ("*2\r\n$4\r\nAUTH\r\n$" + secret.length() + "\r\n" + secret + "\r\n")
          .getBytes(StandardCharsets.UTF_8);
      socket.getOutputStream().write(auth);
      socket.getOutputStream().flush();
      InputStream in = socket.getInputStream();
      int c;
      while ((c = in.read()) != -1 && c != '\n') {
        // the +OK line
      }
    }
    return socket;
  }

  /** Returns the keys matching {@code pattern} ({@code KEYS}: fine for a test's own few keys). */
  @Override
  public List<String> keys(String pattern) throws IOException {
    List<String> keys = new ArrayList<>();
    for (Object key : (List<?>) call("KEYS", pattern)) {
      keys.add((String) key);
    }
    return keys;
  }

  /**
   * Sends one command and returns the whole reply: a String for a simple or bulk string (null for
   * a nil), a Long for an integer, a List for an array; an error reply throws.
   */
  Object call(String... words) throws IOException {
    try (Socket socket = open()) {
      socket.setSoTimeout(30_000);
      OutputStream out = socket.getOutputStream();
      StringBuilder request = new StringBuilder("*").append(words.length).append("\r\n");
      for (String word : words) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        request.append('$').append(bytes.length).append("\r\n").append(word).append("\r\n");
      }
      out.write(request.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      return reply(new java.io.BufferedInputStream(socket.getInputStream()));
    }
  }

  private static Object reply(InputStream in) throws IOException {
    int type = in.read();
    String line = line(in);
    switch (type) {
      case '+':
        return line;
      case '-':
        throw new IOException("Redis error: " + line);
      case ':':
        return Long.parseLong(line);
      case '$': {
        int length = Integer.parseInt(line);
        if (length < 0) {
          return null;
        }
        byte[] bytes = in.readNBytes(length + 2);
        return new String(bytes, 0, length, StandardCharsets.UTF_8);
      }
      case '*': {
        int count = Integer.parseInt(line);
        List<Object> items = new ArrayList<>(Math.max(0, count));
        for (int i = 0; i < count; i++) {
          items.add(reply(in));
        }
        return items;
      }
      default:
        throw new IOException("Unexpected reply type " + type);
    }
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    int c;
    while ((c = in.read()) != -1 && c != '\n') {
      if (c != '\r') {
        line.append((char) c);
      }
    }
    return line.toString();
  }

  @Override
  public void close() throws IOException {
    try {
      stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    }
  }

  private boolean answers() {
    if (tls) {
      try {
        new Socket(InetAddress.getLoopbackAddress(), port).close();
        return true;
      } catch (IOException e) {
        return false;
      }
    }
    try {
      String reply = command("PING");
      return reply.equals("+PONG") || reply.startsWith("-NOAUTH");
    } catch (IOException e) {
      return false;
    }
  }

  private static void makeCertificates(Path dir) throws IOException, InterruptedException {
    if (!onPath("openssl")) {
      unavailable("openssl is not installed: the TLS test makes its certificates with it (Debian: apt-get"
          + " install -y openssl)");
    }
    Files.writeString(dir.resolve("san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=affinity4j test CA",
        "-keyout", "ca.key", "-out", "ca.pem");
    openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr");
    openssl(dir, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.cnf", "-out", "server.pem");
  }

  private static void openssl(Path dir, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("openssl"));
    command.addAll(List.of(args));
    Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(dir.resolve("openssl.log").toFile()).start();
    if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
      throw new IllegalStateException("openssl " + args[0] + " failed: " + Files.readString(dir.resolve("openssl.log")));
    }
  }

  private static boolean onPath(String name) {
    String path = System.getenv("PATH");
    for (String dir : (path == null ? "" : path).split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
        return true;
      }
    }
    return false;
  }

  static void unavailable(String message) {
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(message + " (CI=true: a missing server fails the build)");
    }
    Assumptions.abort(message);
  }

  static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** Returns why no redis-server can be run here, or null if one can. */
  static String missing() {
    String named = System.getProperty("affinity4j.redis.server", System.getenv("AFFINITY4J_REDIS_SERVER"));
    if (named != null && !named.isBlank()) {
      return Files.isExecutable(Path.of(named)) ? null : "redis-server named by affinity4j.redis.server /"
          + " AFFINITY4J_REDIS_SERVER is not an executable: " + named;
    }
    return binaryOnPath() != null ? null : "redis-server is not installed: these tests run against a real"
        + " Redis. Install it (Debian: apt-get install -y redis-server) or name the binary with"
        + " -Daffinity4j.redis.server=PATH";
  }

  static String findBinary() {
    String missing = missing();
    if (missing != null) {
      unavailable(missing);
    }
    String named = System.getProperty("affinity4j.redis.server", System.getenv("AFFINITY4J_REDIS_SERVER"));
    return named != null && !named.isBlank() ? named : binaryOnPath();
  }

  private static String binaryOnPath() {
    String path = System.getenv("PATH");
    List<String> dirs = new ArrayList<>(Arrays.asList((path == null ? "" : path).split(File.pathSeparator)));
    dirs.add("/usr/bin");
    dirs.add("/usr/local/bin");
    for (String dir : dirs) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "redis-server"))) {
        return Path.of(dir, "redis-server").toString();
      }
    }
    return null;
  }

}
