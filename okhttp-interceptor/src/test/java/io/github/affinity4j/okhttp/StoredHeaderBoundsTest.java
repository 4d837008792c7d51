package io.github.affinity4j.okhttp;

import static io.github.affinity4j.okhttp.RetainedHeapProbe.COOKIE;
import static io.github.affinity4j.okhttp.RetainedHeapProbe.HEADER_CHARS;
import static io.github.affinity4j.okhttp.RetainedHeapProbe.JSON;
import static io.github.affinity4j.okhttp.RetainedHeapProbe.body;
import static io.github.affinity4j.okhttp.RetainedHeapProbe.cookieValue;
import static io.github.affinity4j.okhttp.RetainedHeapProbe.id;
import static io.github.affinity4j.okhttp.RetainedHeapProbe.newTurn;
import static io.github.affinity4j.okhttp.RetainedHeapProbe.region;
import static io.github.affinity4j.okhttp.RetainedHeapProbe.setCookie;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.RoutingInfo;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ServerSocketFactory;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.Dispatcher;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.event.Level;

/**
 * Issue 14, row 4: what a gateway's headers make {@link AffinityInterceptor}'s store and
 * {@link RoutingLogInterceptor}'s chain cache keep is bounded in bytes, not only in keys. Answers
 * carry a 2 000-character region header, different per chain, and an affinity cookie with a
 * 2 000-character {@code Path} on every other chain ({@link RetainedHeapProbe} makes them). Sizes
 * are asserted on what is stored, and the heap on a child JVM, never on the clock.
 */
@Tag("security")
@Timeout(300)
final class StoredHeaderBoundsTest {
  private static final int CHAINS = 1_000;
  private static final String RESPONSES = "/openai/v1/responses";

  private final MockWebServer server = new MockWebServer();
  private final AtomicInteger answered = new AtomicInteger();
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final CaffeineAffinityStore store = CaffeineAffinityStore.builder().build();
  private final AffinityInterceptor affinity = AffinityInterceptor.builder().store(store).build();
  private final RoutingLogInterceptor routing = RoutingLogInterceptor.builder().logger(lines::add).build();
  private final OkHttpClient client = new OkHttpClient.Builder()
      .addInterceptor(affinity)
      .addInterceptor(routing)
      .build();

  @BeforeEach
  void start() throws IOException {
    // New chains get the hostile headers; a continued chain gets ordinary ones, as a real pool would.
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        int number = answered.getAndIncrement();
        boolean continued = request.getBody().readUtf8().contains("previous_response_id");
        return new MockResponse().setHeader("Content-Type", "application/json")
            .setHeader("x-ms-region", continued ? "Sweden Central" : region(number))
            .addHeader("Set-Cookie", continued ? COOKIE + "=" + cookieValue(number) + "; Path=/openai"
                : setCookie(number))
            .setBody(body(number));
      }
    });
    server.setServerSocketFactory(new NoDelayServerSocketFactory());
    server.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void close() throws IOException {
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
    server.shutdown();
  }

  @Test
  void thousandChains_2000CharRegionAndPath_storeAndRoutingCacheKeepOnlyCappedStrings() throws Exception {
    for (int chain = 0; chain < CHAINS; chain++) {
      call(newTurn(server.url(RESPONSES).toString()));
    }

    long storedChars = 0;
    for (int chain = 0; chain < CHAINS; chain++) {
      AffinityToken token = store.get(scoped(id(chain))).orElse(null);
      if (chain % 2 == 1) {
        assertThat(token).as("chain %s: a cookie with a %s-character Path is no pin", chain, HEADER_CHARS)
            .isNull();
        continue;
      }
      assertThat(token).as("chain %s", chain).isNotNull();
      assertThat(token.value()).isEqualTo(cookieValue(chain));
      assertThat(token.path()).isEqualTo("/");
      assertThat(token.domain()).isEqualTo(server.getHostName());
      assertThat(token.routing().region()).as("a %s-character region is not kept", HEADER_CHARS).isNull();
      storedChars += RetainedHeapProbe.storedChars(token);
    }
    assertThat(store.estimatedSize()).isEqualTo(CHAINS / 2);
    assertThat(storedChars).isLessThanOrEqualTo((long) (CHAINS / 2)
        * (AffinityToken.MAX_PATH_LENGTH + AffinityToken.MAX_DOMAIN_LENGTH + RoutingInfo.MAX_REGION_LENGTH));

    List<String> remembered = routing.rememberedStrings();
    assertThat(remembered).as("one cookie label per created response, no region").hasSize(CHAINS)
        .allSatisfy(text -> assertThat(text).matches(COOKIE + ":[0-9a-f]{8}"));
    assertThat(remembered.stream().mapToLong(String::length).sum())
        .isLessThanOrEqualTo((long) CHAINS * (RoutingInfo.MAX_REGION_LENGTH + COOKIE.length() + 9));

    assertThat(lines).hasSize(CHAINS)
        .noneMatch(line -> line.contains("region-"))
        .noneMatch(line -> line.contains("backend-"));
  }

  @Test
  void hostileChainsThenOrdinaryTurns_pinsStillWorkAndOrdinaryValuesKeptAsSent() throws Exception {
    for (int chain = 0; chain < 2; chain++) {
      call(newTurn(server.url(RESPONSES).toString()));
    }
    server.takeRequest();
    server.takeRequest();

    String pinned = call(continuing(id(0)));
    String unpinned = call(continuing(id(1)));

    assertThat(server.takeRequest().getHeader("Cookie")).isEqualTo(COOKIE + "=" + cookieValue(0));
    assertThat(server.takeRequest().getHeader("Cookie")).as("chain 1's cookie was refused").isNull();
    for (String id : List.of(pinned, unpinned)) {
      AffinityToken token = store.get(scoped(id)).orElseThrow();
      assertThat(token.path()).isEqualTo("/openai");
      assertThat(token.routing().region()).isEqualTo("Sweden Central");
    }
    assertThat(routing.rememberedStrings()).contains("Sweden Central");
    assertThat(lines.get(2)).contains(" region=\"Sweden Central\"").contains(" chain=response:" + id(0));
  }

  @Test
  void cookieWithLongPath_skippedWithOneDebugLineThatQuotesNeitherValueNorPath() throws Exception {
    call(newTurn(server.url(RESPONSES).toString()));
    String path = setCookie(1).substring(setCookie(1).indexOf("Path=") + 5);

    LogCapture logs = LogCapture.during(() -> call(newTurn(server.url(RESPONSES).toString())));

    List<CapturedLog> skipped = logs.events().stream()
        .filter(event -> event.message().contains("skipped")).toList();
    assertThat(skipped).singleElement().satisfies(event -> {
      assertThat(event.level()).isEqualTo(Level.DEBUG);
      assertThat(event.message()).contains(COOKIE).contains(Integer.toString(path.length()))
          .contains(Integer.toString(AffinityToken.MAX_PATH_LENGTH));
    });
    assertThat(logs.text()).doesNotContain(cookieValue(1)).doesNotContain(path)
        .doesNotContain(region(1));
    assertThat(store.get(scoped(id(1)))).isEmpty();
  }

  /**
   * The acceptance check of the issue: both caches filled to their default bound with those
   * headers fit in a 256 MiB heap (before the caps, this child ran out of heap). A child JVM,
   * because only a fresh heap of a known size says what is retained.
   */
  @Test
  void hundredThousandChains_2000CharHeaders_fitIn256MiBHeap() throws Exception {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-XX:+ExitOnOutOfMemoryError",
        "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
        // Quiet: 200 000 DEBUG lines would cost more than the exchanges.
        "-Dorg.slf4j.simpleLogger.log.io.github.affinity4j=warn",
        "-cp", System.getProperty("java.class.path"),
        RetainedHeapProbe.class.getName()));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> read(process.getInputStream()));

    boolean exited = process.waitFor(4, TimeUnit.MINUTES);
    if (!exited) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    String out = output.get(10, TimeUnit.SECONDS);

    assertThat(exited).as("child still running after 4 minutes; output:%n%s", out).isTrue();
    assertThat(process.exitValue()).as("exit code of the child under -Xmx256m; output:%n%s", out).isZero();
    String result = out.lines().filter(line -> line.startsWith(RetainedHeapProbe.RESULT)).findFirst()
        .orElseThrow(() -> new AssertionError("no result line in:\n" + out));
    int chains = RetainedHeapProbe.CHAINS;
    assertThat(result).contains(" chains=" + chains + " ").contains(" pinned=" + chains / 2 + " ");
    assertThat(field(result, "storedChars")).isLessThanOrEqualTo((long) (chains / 2)
        * (AffinityToken.MAX_PATH_LENGTH + AffinityToken.MAX_DOMAIN_LENGTH + RoutingInfo.MAX_REGION_LENGTH));
    assertThat(field(result, "rememberedChars"))
        .isLessThanOrEqualTo((long) chains * (RoutingInfo.MAX_REGION_LENGTH + COOKIE.length() + 9));
  }

  private String call(Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(200);
      String text = response.body().string();
      return text.substring(text.indexOf("resp_"), text.indexOf('"', text.indexOf("resp_")));
    }
  }

  private Request continuing(String previousId) {
    return new Request.Builder().url(server.url(RESPONSES))
        .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"Go on\",\"previous_response_id\":\""
            + previousId + "\"}", JSON))
        .build();
  }

  private static long field(String line, String name) {
    for (String part : line.split(" ")) {
      if (part.startsWith(name + "=")) {
        return Long.parseLong(part.substring(name.length() + 1));
      }
    }
    throw new AssertionError("no " + name + " in " + line);
  }

  /**
   * MockWebServer with {@code TCP_NODELAY} on its connections. With kilobytes of headers, Nagle's
   * algorithm holds back the end of each answer until the client's delayed ACK, 40 ms later:
   * 1 000 exchanges took 46 s instead of a few.
   */
  private static final class NoDelayServerSocketFactory extends ServerSocketFactory {
    @Override
    public ServerSocket createServerSocket() throws IOException {
      return new ServerSocket() {
        @Override
        public Socket accept() throws IOException {
          Socket socket = new Socket();
          implAccept(socket);
          socket.setTcpNoDelay(true);
          return socket;
        }
      };
    }

    @Override
    public ServerSocket createServerSocket(int port) {
      throw new UnsupportedOperationException("MockWebServer binds an unbound socket");
    }

    @Override
    public ServerSocket createServerSocket(int port, int backlog) {
      throw new UnsupportedOperationException("MockWebServer binds an unbound socket");
    }

    @Override
    public ServerSocket createServerSocket(int port, int backlog, InetAddress address) {
      throw new UnsupportedOperationException("MockWebServer binds an unbound socket");
    }
  }

  private static String read(InputStream in) {
    try (in) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toString(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A response key in the scope of this test's requests. */
  private ChainKey scoped(String id) {
    return ChainKey.response(id).in(affinity.scopeOf(new Request.Builder().url(server.url(RESPONSES)).build()));
  }
}
