package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.COOKIE;
import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.openai.ConversationFixtures.CookieRecorder;
import io.github.affinity4j.openai.ConversationFixtures.RecordingListener;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.event.Level;

/**
 * The conversation wrapper never reveals a conversation or a credential. With every SLF4J level on
 * (a {@link LogCapture}), a {@link Conversation} sends, streams, sends async, is repaired by
 * replay when its backend dies, fails to be repaired when the journal lacks its history, and is
 * misused: no log event, no exception the caller gets, no listener event and no {@code toString()}
 * holds what the user or the model said, an API key, a subscription key, a caller's cookie or an
 * affinity cookie value. And a chain's pin never goes to another host than the one that set it.
 */
@Tag("security")
@Timeout(120)
final class ConversationSecurityTest {
  private static final String SAID = "zebra-said-";
  private final List<OpenAIClient> clients = new ArrayList<>();

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
  }

  @Test
  void everyLevel_everyPath_noConversationTextOrSecretAnywhere() throws Exception {
    List<String> secrets = new ArrayList<>(List.of(SAID, "sk-s3cr3t-key", "s3cr3t-subscription", "s3cr3t-session"));
    List<String> seen = new ArrayList<>();
    RecordingListener listener = new RecordingListener();
    List<CapturedLog> captured;
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start(); LogCapture logs = LogCapture.start()) {
      OpenAIClient client = closeLater(clients, plainClient(apim.openAiBaseUrl()).apiKey("sk-s3cr3t-key")
          .putHeader("Ocp-Apim-Subscription-Key", "s3cr3t-subscription")
          .putHeader("Cookie", "session=s3cr3t-session").build());
      CaffeineAffinityStore store = CaffeineAffinityStore.builder().build();
      AffinityConversations conversations = AffinityConversations.builder().client(client).defaults(defaults())
          .store(store).listener(listener).retryPause(Duration.ZERO).build();
      Conversation chat = conversations.start();

      chat.send(SAID + "1 the plan is in the garden");
      try (StreamResponse<ResponseStreamEvent> stream = chat.stream(SAID + "2 under the oak")) {
        stream.stream().forEach(event -> { });
      }
      chat.sendAsync(SAID + "3 at midnight").get(30, TimeUnit.SECONDS);
      String backend = apim.requestLog().get(apim.requestLog().size() - 1).backend();
      apim.backend(backend).kill();
      chat.send(SAID + "4 bring a lantern"); // repaired by replay: the history is sent again
      apim.backend(backend).revive();

      // The journal lacks the chain: the repair fails, and the caller gets the SDK's error.
      AffinityConversations forgetful = AffinityConversations.builder().client(client).defaults(defaults())
          .store(store).journal(CaffeineHistoryJournal.builder().build()).listener(listener)
          .retryPause(Duration.ZERO).build();
      Conversation resumed = forgetful.resume(chat.lastResponseId().orElseThrow());
      String last = apim.requestLog().get(apim.requestLog().size() - 1).backend();
      apim.backend(last).kill();
      RuntimeException unrepaired = caught(() -> resumed.send(SAID + "5 and a map"));
      seen.add(trace(unrepaired));
      assertThat(ChainNote.find(unrepaired)).map(ChainNote::reason).contains(ChainNote.Reason.REPAIR_FAILED);
      assertThat(forgetful.repairStats().repairsFailed()).isEqualTo(1);
      apim.backend(last).revive();

      // Misuse: its messages say what to do, never what was said.
      seen.add(thrown(() -> chat.submitToolOutputs(Map.of("call_1", SAID + "6 tool output"))));
      seen.add(thrown(() -> conversations.resume("not an id " + SAID)));
      seen.add(thrown(() -> chat.send(defaults().toBuilder().input(SAID + "7").previousResponseId("resp_x").build())));

      seen.addAll(List.of(chat.toString(), resumed.toString(), chat.fork().toString(), conversations.toString(),
          forgetful.toString(), conversations.stats().toString(), conversations.repairStats().toString(),
          conversations.store().toString(), conversations.journal().toString(), chat.routing().toString(),
          String.valueOf(chat.pinFingerprint()), client.toString()));
      listener.repaired.forEach(r -> seen.add(r.toString()));
      seen.addAll(listener.failed);
      apim.requestLog().stream().map(r -> r.issuedCookie()).filter(Objects::nonNull).forEach(secrets::add);
      captured = logs.events();
      seen.add(logs.text());
    }

    assertThat(listener.repaired).isNotEmpty();
    assertThat(listener.failed).isNotEmpty();
    assertThat(captured).anyMatch(e -> e.logger().startsWith("io.github.affinity4j") && e.level() == Level.DEBUG);
    assertThat(secrets).hasSizeGreaterThan(5); // the simulator issued affinity cookies
    for (String text : seen) {
      for (String secret : secrets) {
        assertThat(text).doesNotContain(secret);
      }
    }
  }

  @Test
  void chainPinnedOnOneHost_conversationOnAnother_carriesNoPin() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      CookieRecorder wire = new CookieRecorder();
      CaffeineAffinityStore store = CaffeineAffinityStore.builder().build();
      OpenAIClient here = closeLater(clients, plainClient(apim.openAiBaseUrl(), wire).build());
      OpenAIClient elsewhere = closeLater(clients, plainClient(apim.openAiBaseUrl().replace("127.0.0.1", "localhost"),
          wire).build());
      Conversation chat = AffinityConversations.builder().client(here).defaults(defaults()).store(store).build().start();
      chat.send("Hi");
      chat.send("Again");
      AffinityConversations onAnotherHost = AffinityConversations.builder().client(elsewhere).defaults(defaults())
          .store(store).build();

      // The chain belongs to the origin that made it: another host's instance finds nothing.
      assertThatThrownBy(() -> onAnotherHost.resume(chat.lastResponseId().orElseThrow()))
          .isInstanceOf(NoSuchElementException.class);
      Conversation own = onAnotherHost.start();
      own.send("From another host");

      List<String> cookies = new ArrayList<>(wire.cookies);
      assertThat(cookies).hasSize(3);
      assertThat(cookies.get(1)).contains(COOKIE + "="); // pinned on the host that set it
      assertThat(cookies.get(2)).doesNotContain(COOKIE + "=");
    }
  }

  private static String thrown(Runnable action) {
    return trace(caught(action));
  }

  private static RuntimeException caught(Runnable action) {
    try {
      action.run();
    } catch (RuntimeException e) {
      return e;
    }
    throw new AssertionError("expected an exception");
  }

  private static String trace(Throwable failure) {
    StringWriter out = new StringWriter();
    failure.printStackTrace(new PrintWriter(out));
    return out.toString();
  }
}
