package io.github.affinity4j.benchmarks;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.okhttp.RoutingLogInterceptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * A loopback JDK HTTP server that answers every {@code POST …/responses} with a fixed response of
 * about 2 KiB and a new id, as JSON or, when the request says {@code "stream":true}, as an SSE
 * stream of the same size; and the clients the overhead benchmarks compare. It sets the affinity
 * cookie when a request comes without one, as APIM does.
 */
final class LoopbackResponses implements AutoCloseable {
  static final String PATH = "/openai/v1/responses";
  static final String SEED_ID = "resp_seed000000";
  private static final MediaType JSON = MediaType.get("application/json");

  /** The clients compared: bare OkHttp, and OkHttp with each interceptor. */
  enum Client {
    BARE("bare OkHttp"),
    AFFINITY("+ AffinityInterceptor (pinned turn)"),
    AFFINITY_PIN_ONLY("+ AffinityInterceptor, RepairPolicy.FAIL"),
    LOG_NONE("+ RoutingLogInterceptor NONE"),
    LOG_BASIC("+ RoutingLogInterceptor BASIC (slf4j-nop)");

    final String label;

    Client(String label) {
      this.label = label;
    }

    OkHttpClient build(OkHttpClient base) {
      OkHttpClient.Builder builder = base.newBuilder();
      switch (this) {
        case AFFINITY -> builder.addInterceptor(AffinityInterceptor.builder().build());
        case AFFINITY_PIN_ONLY -> builder.addInterceptor(
            AffinityInterceptor.builder().repairPolicy(RepairPolicy.FAIL).build());
        case LOG_NONE -> builder.addInterceptor(RoutingLogInterceptor.builder()
            .level(RoutingLogInterceptor.Level.NONE).build());
        case LOG_BASIC -> builder.addInterceptor(RoutingLogInterceptor.builder()
            .level(RoutingLogInterceptor.Level.BASIC).build());
        default -> { }
      }
      return builder.build();
    }
  }

  private final HttpServer server;
  private final ExecutorService serverThread;
  private final String url;
  private final boolean requirePin;
  private final AtomicLong answers = new AtomicLong();
  private final AtomicLong unpinned = new AtomicLong();

  /** One server thread; any request is answered. */
  LoopbackResponses() throws IOException {
    this(1, false);
  }

  /**
   * @param threads the server's threads
   * @param requirePin whether a request that continues a chain without the affinity cookie is
   *     answered 400, as a backend that does not hold the previous response would
   */
  LoopbackResponses(int threads, boolean requirePin) throws IOException {
    this.requirePin = requirePin;
    // Without TCP_NODELAY the JDK server's split header and body writes wait on delayed ACKs.
    System.setProperty("sun.net.httpserver.nodelay", "true");
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    server.createContext("/", this::answer);
    serverThread = Executors.newFixedThreadPool(threads, task -> {
      Thread thread = new Thread(task, "loopback-server");
      thread.setDaemon(true);
      return thread;
    });
    server.setExecutor(serverThread);
    server.start();
    url = "http://127.0.0.1:" + server.getAddress().getPort() + PATH;
  }

  /**
   * The request of one measured turn, continuing {@link #SEED_ID}. Call {@link #seed} first on each
   * client, so that an affinity client holds the seed's pin and every measured turn is pinned.
   */
  Request turn(boolean stream) {
    return new Request.Builder().url(url).post(RequestBody.create(body(SEED_ID, stream), JSON)).build();
  }

  /** A turn that continues {@code previousId}, or starts a chain if it is null. */
  Request request(String previousId) {
    return new Request.Builder().url(url).post(RequestBody.create(body(previousId, false), JSON)).build();
  }

  /** How many requests continued a chain without the affinity cookie. */
  long unpinned() {
    return unpinned.get();
  }

  /** Starts the chain every measured turn continues: the first answer is always {@link #SEED_ID}. */
  void seed(OkHttpClient client) throws IOException {
    if (answers.get() > 0) {
      throw new IllegalStateException("seed before any other call");
    }
    call(client, new Request.Builder().url(url).post(RequestBody.create(body(null, false), JSON)).build());
  }

  /** Sends a request and reads the whole answer; returns its length, so that nothing is skipped. */
  static int call(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      if (!response.isSuccessful()) {
        throw new IOException("HTTP " + response.code());
      }
      return response.body().string().length();
    }
  }

  @Override
  public void close() {
    server.stop(0);
    serverThread.shutdownNow();
  }

  /** A request body of about 2 KiB, continuing {@code previousId} if given. */
  static byte[] body(String previousId, boolean stream) {
    StringBuilder text = new StringBuilder();
    while (text.length() < 1950) {
      text.append("Tell me one more thing about photosynthesis, please. ");
    }
    return ("{\"model\":\"gpt-4.1\","
        + (previousId == null ? "" : "\"previous_response_id\":\"" + previousId + "\",")
        + (stream ? "\"stream\":true," : "")
        + "\"input\":\"" + text + "\"}").getBytes(StandardCharsets.UTF_8);
  }

  private static final String ID_PLACEHOLDER = "resp_0000000000";
  private static final byte[] JSON_ANSWER = jsonAnswer(1700).getBytes(StandardCharsets.UTF_8);
  private static final byte[] SSE_ANSWER = sseAnswer().getBytes(StandardCharsets.UTF_8);
  private static final int[] JSON_ID_OFFSETS = offsets(JSON_ANSWER);
  private static final int[] SSE_ID_OFFSETS = offsets(SSE_ANSWER);

  private static String jsonAnswer(int textLength) {
    StringBuilder text = new StringBuilder();
    while (text.length() < textLength) {
      text.append("Chlorophyll absorbs mostly blue and red light and reflects green. ");
    }
    return "{\"id\":\"" + ID_PLACEHOLDER + "\",\"object\":\"response\",\"created_at\":1732000000,"
        + "\"status\":\"completed\",\"model\":\"gpt-4.1\",\"output\":[{\"id\":\"msg_seed\","
        + "\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{"
        + "\"type\":\"output_text\",\"text\":\"" + text + "\",\"annotations\":[]}]}],"
        + "\"usage\":{\"input_tokens\":500,\"output_tokens\":430,\"total_tokens\":930}}";
  }

  /** The stream a backend sends for the same turn, about the same size: created, deltas, completed. */
  private static String sseAnswer() {
    StringBuilder sse = new StringBuilder()
        .append("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"")
        .append(ID_PLACEHOLDER).append("\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[]}}\n\n");
    for (int i = 0; i < 6; i++) {
      sse.append("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
          + "\"item_id\":\"msg_seed\",\"output_index\":0,\"content_index\":0,\"delta\":\"Chlorophyll "
          + "absorbs mostly blue and red light. \"}\n\n");
    }
    return sse.append("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":")
        .append(jsonAnswer(700)).append("}\n\n").toString();
  }

  /** Where each id placeholder's digits start in {@code answer}. */
  private static int[] offsets(byte[] answer) {
    String text = new String(answer, StandardCharsets.UTF_8);
    return IntStream.iterate(text.indexOf(ID_PLACEHOLDER), i -> i >= 0,
            i -> text.indexOf(ID_PLACEHOLDER, i + 1))
        .map(i -> i + "resp_".length())
        .toArray();
  }

  private void answer(HttpExchange exchange) throws IOException {
    byte[] request;
    try (InputStream in = exchange.getRequestBody()) {
      request = in.readAllBytes();
    }
    String text = new String(request, StandardCharsets.UTF_8);
    boolean stream = text.contains("\"stream\":true");
    boolean pinned = exchange.getRequestHeaders().getFirst("Cookie") != null;
    if (!pinned && text.contains("\"previous_response_id\"")) {
      unpinned.incrementAndGet();
      if (requirePin) {
        exchange.sendResponseHeaders(400, -1);
        exchange.close();
        return;
      }
    }
    if (!pinned) {
      // As APIM does for a request without the affinity cookie.
      exchange.getResponseHeaders().add("Set-Cookie",
          "APIM-Backend-Affinity=0123456789abcdef0123456789abcdef01234567; Path=/; HttpOnly");
    }
    exchange.getResponseHeaders().set("Content-Type", stream ? "text/event-stream" : "application/json");
    // A new response id each turn, as a backend gives: every measured turn continues the seed and
    // creates a new link, so the store and the journal do the work of a real turn.
    long n = answers.getAndIncrement();
    byte[] id = (n == 0 ? "seed000000" : String.format("%010d", n)).getBytes(StandardCharsets.US_ASCII);
    byte[] answer = (stream ? SSE_ANSWER : JSON_ANSWER).clone();
    for (int offset : stream ? SSE_ID_OFFSETS : JSON_ID_OFFSETS) {
      System.arraycopy(id, 0, answer, offset, id.length);
    }
    exchange.sendResponseHeaders(200, stream ? 0 : answer.length); // 0: chunked, as a stream is
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(answer);
    }
  }
}
