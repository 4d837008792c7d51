package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.okhttp.internal.CookieNameCheck;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import io.github.affinity4j.testsupport.LogCapture;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.Headers;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.event.Level;

/**
 * The one WARN of {@link AffinityInterceptor} when the gateway's affinity cookie has another name
 * than the ones configured: a real {@link OkHttpClient} against {@link ApimSimulator}, turns sent
 * sync, async and streamed.
 */
@Timeout(60)
final class AffinityInterceptorCookieNameTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final String FIX = "cookieNames(";

  private final List<OkHttpClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    for (OkHttpClient client : clients) {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
    if (simulator != null) {
      simulator.close();
    }
  }

  @Test
  void poolNamesItsCookieOtherwise_severalConversations_oneWarnNamingTheCookieNeverItsValue()
      throws Exception {
    simulator = ApimSimulator.builder().backends(3).cookieName("SessionId").start();
    OkHttpClient client = client(interceptor(), null);

    LogCapture logs = LogCapture.during(() -> {
      conversation(client, 1);
      conversation(client, 2);
    });

    List<CapturedLog> warnings = cookieWarnings(logs);
    assertThat(warnings).hasSize(1);
    CapturedLog warning = warnings.get(0);
    assertThat(warning.level()).isEqualTo(Level.WARN);
    assertThat(warning.logger()).isEqualTo(AffinityInterceptor.class.getName());
    assertThat(warning.message()).contains("SessionId", FIX, ChainRegistry.DEFAULT_COOKIE_NAME);
    List<String> values = issuedCookieValues();
    assertThat(values).hasSizeGreaterThan(1);
    assertThat(logs.text()).doesNotContain(values.toArray(String[]::new));
  }

  @Test
  void poolNamesItsCookieOtherwise_twoInterceptors_eachSaysItOnce() throws Exception {
    simulator = ApimSimulator.builder().backends(2).cookieName("SessionId").start();
    OkHttpClient first = client(interceptor(), null);
    OkHttpClient second = client(interceptor(), null);

    LogCapture logs = LogCapture.during(() -> {
      conversation(first, 1);
      conversation(second, 2);
      conversation(first, 3);
    });

    assertThat(cookieWarnings(logs)).hasSize(2);
  }

  @Test
  void poolNamesItsCookieOtherwise_firstTurnsAtOnce_stillOneWarn() throws Exception {
    simulator = ApimSimulator.builder().backends(3).cookieName("SessionId").start();
    OkHttpClient client = client(interceptor(), null);
    int threads = 8;
    CountDownLatch start = new CountDownLatch(1);
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    List<Thread> workers = new ArrayList<>();

    LogCapture logs = LogCapture.during(() -> {
      for (int i = 0; i < threads; i++) {
        String input = "conversation " + i + ", turn 1";
        Thread worker = new Thread(() -> {
          try {
            start.await();
            execute(client, turn(input, null, false));
          } catch (Throwable e) {
            failures.add(e);
          }
        }, "first-turn-" + i);
        workers.add(worker);
        worker.start();
      }
      start.countDown();
      for (Thread worker : workers) {
        worker.join(TimeUnit.SECONDS.toMillis(20));
        if (worker.isAlive()) {
          throw new AssertionError("stuck: " + worker.getName() + " at "
              + List.of(worker.getStackTrace()));
        }
      }
    });

    assertThat(failures).isEmpty();
    assertThat(simulator.requestLog()).hasSize(threads);
    assertThat(cookieWarnings(logs)).hasSize(1);
  }

  @Test
  void poolUsesTheConfiguredName_noWarn() throws Exception {
    simulator = ApimSimulator.builder().backends(3).cookieName("SessionId").start();
    OkHttpClient client = client(AffinityInterceptor.builder().cookieNames("SessionId").build(), null);

    LogCapture logs = LogCapture.during(() -> {
      conversation(client, 1);
      conversation(client, 2);
    });

    assertThat(warnings(logs)).isEmpty();
    // Pinned: every continued turn carried the cookie the pool set.
    assertThat(simulator.requestLog()).filteredOn(request -> request.previousResponseId() != null)
        .hasSize(4).allSatisfy(request -> assertThat(request.hasAffinityCookie()).isTrue());
  }

  @Test
  void unrelatedCookieAfterTheConfiguredOne_noWarn() throws Exception {
    simulator = ApimSimulator.builder().backends(3).start();
    AtomicInteger responses = new AtomicInteger();
    // Every answer but the first also sets a cookie of another layer (App Service's, say).
    Interceptor arr = chain -> {
      Response response = chain.proceed(chain.request());
      return responses.incrementAndGet() == 1 ? response
          : response.newBuilder().addHeader("Set-Cookie", "ARRAffinity=arr-value; Path=/").build();
    };
    OkHttpClient client = client(interceptor(), arr);

    LogCapture logs = LogCapture.during(() -> {
      conversation(client, 1);
      conversation(client, 2);
    });

    assertThat(responses.get()).isEqualTo(6);
    assertThat(warnings(logs)).isEmpty();
  }

  @Test
  void unrelatedCookieBeforeTheConfiguredOneInTheSameAnswer_noWarn() throws Exception {
    simulator = ApimSimulator.builder().backends(3).start();
    Interceptor arrFirst = chain -> {
      Response response = chain.proceed(chain.request());
      Headers headers = new Headers.Builder().add("Set-Cookie", "ARRAffinity=arr-value; Path=/")
          .addAll(response.headers()).build();
      return response.newBuilder().headers(headers).build();
    };
    OkHttpClient client = client(interceptor(), arrFirst);

    LogCapture logs = LogCapture.during(() -> conversation(client, 1));

    assertThat(warnings(logs)).isEmpty();
  }

  @Test
  void cookieNamesFromTheWire_longOnesCutOthersNotShown() throws Exception {
    simulator = ApimSimulator.builder().backends(1).cookieName("SessionId").start();
    String longName = "L".repeat(CookieNameCheck.MAX_SHOWN_CHARS) + "TAIL";
    Interceptor hostile = chain -> chain.proceed(chain.request()).newBuilder()
        .addHeader("Set-Cookie", "odd{name}=odd-value")
        .addHeader("Set-Cookie", longName + "=long-value")
        .build();
    OkHttpClient client = client(interceptor(), hostile);

    LogCapture logs = LogCapture.during(() -> execute(client, turn("conversation 1, turn 1", null, false)));

    assertThat(cookieWarnings(logs)).singleElement().satisfies(warning -> assertThat(warning.message())
        .contains("SessionId", "L".repeat(CookieNameCheck.MAX_SHOWN_CHARS))
        .doesNotContain("TAIL", "odd{name}", "odd-value", "long-value"));
  }

  @Test
  void setCookieName_isWhatPrecedesTheFirstEquals_neverTheValue() {
    assertThat(CookieNameCheck.name(" SessionId =v=w; Path=/")).isEqualTo("SessionId");
    assertThat(CookieNameCheck.name("=v")).isEmpty();
    assertThat(CookieNameCheck.name("noValue; Path=/")).isNull();
    assertThat(CookieNameCheck.name("noValue")).isNull();
  }

  // --- helpers ---

  private static AffinityInterceptor interceptor() {
    return AffinityInterceptor.builder().retryPause(Duration.ZERO).build();
  }

  /** Three turns of a conversation: sync, async, then streamed. */
  private void conversation(OkHttpClient client, int n) throws Exception {
    String previous = responseId(execute(client, turn("conversation " + n + ", turn 1", null, false)));
    previous = responseId(enqueue(client, turn("conversation " + n + ", turn 2", previous, false))
        .get(20, TimeUnit.SECONDS));
    String stream = execute(client, turn("conversation " + n + ", turn 3", previous, true));
    assertThat(stream).contains("response.completed");
  }

  private List<String> issuedCookieValues() {
    return simulator.requestLog().stream().map(LoggedRequest::issuedCookie).filter(Objects::nonNull).toList();
  }

  private static List<CapturedLog> warnings(LogCapture logs) {
    return logs.events().stream().filter(event -> event.level() == Level.WARN).toList();
  }

  private static List<CapturedLog> cookieWarnings(LogCapture logs) {
    return warnings(logs).stream().filter(event -> event.message().contains(FIX)).toList();
  }

  private OkHttpClient client(AffinityInterceptor interceptor, Interceptor network) {
    OkHttpClient.Builder builder = new OkHttpClient.Builder().addInterceptor(interceptor);
    if (network != null) {
      builder.addNetworkInterceptor(network);
    }
    OkHttpClient client = builder.build();
    clients.add(client);
    return client;
  }

  private Request turn(String input, String previous, boolean stream) {
    StringBuilder body = new StringBuilder("{\"model\":\"gpt-4.1\",\"input\":\"").append(input).append('"');
    if (previous != null) {
      body.append(",\"previous_response_id\":\"").append(previous).append('"');
    }
    if (stream) {
      body.append(",\"stream\":true");
    }
    return new Request.Builder().url(simulator.openAiBaseUrl() + "/responses")
        .post(RequestBody.create(body.append('}').toString(), JSON)).build();
  }

  private static String responseId(String json) {
    int at = json.indexOf("\"id\":\"resp_");
    assertThat(at).as("a response id in %s", json).isNotNegative();
    int start = at + "\"id\":\"".length();
    return json.substring(start, json.indexOf('"', start));
  }

  private static String execute(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      String body = response.body().string();
      assertThat(response.code()).as(body).isEqualTo(200);
      return body;
    }
  }

  private static CompletableFuture<String> enqueue(OkHttpClient client, Request request) {
    CompletableFuture<String> result = new CompletableFuture<>();
    client.newCall(request).enqueue(new Callback() {
      @Override
      public void onFailure(Call call, IOException e) {
        result.completeExceptionally(e);
      }

      @Override
      public void onResponse(Call call, Response response) {
        try (response) {
          result.complete(response.body().string());
        } catch (IOException | RuntimeException e) {
          result.completeExceptionally(e);
        }
      }
    });
    return result;
  }
}
