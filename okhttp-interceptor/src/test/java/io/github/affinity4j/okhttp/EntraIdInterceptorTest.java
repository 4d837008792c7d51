package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.slf4j.event.Level;
import reactor.core.publisher.Mono;

/**
 * {@link EntraIdInterceptor} with a fake {@link TokenCredential} and a fake clock: headers through
 * a real {@link OkHttpClient}, timing and concurrency through the token cache itself.
 */
@Timeout(60)
final class EntraIdInterceptorTest {
  private static final Instant T0 = Instant.parse("2025-06-01T10:00:00Z");
  private static final int THREADS = 32;

  private final MockWebServer server = new MockWebServer();
  private final FakeClock clock = new FakeClock(T0);
  private final FakeCredential credential = new FakeCredential(clock);
  private OkHttpClient client;

  @BeforeEach
  void start() throws IOException {
    server.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void close() throws IOException {
    credential.gate.countDown();
    if (client != null) {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
    server.shutdown();
  }

  // --- the header ---

  @Test
  void everyRequest_getsTheBearerHeaderFromOneCachedToken() throws Exception {
    client(EntraIdInterceptor.builder(credential).clock(clock).build());
    for (int i = 0; i < 3; i++) {
      server.enqueue(new MockResponse());
    }

    call(new Request.Builder().url(server.url("/openai/v1/responses")).build());
    call(new Request.Builder().url(server.url("/openai/v1/responses"))
        .post(RequestBody.create("{}", MediaType.get("application/json"))).build());
    call(new Request.Builder().url(server.url("/other")).header("Authorization", "Bearer stale").build());

    for (int i = 0; i < 3; i++) {
      assertThat(take().getHeaders().values("Authorization")).containsExactly("Bearer token-1");
    }
    assertThat(credential.fetches.get()).isEqualTo(1);
    assertThat(credential.scopes).containsExactly(List.of(EntraIdInterceptor.DEFAULT_SCOPE));
  }

  @Test
  void scopes_configured_askedOfTheCredential() throws Exception {
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential)
        .scopes("api://gateway/.default", "openid").clock(clock).build();

    interceptor.token();

    assertThat(credential.scopes).containsExactly(List.of("api://gateway/.default", "openid"));
  }

  // --- when a token is replaced ---

  @ParameterizedTest
  @CsvSource({
      "'', 55",   // the default margin, 5 minutes before a 60-minute token expires
      "PT2M, 58",
      "PT0S, 60",
  })
  void cachedToken_replacedOnlyOnceTheMarginBeforeExpiryIsReached(String margin, int refreshMinute)
      throws Exception {
    EntraIdInterceptor.Builder builder = EntraIdInterceptor.builder(credential).clock(clock);
    if (!margin.isEmpty()) {
      builder.refreshBeforeExpiry(Duration.parse(margin));
    }
    EntraIdInterceptor interceptor = builder.build();

    assertThat(interceptor.token()).isEqualTo("token-1");
    clock.set(T0.plus(Duration.ofMinutes(refreshMinute)).minusMillis(1));
    assertThat(interceptor.token()).isEqualTo("token-1");
    clock.set(T0.plus(Duration.ofMinutes(refreshMinute)));
    assertThat(interceptor.token()).isEqualTo("token-2");
    assertThat(interceptor.token()).isEqualTo("token-2");

    assertThat(credential.fetches.get()).isEqualTo(2);
    assertThat(EntraIdInterceptor.DEFAULT_REFRESH_BEFORE_EXPIRY).isEqualTo(Duration.ofMinutes(5));
  }

  @Test
  void refreshHint_earlierThanTheMargin_honoured() throws Exception {
    credential.refreshHint = Duration.ofMinutes(30);
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential).clock(clock).build();

    interceptor.token();
    clock.set(T0.plus(Duration.ofMinutes(30)).minusMillis(1));
    assertThat(interceptor.token()).isEqualTo("token-1");
    clock.set(T0.plus(Duration.ofMinutes(30)));
    assertThat(interceptor.token()).isEqualTo("token-2");
  }

  @Test
  void shortLivedToken_lessThanTheMargin_usedForHalfItsLifeNotFetchedPerRequest() throws Exception {
    credential.lifetime = Duration.ofMinutes(4);
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential).clock(clock).build();

    interceptor.token();
    interceptor.token();
    clock.set(T0.plus(Duration.ofMinutes(2)).minusMillis(1));
    assertThat(interceptor.token()).isEqualTo("token-1");
    clock.set(T0.plus(Duration.ofMinutes(2)));
    assertThat(interceptor.token()).isEqualTo("token-2");
    assertThat(credential.fetches.get()).isEqualTo(2);
  }

  // --- concurrency ---

  @Test
  void coldStart_32ConcurrentRequests_oneFetchSharedByAll() throws Exception {
    client(EntraIdInterceptor.builder(credential).clock(clock).build());
    for (int i = 0; i < THREADS; i++) {
      server.enqueue(new MockResponse());
    }
    credential.gate = new CountDownLatch(1);

    Queue<Throwable> failures = runConcurrently(() ->
        call(new Request.Builder().url(server.url("/openai/v1/responses")).build()),
        // every caller is parked: one in the credential, the rest waiting for its result
        () -> credential.gate.countDown());

    assertThat(failures).isEmpty();
    assertThat(credential.fetches.get()).isEqualTo(1);
    for (int i = 0; i < THREADS; i++) {
      assertThat(take().getHeader("Authorization")).isEqualTo("Bearer token-1");
    }
  }

  @Test
  void dueForRefresh_32ConcurrentCallers_oneRefreshWhileTheOthersKeepTheValidToken() throws Exception {
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential).clock(clock).build();
    interceptor.token();
    clock.set(T0.plus(Duration.ofMinutes(56))); // in the margin, 4 minutes before expiry
    credential.gate = new CountDownLatch(1);
    List<String> tokens = new CopyOnWriteArrayList<>();

    Queue<Throwable> failures = runConcurrently(() -> tokens.add(interceptor.token()),
        () -> credential.gate.countDown());

    assertThat(failures).isEmpty();
    assertThat(credential.fetches.get()).isEqualTo(2);
    assertThat(tokens).hasSize(THREADS).containsOnly("token-1", "token-2");
    assertThat(tokens.stream().filter("token-2"::equals).count()).isEqualTo(1);
    assertThat(interceptor.token()).isEqualTo("token-2");
  }

  // --- failures ---

  @Test
  void credentialFails_coldStart_everyWaitingCallerGetsAnIOExceptionFromOneAttempt() throws Exception {
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential).clock(clock).build();
    credential.failure = new IllegalStateException("AADSTS7000215: Invalid client secret provided");
    credential.gate = new CountDownLatch(1);

    Queue<Throwable> failures = runConcurrently(interceptor::token, () -> credential.gate.countDown());

    assertThat(credential.fetches.get()).isEqualTo(1);
    assertThat(failures).hasSize(THREADS).allSatisfy(failure -> assertThat(failure)
        .isInstanceOf(IOException.class)
        .hasMessageContaining(EntraIdInterceptor.DEFAULT_SCOPE)
        .hasMessageContaining(FakeCredential.class.getName())
        .hasMessageContaining("AADSTS7000215")
        .cause().isSameAs(credential.failure));
    // Nothing is cached from a failure: the next call tries again.
    credential.failure = null;
    assertThat(interceptor.token()).isEqualTo("token-2");
  }

  @Test
  void credentialFails_throughOkHttp_callFailsWithIOExceptionAndNothingIsSent() {
    client(EntraIdInterceptor.builder(credential).clock(clock).build());
    credential.failure = new IllegalStateException("ManagedIdentityCredential unavailable");

    assertThatThrownBy(() -> call(new Request.Builder().url(server.url("/openai/v1/responses")).build()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("ManagedIdentityCredential unavailable")
        .hasCauseExactlyInstanceOf(IllegalStateException.class);
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void refreshFails_whileTheTokenIsStillValid_keepsItOneWarnAndRetriesWithin30Seconds()
      throws Exception {
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential).clock(clock).build();
    interceptor.token();
    clock.set(T0.plus(Duration.ofMinutes(56)));
    credential.failure = new IllegalStateException("AADSTS50058: silent sign-in failed");

    LogCapture logs = LogCapture.during(() -> {
      assertThat(interceptor.token()).isEqualTo("token-1");
      clock.set(T0.plus(Duration.ofMinutes(56)).plusSeconds(29));
      assertThat(interceptor.token()).isEqualTo("token-1");
    });
    assertThat(credential.fetches.get()).isEqualTo(2);
    assertThat(logs.events()).extracting(CapturedLog::level).contains(Level.WARN);
    assertThat(logs.text()).contains("AADSTS50058").contains("stays in use").doesNotContain("token-1");

    clock.set(T0.plus(Duration.ofMinutes(56)).plusSeconds(30));
    credential.failure = null;
    assertThat(interceptor.token()).isEqualTo("token-3");
  }

  @Test
  void refreshFails_afterExpiry_IOException() throws Exception {
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential).clock(clock).build();
    interceptor.token();
    clock.set(T0.plus(Duration.ofMinutes(60)));
    credential.failure = new IllegalStateException("AADSTS50058: silent sign-in failed");

    assertThatThrownBy(interceptor::token).isInstanceOf(IOException.class).hasMessageContaining("AADSTS50058");
  }

  @Test
  void badTokens_noneOrUnsendable_IOExceptionThatNeverQuotesTheToken() {
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential).clock(clock).build();

    credential.value = null;
    assertThatThrownBy(interceptor::token).isInstanceOf(IOException.class)
        .hasMessageContaining("returned no token");
    credential.value = "secret-part\r\nInjected: header";
    assertThatThrownBy(interceptor::token).isInstanceOf(IOException.class)
        .hasMessageContaining("a character a header cannot carry, at index 11")
        .satisfies(e -> assertThat(e.toString()).doesNotContain("secret-part").doesNotContain("Injected"));
  }

  @Test
  void toString_showsSettingsNeverTheToken() throws Exception {
    EntraIdInterceptor interceptor = EntraIdInterceptor.builder(credential).clock(clock).build();
    interceptor.token();

    assertThat(interceptor.toString())
        .isEqualTo("EntraIdInterceptor[scopes=[" + EntraIdInterceptor.DEFAULT_SCOPE
            + "], refreshBeforeExpiry=PT5M, credential=" + FakeCredential.class.getName() + "]");
  }

  @Test
  void builder_badSettings_rejectedSayingWhatToDo() {
    assertThatThrownBy(() -> EntraIdInterceptor.builder(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> EntraIdInterceptor.builder(credential).scopes())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(EntraIdInterceptor.DEFAULT_SCOPE);
    assertThatThrownBy(() -> EntraIdInterceptor.builder(credential).scopes(" "))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> EntraIdInterceptor.builder(credential).refreshBeforeExpiry(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // --- helpers ---

  private void client(EntraIdInterceptor interceptor) {
    client = new OkHttpClient.Builder().addInterceptor(interceptor).build();
  }

  private void call(Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      response.body().string();
    }
  }

  private RecordedRequest take() throws InterruptedException {
    RecordedRequest request = server.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).as("a request reached the server").isNotNull();
    return request;
  }

  @FunctionalInterface
  private interface Action {
    void run() throws Exception;
  }

  /**
   * Runs {@code action} on {@value #THREADS} threads released together; once every thread is done
   * or parked inside {@link EntraIdInterceptor#token()} (in the credential, or waiting for it),
   * runs {@code whenAllParked}. Returns what the threads threw.
   */
  private static Queue<Throwable> runConcurrently(Action action, Runnable whenAllParked)
      throws InterruptedException {
    CountDownLatch start = new CountDownLatch(1);
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < THREADS; i++) {
      Thread thread = new Thread(() -> {
        try {
          start.await();
          action.run();
        } catch (Throwable e) {
          failures.add(e);
        }
      }, "caller-" + i);
      thread.start();
      threads.add(thread);
    }
    start.countDown();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!threads.stream().allMatch(EntraIdInterceptorTest::parkedInTokenOrDone)) {
      if (System.nanoTime() > deadline) {
        fail("callers never all parked:\n" + stacks(threads));
      }
      Thread.onSpinWait();
    }
    whenAllParked.run();
    for (Thread thread : threads) {
      thread.join(TimeUnit.SECONDS.toMillis(20));
      if (thread.isAlive()) {
        fail("a caller hangs:\n" + stacks(threads));
      }
    }
    return failures;
  }

  private static boolean parkedInTokenOrDone(Thread thread) {
    Thread.State state = thread.getState();
    if (state == Thread.State.TERMINATED) {
      return true;
    }
    if (state != Thread.State.WAITING && state != Thread.State.TIMED_WAITING) {
      return false;
    }
    for (StackTraceElement frame : thread.getStackTrace()) {
      if (frame.getClassName().equals(EntraIdInterceptor.class.getName())
          && frame.getMethodName().equals("token")) {
        return thread.getState() == state; // still parked there, not just woken
      }
    }
    return false;
  }

  private static String stacks(List<Thread> threads) {
    StringBuilder out = new StringBuilder();
    for (Map.Entry<Thread, StackTraceElement[]> entry : Thread.getAllStackTraces().entrySet()) {
      if (threads.contains(entry.getKey())) {
        out.append(entry.getKey().getName()).append(' ').append(entry.getKey().getState()).append('\n');
        for (StackTraceElement element : entry.getValue()) {
          out.append("    at ").append(element).append('\n');
        }
      }
    }
    return out.toString();
  }

  /** A clock the test moves. */
  private static final class FakeClock extends Clock {
    private final AtomicReference<Instant> now;

    FakeClock(Instant start) {
      this.now = new AtomicReference<>(start);
    }

    void set(Instant instant) {
      now.set(instant);
    }

    @Override
    public Instant instant() {
      return now.get();
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }
  }

  /**
   * Hands out {@code token-1}, {@code token-2}, … valid for {@link #lifetime} from the fake clock's
   * now; or fails, or waits at {@link #gate} first.
   */
  private static final class FakeCredential implements TokenCredential {
    final AtomicInteger fetches = new AtomicInteger();
    final List<List<String>> scopes = new CopyOnWriteArrayList<>();
    private final Clock clock;
    volatile Duration lifetime = Duration.ofHours(1);
    volatile Duration refreshHint;
    volatile RuntimeException failure;
    volatile CountDownLatch gate = new CountDownLatch(0);
    volatile String value = "";

    FakeCredential(Clock clock) {
      this.clock = clock;
    }

    @Override
    public Mono<AccessToken> getToken(TokenRequestContext context) {
      return Mono.fromCallable(() -> getTokenSync(context));
    }

    @Override
    public AccessToken getTokenSync(TokenRequestContext context) {
      scopes.add(List.copyOf(context.getScopes()));
      int n = fetches.incrementAndGet();
      try {
        if (!gate.await(30, TimeUnit.SECONDS)) {
          throw new IllegalStateException("gate never opened");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      RuntimeException failure = this.failure;
      if (failure != null) {
        throw failure;
      }
      String token = value != null && value.isEmpty() ? "token-" + n : value;
      if (token == null) {
        return null;
      }
      Instant now = clock.instant();
      return new AccessToken(token, OffsetDateTime.ofInstant(now.plus(lifetime), ZoneOffset.UTC),
          refreshHint == null ? null : OffsetDateTime.ofInstant(now.plus(refreshHint), ZoneOffset.UTC));
    }
  }
}
