package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static io.github.affinity4j.openai.ConversationFixtures.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.InternalServerException;
import com.openai.errors.OpenAIIoException;
import com.openai.errors.RateLimitException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A conversation's turn that fails without a repair reaches the caller as the SDK's own exception,
 * same type, naming the chain once: in the error's message, or as a {@link ChainNote} on an I/O
 * failure. On a plain SDK client, and layered over an {@link AffinityOpenAI} client whose
 * interceptor names it first.
 */
@Timeout(60)
final class ConversationFailureTest {
  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;

  @AfterEach
  void close() {
    clients.forEach(OpenAIClient::close);
    if (simulator != null) {
      simulator.close();
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void send_rateLimited_sameTypeMessageNamesTheChainOnceConversationUnmoved(boolean layered) {
    simulator = ApimSimulator.builder().backends(1).start();
    Conversation chat = conversations(layered).start();
    Response first = chat.send(marker(0, 1));
    simulator.backends().get(0).failNext(1, 429, Duration.ofSeconds(1));

    RateLimitException e = catchThrowableOfType(RateLimitException.class, () -> chat.send(marker(0, 2)));

    assertThat(e.getMessage()).startsWith("429: Requests to the Responses_Create Operation")
        .endsWith("(" + ChainNote.PREFIX + "response:" + first.id() + " not repaired: HTTP 429 is not a chain break)");
    assertThat(namings(e, ChainKey.response(first.id()))).isEqualTo(1);
    assertThat(e.headers().values("Retry-After")).containsExactly("1");
    assertThat(chat.lastResponseId()).contains(first.id());
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void sendAsync_serverError_sameTypeNamesTheChainOnce(boolean layered) {
    simulator = ApimSimulator.builder().backends(1).start();
    Conversation chat = conversations(layered).start();
    Response first = chat.send(marker(0, 1));
    simulator.backends().get(0).failNext(1, 500);

    Throwable e = TurnExchange.unwrap(catchThrowable(() -> chat.sendAsync(marker(0, 2)).join()));

    assertThat(e).isInstanceOf(InternalServerException.class)
        .hasMessageContaining(ChainNote.PREFIX + "response:" + first.id() + " not repaired: HTTP 500 is not a chain break");
    assertThat(namings(e, ChainKey.response(first.id()))).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void stream_cutMidway_openAiIoExceptionWithOneNoteConversationUnmoved(boolean layered) {
    simulator = ApimSimulator.builder().backends(1).start();
    Conversation chat = conversations(layered).start();
    Response first = chat.send(marker(0, 1));
    SimulatedBackend backend = simulator.backends().get(0);
    backend.cutNextStreamAfter(2);

    Throwable e;
    List<ResponseStreamEvent> seen = new ArrayList<>();
    try (StreamResponse<ResponseStreamEvent> events = chat.stream(marker(0, 2))) {
      e = catchThrowable(() -> events.stream().forEach(seen::add));
    }

    assertThat(seen).as("the caller had the first events").isNotEmpty();
    assertThat(e).isInstanceOf(OpenAIIoException.class).hasMessage("Stream failed");
    assertThat(namings(e, ChainKey.response(first.id()))).isEqualTo(1);
    assertThat(notes(e)).singleElement().satisfies(note ->
        assertThat(note).hasMessageContaining("broke off after its response began"));
    assertThat(chat.lastResponseId()).contains(first.id());
    // The conversation goes on from where it was.
    assertThat(SimulatedAnswer.parse(text(chat.send(marker(0, 3)))).userMessages()).isEqualTo(2);
  }

  @Test
  void send_firstTurnFails_nothingToName() {
    simulator = ApimSimulator.builder().backends(1).start();
    Conversation chat = conversations(false).start();
    simulator.backends().get(0).failNext(1, 429);

    RateLimitException e = catchThrowableOfType(RateLimitException.class, () -> chat.send(marker(0, 1)));

    assertThat(e.getMessage()).doesNotContain("affinity4j");
    assertThat(notes(e)).isEmpty();
  }

  private AffinityConversations conversations(boolean layered) {
    OpenAIClient client;
    AffinityConversations.Builder builder = AffinityConversations.builder().defaults(defaults())
        .retryPause(Duration.ZERO);
    if (layered) {
      AffinityInterceptor interceptor = AffinityInterceptor.builder().retryPause(Duration.ZERO).build();
      client = AffinityOpenAI.builder().baseUrl(simulator.openAiBaseUrl()).apiKey("test-key").maxRetries(0)
          .interceptor(interceptor).build();
      builder.store(interceptor.store()).journal(interceptor.journal());
    } else {
      client = plainClient(simulator.openAiBaseUrl()).build();
    }
    return builder.client(closeLater(clients, client)).build();
  }

  /** How many times {@code failure}, its causes and their notes name {@code chain} as affinity4j does. */
  private static int namings(Throwable failure, ChainKey chain) {
    int count = 0;
    Map<Throwable, Boolean> seen = new IdentityHashMap<>();
    for (Throwable current = failure; current != null && seen.put(current, true) == null; current = current.getCause()) {
      if (String.valueOf(current.getMessage()).contains(ChainNote.PREFIX + chain + " ")) {
        count++;
      }
      for (Throwable suppressed : current.getSuppressed()) {
        if (suppressed instanceof ChainNote note && note.chain().toString().equals(chain.toString())) {
          count++;
        }
      }
    }
    return count;
  }

  private static List<ChainNote> notes(Throwable failure) {
    List<ChainNote> notes = new ArrayList<>();
    for (Throwable current = failure; current != null; current = current.getCause()) {
      for (Throwable suppressed : current.getSuppressed()) {
        if (suppressed instanceof ChainNote note) {
          notes.add(note);
        }
      }
    }
    return notes;
  }
}
