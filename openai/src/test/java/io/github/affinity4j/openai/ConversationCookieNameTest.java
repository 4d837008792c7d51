package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static org.assertj.core.api.Assertions.assertThat;

import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.okhttp.internal.CookieNameCheck;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import io.github.affinity4j.testsupport.LogCapture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Interceptor;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.event.Level;

/**
 * The one WARN of {@link AffinityConversations} when the gateway's affinity cookie has another
 * name than the ones configured: an SDK client on {@link ApimSimulator}, turns sent sync, async and
 * streamed.
 */
@Timeout(60)
final class ConversationCookieNameTest {
  private static final String FIX = "cookieNames(";

  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @Test
  void poolNamesItsCookieOtherwise_severalConversations_oneWarnNamingTheCookieNeverItsValue() throws Exception {
    simulator = ApimSimulator.builder().backends(3).cookieName("SessionId").start();
    AffinityConversations conversations = conversations(plain(), AffinityConversations.builder());

    LogCapture logs = LogCapture.during(() -> {
      conversation(conversations, 1);
      conversation(conversations, 2);
    });

    List<CapturedLog> warnings = cookieWarnings(logs);
    assertThat(warnings).hasSize(1);
    CapturedLog warning = warnings.get(0);
    assertThat(warning.level()).isEqualTo(Level.WARN);
    assertThat(warning.logger()).isEqualTo(AffinityConversations.class.getName());
    assertThat(warning.message()).contains("SessionId", "AffinityConversations.builder()", FIX,
        ChainRegistry.DEFAULT_COOKIE_NAME);
    List<String> values = simulator.requestLog().stream().map(LoggedRequest::issuedCookie)
        .filter(Objects::nonNull).toList();
    assertThat(values).hasSizeGreaterThan(1);
    assertThat(logs.text()).doesNotContain(values.toArray(String[]::new));
  }

  @Test
  void poolNamesItsCookieOtherwise_twoWrappers_eachSaysItOnce() throws Exception {
    simulator = ApimSimulator.builder().backends(2).cookieName("SessionId").start();
    OpenAIClient client = plain();
    AffinityConversations first = conversations(client, AffinityConversations.builder());
    AffinityConversations second = conversations(client, AffinityConversations.builder());

    LogCapture logs = LogCapture.during(() -> {
      conversation(first, 1);
      conversation(second, 2);
      conversation(first, 3);
    });

    assertThat(cookieWarnings(logs)).hasSize(2);
  }

  @Test
  void poolUsesTheConfiguredName_noWarn() throws Exception {
    simulator = ApimSimulator.builder().backends(3).cookieName("SessionId").start();
    AffinityConversations conversations = conversations(plain(),
        AffinityConversations.builder().cookieNames("SessionId"));

    LogCapture logs = LogCapture.during(() -> {
      conversation(conversations, 1);
      conversation(conversations, 2);
    });

    assertThat(warnings(logs)).isEmpty();
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
    OpenAIClient client = closeLater(clients, plainClient(simulator.openAiBaseUrl(), arr).build());
    AffinityConversations conversations = conversations(client, AffinityConversations.builder());

    LogCapture logs = LogCapture.during(() -> {
      conversation(conversations, 1);
      conversation(conversations, 2);
    });

    assertThat(responses.get()).isEqualTo(6);
    assertThat(warnings(logs)).isEmpty();
  }

  @Test
  void setCookieName_isWhatPrecedesTheFirstEquals_neverTheValue() {
    assertThat(CookieNameCheck.name(" SessionId =v=w; Path=/")).isEqualTo("SessionId");
    assertThat(CookieNameCheck.name("noValue; Path=/")).isNull();
  }

  // --- helpers ---

  private OpenAIClient plain() {
    return closeLater(clients, plainClient(simulator.openAiBaseUrl()).build());
  }

  private static AffinityConversations conversations(OpenAIClient client,
      AffinityConversations.Builder builder) {
    return builder.client(client).defaults(defaults()).retryPause(Duration.ZERO).build();
  }

  /** Three turns of a conversation: sync, async, then streamed. */
  private static void conversation(AffinityConversations conversations, int n) throws Exception {
    Conversation chat = conversations.start();
    chat.send(marker(n, 1));
    chat.sendAsync(marker(n, 2)).get(20, TimeUnit.SECONDS);
    boolean completed = false;
    try (StreamResponse<ResponseStreamEvent> stream = chat.stream(marker(n, 3))) {
      for (ResponseStreamEvent event : (Iterable<ResponseStreamEvent>) stream.stream()::iterator) {
        completed |= event.isCompleted();
      }
    }
    assertThat(completed).isTrue();
  }

  private static List<CapturedLog> warnings(LogCapture logs) {
    return logs.events().stream().filter(event -> event.level() == Level.WARN).toList();
  }

  private static List<CapturedLog> cookieWarnings(LogCapture logs) {
    return warnings(logs).stream().filter(event -> event.message().contains(FIX)).toList();
  }
}
