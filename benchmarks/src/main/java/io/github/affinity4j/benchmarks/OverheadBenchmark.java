package io.github.affinity4j.benchmarks;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Issue 7, point 1: the time of one synchronous Responses API turn (about 2 KiB of request and 2
 * KiB of response) against a loopback JDK HTTP server that answers a fixed response, through bare
 * OkHttp and through OkHttp with each interceptor. The affinity turn is pinned: it continues a
 * chain bound in {@link #setUp}, so it reads the body, looks the pin up, adds the cookie, tees the
 * response for its id, binds and journals the turn. The routing log runs with slf4j-nop, so BASIC
 * measures its "logger disabled" check, as in a service that does not enable it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class OverheadBenchmark {
  static final String PATH = "/openai/v1/responses";
  private static final MediaType JSON = MediaType.get("application/json");

  /** Which client makes the turn. */
  @Param({"BARE", "AFFINITY", "LOG_NONE", "LOG_BASIC"})
  public String client;

  private HttpServer server;
  private ExecutorService serverThread;
  private OkHttpClient okhttp;
  private Request turn;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    // Without TCP_NODELAY the JDK server's split header and body writes wait on delayed ACKs.
    System.setProperty("sun.net.httpserver.nodelay", "true");
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    server.createContext("/", OverheadBenchmark::answer);
    serverThread = Executors.newSingleThreadExecutor(task -> {
      Thread thread = new Thread(task, "loopback-server");
      thread.setDaemon(true);
      return thread;
    });
    server.setExecutor(serverThread);
    server.start();
    String url = "http://127.0.0.1:" + server.getAddress().getPort() + PATH;

    OkHttpClient.Builder builder = new OkHttpClient.Builder();
    switch (client) {
      case "AFFINITY":
        builder.addInterceptor(AffinityInterceptor.builder().build());
        break;
      case "LOG_NONE":
        builder.addInterceptor(RoutingLogInterceptor.builder()
            .level(RoutingLogInterceptor.Level.NONE).build());
        break;
      case "LOG_BASIC":
        builder.addInterceptor(RoutingLogInterceptor.builder()
            .level(RoutingLogInterceptor.Level.BASIC).build());
        break;
      default:
        break;
    }
    okhttp = builder.build();
    // Start the chain: the answer names resp_seed000000 and sets the affinity cookie, which the
    // interceptor binds; every measured turn then continues resp_seed000000 with its pin.
    call(new Request.Builder().url(url)
        .post(RequestBody.create(body(null), JSON)).build());
    turn = new Request.Builder().url(url)
        .post(RequestBody.create(body("resp_seed000000"), JSON)).build();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    okhttp.dispatcher().executorService().shutdown();
    okhttp.connectionPool().evictAll();
    server.stop(0);
    serverThread.shutdownNow();
  }

  /** One turn: send the request, read the whole answer. */
  @Benchmark
  public int pinnedTurn() throws IOException {
    return call(turn);
  }

  private int call(Request request) throws IOException {
    try (Response response = okhttp.newCall(request).execute()) {
      return response.body().string().length();
    }
  }

  /** A request body of about 2 KiB, continuing {@code previousId} if given. */
  static byte[] body(String previousId) {
    StringBuilder text = new StringBuilder();
    while (text.length() < 1950) {
      text.append("Tell me one more thing about photosynthesis, please. ");
    }
    return ("{\"model\":\"gpt-4.1\","
        + (previousId == null ? "" : "\"previous_response_id\":\"" + previousId + "\",")
        + "\"input\":\"" + text + "\"}").getBytes(StandardCharsets.UTF_8);
  }

  private static final AtomicLong ANSWERS = new AtomicLong();
  private static final byte[] ANSWER_TEMPLATE = answerBody();
  private static final int ID_OFFSET = new String(ANSWER_TEMPLATE, StandardCharsets.UTF_8)
      .indexOf("resp_0000000000") + "resp_".length();

  private static byte[] answerBody() {
    StringBuilder text = new StringBuilder();
    while (text.length() < 1700) {
      text.append("Chlorophyll absorbs mostly blue and red light and reflects green. ");
    }
    return ("{\"id\":\"resp_0000000000\",\"object\":\"response\",\"created_at\":1732000000,"
        + "\"status\":\"completed\",\"model\":\"gpt-4.1\",\"output\":[{\"id\":\"msg_seed\","
        + "\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{"
        + "\"type\":\"output_text\",\"text\":\"" + text + "\",\"annotations\":[]}]}],"
        + "\"usage\":{\"input_tokens\":500,\"output_tokens\":430,\"total_tokens\":930}}")
        .getBytes(StandardCharsets.UTF_8);
  }

  private static void answer(HttpExchange exchange) throws IOException {
    try (InputStream in = exchange.getRequestBody()) {
      in.readAllBytes();
    }
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    if (exchange.getRequestHeaders().getFirst("Cookie") == null) {
      // As APIM does for a request without the affinity cookie.
      exchange.getResponseHeaders().add("Set-Cookie",
          "APIM-Backend-Affinity=0123456789abcdef0123456789abcdef01234567; Path=/; HttpOnly");
    }
    // A new response id each turn, as a backend gives: every measured turn continues resp_seed and
    // creates a new link, so the store and the journal do the work of a real turn (and, past
    // their bounds, evict as in a long-running service).
    byte[] answer = ANSWER_TEMPLATE.clone();
    String id = String.format("%010d", ANSWERS.getAndIncrement());
    if (ANSWERS.get() == 1) {
      id = "seed000000";
    }
    System.arraycopy(id.getBytes(StandardCharsets.US_ASCII), 0, answer, ID_OFFSET, id.length());
    exchange.sendResponseHeaders(200, answer.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(answer);
    }
  }
}
