package io.github.affinity4j.openai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import com.openai.client.OpenAIClient;
import com.openai.core.LogLevel;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.okhttp.RoutingLogInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.LogCapture;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import reactor.core.publisher.Mono;

@Timeout(60)
final class AffinityOpenAITest {
  private static final String RESPONSE_JSON = "{\"id\":\"resp_1\",\"object\":\"response\","
      + "\"created_at\":1,\"model\":\"gpt-4.1\",\"output\":[],\"parallel_tool_calls\":true,"
      + "\"tool_choice\":\"auto\",\"tools\":[],\"error\":null,\"incomplete_details\":null,"
      + "\"instructions\":null,\"metadata\":{},\"temperature\":1.0,\"top_p\":1.0}";

  @Test
  void build_onSimulatedPool_conversationsSurviveAndSpread() {
    AffinityInterceptor interceptor = AffinityInterceptor.builder().build();
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      OpenAIClient client = AffinityOpenAI.builder()
          .baseUrl(apim.openAiBaseUrl())
          .apiKey("test-key")
          .maxRetries(0)
          .interceptor(interceptor)
          .build();
      try {
        Map<String, Integer> firstTurns = new HashMap<>();
        for (int c = 0; c < 30; c++) {
          String previousId = null;
          String backend = null;
          for (int turn = 1; turn <= 4; turn++) {
            ResponseCreateParams.Builder params = ResponseCreateParams.builder()
                .model("gpt-4.1").input("turn " + turn);
            if (previousId != null) {
              params.previousResponseId(previousId);
            }
            Response response = client.responses().create(params.build());
            SimulatedAnswer answer = SimulatedAnswer.parse(
                response.output().get(0).asMessage().content().get(0).asOutputText().text());
            assertThat(answer.userMessages()).isEqualTo(turn);
            backend = backend == null ? answer.backend() : backend;
            assertThat(answer.backend()).isEqualTo(backend);
            previousId = response.id();
          }
          firstTurns.merge(backend, 1, Integer::sum);
        }
        assertThat(firstTurns.values()).containsOnly(10);
        assertThat(interceptor.stats().pinsApplied()).isEqualTo(30 * 3);
      } finally {
        client.close();
      }
    }
  }

  @Test
  void apimSubscriptionKeyOnly_sentAsSubscriptionHeaderAndApiKey_noBearer() throws Exception {
    RecordedRequest request = recordOne(AffinityOpenAI.builder().apimSubscriptionKey("sub-123"));

    assertThat(request.getHeader("Ocp-Apim-Subscription-Key")).isEqualTo("sub-123");
    assertThat(request.getHeader("api-key")).isEqualTo("sub-123");
    assertThat(request.getHeader("Authorization")).isNull();
  }

  @Test
  void apiKeyAndSubscriptionKey_bearerPlusSubscriptionHeader() throws Exception {
    RecordedRequest request =
        recordOne(AffinityOpenAI.builder().apiKey("sk-abc").apimSubscriptionKey("sub-123"));

    assertThat(request.getHeader("Authorization")).isEqualTo("Bearer sk-abc");
    assertThat(request.getHeader("Ocp-Apim-Subscription-Key")).isEqualTo("sub-123");
    assertThat(request.getHeader("api-key")).isNull();
  }

  @Test
  void azureCredential_everyRequestCarriesItsBearerTokenAndNoApiKey() throws Exception {
    RecordedRequest request = recordOne(AffinityOpenAI.builder().azureCredential(token("entra-token-1")));

    assertThat(request.getHeader("Authorization")).isEqualTo("Bearer entra-token-1");
    assertThat(request.getHeader("api-key")).isNull();
    assertThat(request.getHeader("Ocp-Apim-Subscription-Key")).isNull();
  }

  @Test
  void azureCredentialAndSubscriptionKey_bearerPlusSubscriptionHeader_noApiKey() throws Exception {
    RecordedRequest request = recordOne(AffinityOpenAI.builder()
        .azureCredential(token("entra-token-1")).apimSubscriptionKey("sub-123"));

    assertThat(request.getHeader("Authorization")).isEqualTo("Bearer entra-token-1");
    assertThat(request.getHeader("Ocp-Apim-Subscription-Key")).isEqualTo("sub-123");
    assertThat(request.getHeader("api-key")).isNull();
  }

  @Test
  void apiKeyAndAzureCredential_rejectedSayingChooseOne() {
    assertThatThrownBy(() -> AffinityOpenAI.builder().baseUrl("http://127.0.0.1:1/v1")
        .apiKey("sk-abc").azureCredential(token("t")).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("apiKey").hasMessageContaining("azureCredential");
    assertThatThrownBy(() -> AffinityOpenAI.builder().azureCredential(null))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void customize_appliesToSdkBuilder() throws Exception {
    RecordedRequest request = recordOne(AffinityOpenAI.builder().apiKey("sk-abc")
        .customize(sdk -> sdk.putHeader("x-team", "blue")));

    assertThat(request.getHeader("x-team")).isEqualTo("blue");
  }

  @Test
  void build_withoutBaseUrl_failsSayingWhatToSet() {
    assertThatThrownBy(() -> AffinityOpenAI.builder().apiKey("k").build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("baseUrl");
    assertThatThrownBy(() -> AffinityOpenAI.builder().maxRetries(-1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  // --- secrets, with the SDK's own log and the routing log's headers on ---

  @Test
  void secrets_sdkDebugLogAndRoutingHeadersOn_neverInALogLineExceptionOrToString() throws Exception {
    String apiKey = "sk-s3cr3t-api-key";
    String subscriptionKey = "s3cr3t-subscription-key";
    String bearer = "s3cr3t-entra-bearer";
    String sessionCookie = "s3cr3t-session-cookie";
    List<String> secrets = new ArrayList<>(List.of(apiKey, subscriptionKey, bearer, sessionCookie));
    List<String> seen = new ArrayList<>();
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .level(RoutingLogInterceptor.Level.HEADERS).logLevel(org.slf4j.event.Level.DEBUG).build();
    List<AffinityOpenAI.Builder> builders = List.of(
        AffinityOpenAI.builder().apiKey(apiKey).apimSubscriptionKey(subscriptionKey),
        AffinityOpenAI.builder().azureCredential(token(bearer)).apimSubscriptionKey(subscriptionKey),
        AffinityOpenAI.builder().apimSubscriptionKey(subscriptionKey));
    String log;    // every SLF4J event of the run, at every level
    String stderr; // and what was printed: the SDK prints its own log to System.err, not to SLF4J
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      PrintStream original = System.err;
      ByteArrayOutputStream printed = new ByteArrayOutputStream();
      System.setErr(new PrintStream(printed, true, StandardCharsets.UTF_8));
      try {
        log = LogCapture.during(() -> {
          for (AffinityOpenAI.Builder builder : builders) {
            seen.add(builder.toString());
            OpenAIClient client = builder.baseUrl(apim.openAiBaseUrl()).maxRetries(1)
                .customize(sdk -> sdk.logLevel(LogLevel.DEBUG)          // as OPENAI_LOG=debug does
                    .putHeader("Cookie", "session=" + sessionCookie)
                    .addInterceptor(routing))
                .build();
            try {
              seen.add(client.toString());
              conversation(client, apim, seen);
            } finally {
              client.close();
            }
          }
          OpenAIClient failing = AffinityOpenAI.builder().baseUrl(apim.openAiBaseUrl()).maxRetries(0)
              .azureCredential(failingCredential()).apimSubscriptionKey(subscriptionKey)
              .customize(sdk -> sdk.logLevel(LogLevel.DEBUG).addInterceptor(routing))
              .build();
          try {
            assertThatThrownBy(() -> failing.responses().create(turn("Hello", null)))
                .isInstanceOf(OpenAIException.class)
                .satisfies(e -> causes(e, seen))
                .hasStackTraceContaining("Entra ID token");
          } finally {
            failing.close();
          }
        }).text();
      } finally {
        System.setErr(original);
      }
      stderr = printed.toString(StandardCharsets.UTF_8);
      original.print(stderr);
      apim.requestLog().stream().map(LoggedRequest::issuedCookie).filter(Objects::nonNull)
          .forEach(secrets::add);
    }
    seen.add(log);
    seen.add(stderr);
    seen.add(routing.toString());

    assertThat(secrets).hasSizeGreaterThan(6); // the simulator issued cookies
    // The SDK's log was on, and redacted what it saw itself.
    assertThat(stderr).contains("--> POST ").contains("Authorization: ██").contains("api-key: ██");
    // Every routing field, from the SDK's exchanges: sync, retried 429, stream, async, moved.
    List<String> lines = log.lines()
        .filter(line -> line.contains("DEBUG " + RoutingLogInterceptor.class.getName() + " - POST"))
        .toList();
    assertThat(lines).isNotEmpty();
    for (String field : List.of(" region=\"", " x-request-id=", " apim-request-id=", " remaining-requests=",
        " remaining-tokens=", " retry-after=10ms", " cookie-sent=APIM-Backend-Affinity:",
        " cookie-set=APIM-Backend-Affinity:", " chain=response:resp_", " created=response:resp_",
        " BACKEND CHANGED (was region=")) {
      assertThat(lines).as(field).anyMatch(line -> line.contains(field));
    }
    String redacted = RoutingLogInterceptor.REDACTED;
    assertThat(log).contains("> Ocp-Apim-Subscription-Key: " + redacted).contains("> Authorization: " + redacted)
        .contains("> api-key: " + redacted).contains("> Cookie: session:");
    for (String text : seen) {
      for (String secret : secrets) {
        assertThat(text).doesNotContain(secret);
      }
    }
  }

  /** Five turns of one conversation: sync, a retried 429, a stream, async, then its backend dies. */
  private static void conversation(OpenAIClient client, ApimSimulator apim, List<String> seen)
      throws Exception {
    Response first = client.responses().create(turn("Hello", null));
    String backend = SimulatedAnswer.parse(text(first)).backend();
    apim.backend(backend).failNext(1, 429, Duration.ofMillis(10));
    Response second = client.responses().create(turn("Go on", first.id()));
    String streamedId = null;
    try (StreamResponse<ResponseStreamEvent> stream =
        client.responses().createStreaming(turn("And then?", second.id()))) {
      for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) stream.stream()::iterator) {
        if (event.completed().isPresent()) {
          streamedId = event.completed().get().response().id();
        }
      }
    }
    Response fourth = client.async().responses().create(turn("More", streamedId)).get(30, TimeUnit.SECONDS);
    apim.backend(backend).kill();
    try {
      client.responses().create(turn("Still there?", fourth.id()));
    } catch (OpenAIException e) {
      causes(e, seen); // previous_response_not_found, unless the chain was repaired
    } finally {
      apim.backend(backend).revive();
    }
  }

  private static void causes(Throwable e, List<String> seen) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      seen.add(t.toString());
    }
  }

  private static ResponseCreateParams turn(String input, String previousId) {
    ResponseCreateParams.Builder params = ResponseCreateParams.builder().model("gpt-4.1").input(input);
    if (previousId != null) {
      params.previousResponseId(previousId);
    }
    return params.build();
  }

  private static String text(Response response) {
    return response.output().get(0).asMessage().content().get(0).asOutputText().text();
  }

  // --- without azure-identity ---

  @Test
  void withoutAzureOnTheClasspath_builderAndClientWork() throws Exception {
    List<URL> urls = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      urls.add(Path.of(entry).toUri().toURL());
    }
    try (MockWebServer server = new MockWebServer();
        HidingClassLoader loader = new HidingClassLoader(urls.toArray(URL[]::new), "com.azure.", "reactor.")) {
      server.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody(RESPONSE_JSON));
      server.start();
      assertThatThrownBy(() -> Class.forName(TokenCredential.class.getName(), false, loader))
          .isInstanceOf(ClassNotFoundException.class);

      Class<?> probe = Class.forName(Probe.class.getName(), true, loader);
      assertThat(Class.forName(AffinityOpenAI.class.getName(), false, loader).getClassLoader()).isSameAs(loader);
      Constructor<?> constructor = probe.getDeclaredConstructor();
      constructor.setAccessible(true);
      @SuppressWarnings("unchecked")
      Function<String, String> run = (Function<String, String>) constructor.newInstance();

      assertThat(run.apply(server.url("/v1").toString())).isEqualTo("resp_1");
      assertThat(server.takeRequest(5, TimeUnit.SECONDS).getHeader("Ocp-Apim-Subscription-Key"))
          .isEqualTo("sub-123");
    }
  }

  /**
   * Runs inside the hiding loader: AffinityOpenAI as someone without azure-identity uses it. It
   * must not touch this test class, whose helpers do refer to Azure types.
   */
  static final class Probe implements Function<String, String> {
    @Override
    public String apply(String baseUrl) {
      OpenAIClient client = AffinityOpenAI.builder().baseUrl(baseUrl).apiKey("sk-abc")
          .apimSubscriptionKey("sub-123").maxRetries(0).build();
      try {
        return client.responses().create(
            ResponseCreateParams.builder().model("gpt-4.1").input("hi").build()).id();
      } finally {
        client.close();
      }
    }
  }

  /** Loads the test classpath itself, refusing every class under the hidden prefixes. */
  private static final class HidingClassLoader extends URLClassLoader {
    private final List<String> hidden;

    HidingClassLoader(URL[] urls, String... hidden) {
      super(urls, ClassLoader.getPlatformClassLoader());
      this.hidden = List.of(hidden);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      for (String prefix : hidden) {
        if (name.startsWith(prefix)) {
          throw new ClassNotFoundException(name + " is hidden by this test");
        }
      }
      return super.loadClass(name, resolve);
    }
  }

  // --- helpers ---

  /** A credential that always hands out {@code value}, valid for an hour. */
  private static TokenCredential token(String value) {
    return new TokenCredential() {
      @Override
      public Mono<AccessToken> getToken(TokenRequestContext context) {
        return Mono.fromCallable(() -> getTokenSync(context));
      }

      @Override
      public AccessToken getTokenSync(TokenRequestContext context) {
        return new AccessToken(value, OffsetDateTime.now(ZoneOffset.UTC).plusHours(1));
      }
    };
  }

  private static TokenCredential failingCredential() {
    return new TokenCredential() {
      @Override
      public Mono<AccessToken> getToken(TokenRequestContext context) {
        return Mono.fromCallable(() -> getTokenSync(context));
      }

      @Override
      public AccessToken getTokenSync(TokenRequestContext context) {
        throw new IllegalStateException("AADSTS700016: application not found in the directory");
      }
    };
  }

  private static RecordedRequest recordOne(AffinityOpenAI.Builder builder)
      throws IOException, InterruptedException {
    try (MockWebServer server = new MockWebServer()) {
      server.enqueue(new MockResponse().setHeader("Content-Type", "application/json").setBody(RESPONSE_JSON));
      server.start();
      OpenAIClient client = builder.baseUrl(server.url("/v1").toString()).maxRetries(0).build();
      try {
        client.responses().create(ResponseCreateParams.builder().model("gpt-4.1").input("hi").build());
      } finally {
        client.close();
      }
      return server.takeRequest(5, TimeUnit.SECONDS);
    }
  }
}
