package io.github.affinity4j.openai;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIException;
import com.openai.errors.OpenAIInvalidDataException;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.testsupport.BadInput;
import io.github.affinity4j.testsupport.FuzzSuite;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import okhttp3.Cookie;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.event.Level;

/**
 * A hostile gateway behind the SDK for {@link Conversation}: seeded mutations of response bodies,
 * SSE streams and {@code Set-Cookie} headers, error statuses, over https. Properties per turn: the
 * caller gets an answer or the SDK's own {@link OpenAIException} (for async, inside the future),
 * nothing else; nothing is logged at ERROR; a failed turn leaves the conversation where it was and
 * binds nothing (but a stream that failed after its {@code response.created}: that response exists);
 * a pin is bound only to an id the answer named, from a cookie it validly set or inherited.
 */
@Tag("fuzz")
@Timeout(900)
final class ConversationFuzzTest {
  private static final String COOKIE = ConversationFixtures.COOKIE;
  private static final String BASE = "https://apim.example.com/openai/v1";
  private static final List<String> SET_COOKIES = List.of(COOKIE + "=%s; Path=/; Secure", COOKIE + "=%s",
      COOKIE + "=%s; Domain=evil.example", COOKIE + "=%s; Domain=com", COOKIE + "=%s; Max-Age=0", "other=%s");
  private static final String RESPONSE = "{\"id\":\"%s\",\"object\":\"response\",\"created_at\":1,\"status\":"
      + "\"completed\",\"model\":\"gpt-4.1\",\"output\":[{\"id\":\"msg_1\",\"type\":\"message\",\"status\":"
      + "\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\","
      + "\"annotations\":[]}]}],\"parallel_tool_calls\":true,\"tool_choice\":\"auto\",\"tools\":[]}";
  private static final String STREAM = "event: response.created\ndata: {\"type\":\"response.created\","
      + "\"sequence_number\":0,\"response\":%s}\n\nevent: response.completed\ndata: {\"type\":"
      + "\"response.completed\",\"sequence_number\":1,\"response\":%s}\n\n";
  private static final String ERROR = "{\"error\":{\"message\":\"Previous response with id 'resp_x' not found.\","
      + "\"type\":\"invalid_request_error\",\"param\":\"previous_response_id\",\"code\":\"previous_response_not_found\"}}";

  private final List<OpenAIClient> clients = new ArrayList<>();

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
  }

  @Test
  void hostileGateway_conversation_onlySdkErrorsAndNoBindingFromMalformedData() {
    Gateway gateway = new Gateway();
    RecordingStore store = new RecordingStore();
    OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(BASE).apiKey("test-key").maxRetries(0)
        .okHttpClient(new OkHttpClient.Builder().addInterceptor(gateway).build()).build();
    clients.add(client);
    AffinityConversations conversations = AffinityConversations.builder().client(client)
        .defaults(ConversationFixtures.defaults()).store(store).retryPause(Duration.ZERO).build();
    Conversation[] chat = {conversations.start()};
    int[] answered = {0};

    FuzzSuite.run("conversation, hostile gateway", 300, 20_000, Duration.ofSeconds(90), (random, index) -> {
      if (random.nextInt(6) == 0) {
        chat[0] = conversations.start();
      }
      String id = "resp_f" + index;
      boolean stream = random.nextInt(3) == 0;
      int status = BadInput.oneOf(random, 200, 200, 200, 400, 404, 500, 503);
      String response = String.format(RESPONSE, id);
      String body = status >= 300 ? ERROR : stream ? String.format(STREAM, response, response) : response;
      byte[] sent = (random.nextInt(3) == 0 ? BadInput.mutate(random, body) : body).getBytes(UTF_8);
      List<String> setCookies = new ArrayList<>();
      for (int i = random.nextInt(3); i > 0; i--) {
        String header = String.format(BadInput.oneOf(random, SET_COOKIES), "v" + index + "_" + i);
        setCookies.add(random.nextInt(3) == 0 ? BadInput.mutate(random, header).replace('\n', ' ').replace('\r', ' ')
            : header);
      }
      gateway.status = status;
      gateway.body = sent;
      gateway.type = stream ? "text/event-stream" : "application/json";
      gateway.setCookies = setCookies;
      store.puts.clear();
      Map<String, AffinityToken> before = store.snapshot();
      Optional<String> lastBefore = chat[0].lastResponseId();

      boolean ok = false;
      try (LogCapture logs = LogCapture.start(false)) {
        try {
          if (stream) {
            try (StreamResponse<ResponseStreamEvent> events = chat[0].stream("Hi " + index)) {
              events.stream().forEach(event -> { });
            }
          } else if (random.nextBoolean()) {
            chat[0].sendAsync("Hi " + index).get(30, TimeUnit.SECONDS);
          } else {
            chat[0].send("Hi " + index);
          }
          ok = true;
          answered[0]++;
        } catch (ExecutionException e) {
          assertThat(e.getCause()).as("async failure").isInstanceOf(OpenAIException.class);
        } catch (OpenAIException e) {
          // the SDK's own error: fine
        }
        List<CapturedLog> errors = logs.events().stream().filter(e -> e.level() == Level.ERROR).toList();
        assertThat(errors).as("ERROR from hostile input").isEmpty();
      }

      if (!ok) {
        if (stream) {
          // Its response.completed may have come through before the stream broke: then the turn was over.
          assertThat(chat[0].lastResponseId()).as("a broken stream").isIn(lastBefore, Optional.of(id));
        } else {
          assertThat(chat[0].lastResponseId()).as("a failed turn leaves the conversation").isEqualTo(lastBefore);
        }
        if (!stream) {
          // Bound on a failed turn only when the answer was a 2xx, well-formed JSON response naming
          // that id, which the SDK then refused (a required field missing): it was created there.
          // A stream that broke after its response.created did create that response too.
          for (Map.Entry<ChainKey, AffinityToken> put : store.puts) {
            assertThat(status).isEqualTo(200);
            assertThat(ConversationFixtures.json(new String(sent, UTF_8)).path("id").asText())
                .as("bound on failure").isEqualTo(put.getKey().id());
          }
        }
      }
      HttpUrl url = HttpUrl.get(BASE + "/responses");
      List<String> valid = new ArrayList<>();
      for (String header : setCookies) {
        Cookie cookie = Cookie.parse(url, header);
        if (cookie != null) {
          valid.add(cookie.value());
        }
      }
      for (Map.Entry<ChainKey, AffinityToken> put : store.puts) {
        String value = put.getValue().value();
        assertThat(valid.contains(value) || before.values().stream().anyMatch(t -> t.value().equals(value)))
            .as("bound %s for %s", value, put.getKey()).isTrue();
        assertThat(new String(sent, UTF_8)).contains(put.getKey().id());
      }
    });
    if (System.getProperty(FuzzSuite.CASE_PROPERTY) == null) {
      assertThat(answered[0]).as("turns that succeeded").isGreaterThan(20);
    }
  }

  @Test
  void streamEventWithoutId_conversation_debugNotError() {
    // Found by the suite above: the SDK throws for a missing required field, which is bad data.
    Gateway gateway = new Gateway();
    OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(BASE).apiKey("test-key").maxRetries(0)
        .okHttpClient(new OkHttpClient.Builder().addInterceptor(gateway).build()).build();
    clients.add(client);
    String noId = String.format(RESPONSE, "resp_1").replace("\"id\":\"resp_1\",", "");
    gateway.status = 200;
    gateway.type = "text/event-stream";
    gateway.body = String.format(STREAM, noId, noId).getBytes(UTF_8);
    Conversation chat = AffinityConversations.builder().client(client).defaults(ConversationFixtures.defaults())
        .build().start();

    List<CapturedLog> events;
    try (LogCapture logs = LogCapture.start();
        StreamResponse<ResponseStreamEvent> stream = chat.stream("Hi")) {
      assertThat(stream.stream().count()).isEqualTo(2);
      events = logs.events();
    }

    assertThat(events).noneMatch(e -> e.level() == Level.ERROR)
        .anyMatch(e -> e.level() == Level.DEBUG && e.logger().equals(ObservedStream.class.getName())
            && e.message().contains(OpenAIInvalidDataException.class.getSimpleName()));
    assertThat(chat.lastResponseId()).isEmpty();
  }

  @Test
  void gatewayIssuesAnIdNoKeyHolds_nextTurn_sentWithoutPinNotRefused() {
    // Found by the full suite: the next turn threw IllegalArgumentException, and every one after it.
    Gateway gateway = new Gateway();
    Conversation chat = conversation(gateway);
    gateway.status = 200;
    gateway.type = "application/json";
    gateway.body = String.format(RESPONSE, "resp f1").getBytes(UTF_8);
    chat.send("Hi");
    gateway.body = String.format(RESPONSE, "resp_2").getBytes(UTF_8);

    chat.send("Again");

    assertThat(chat.lastResponseId()).contains("resp_2");
  }

  @Test
  void streamEventOfNull_conversation_noError() {
    // Found by the full suite: the SDK hands `data: null` on as a null event.
    Gateway gateway = new Gateway();
    Conversation chat = conversation(gateway);
    String response = String.format(RESPONSE, "resp_1");
    gateway.status = 200;
    gateway.type = "text/event-stream";
    gateway.body = ("data: null\n\n" + String.format(STREAM, response, response)).getBytes(UTF_8);

    List<CapturedLog> events;
    try (LogCapture logs = LogCapture.start();
        StreamResponse<ResponseStreamEvent> stream = chat.stream("Hi")) {
      stream.stream().forEach(event -> { });
      events = logs.events();
    }

    assertThat(events).noneMatch(e -> e.level() == Level.ERROR);
    assertThat(chat.lastResponseId()).contains("resp_1");
  }

  private Conversation conversation(Gateway gateway) {
    OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(BASE).apiKey("test-key").maxRetries(0)
        .okHttpClient(new OkHttpClient.Builder().addInterceptor(gateway).build()).build();
    clients.add(client);
    return AffinityConversations.builder().client(client).defaults(ConversationFixtures.defaults()).build().start();
  }

  /** Answers every request itself with the case's status, cookies and body. */
  private static final class Gateway implements Interceptor {
    volatile int status;
    volatile byte[] body;
    volatile String type;
    volatile List<String> setCookies = List.of();

    @Override
    public Response intercept(Chain chain) {
      Response.Builder response = new Response.Builder().request(chain.request()).protocol(Protocol.HTTP_1_1)
          .code(status).message("fake").body(ResponseBody.create(body, MediaType.get(type)));
      okhttp3.Headers.Builder headers = new okhttp3.Headers.Builder();
      for (String header : setCookies) {
        headers.addUnsafeNonAscii("Set-Cookie", header); // as leniently as OkHttp reads a response
      }
      return response.headers(headers.build()).build();
    }
  }

  /** A Caffeine store that records every put. */
  private static final class RecordingStore implements AffinityStore {
    final AffinityStore delegate = CaffeineAffinityStore.builder().build();
    final List<Map.Entry<ChainKey, AffinityToken>> puts = new CopyOnWriteArrayList<>();
    final Map<ChainKey, AffinityToken> all = new java.util.concurrent.ConcurrentHashMap<>();

    @Override
    public Optional<AffinityToken> get(ChainKey key) {
      return delegate.get(key);
    }

    @Override
    public void put(ChainKey key, AffinityToken token) {
      puts.add(Map.entry(key, token));
      all.put(key, token);
      delegate.put(key, token);
    }

    @Override
    public void remove(ChainKey key) {
      all.remove(key);
      delegate.remove(key);
    }

    @Override
    public long estimatedSize() {
      return delegate.estimatedSize();
    }

    Map<String, AffinityToken> snapshot() {
      Map<String, AffinityToken> copy = new java.util.HashMap<>();
      all.forEach((k, v) -> copy.put(k.toString(), v));
      return copy;
    }
  }

}
