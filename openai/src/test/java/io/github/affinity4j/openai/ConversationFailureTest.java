package io.github.affinity4j.openai;

import static io.github.affinity4j.openai.ConversationFixtures.closeLater;
import static io.github.affinity4j.openai.ConversationFixtures.defaults;
import static io.github.affinity4j.openai.ConversationFixtures.marker;
import static io.github.affinity4j.openai.ConversationFixtures.noteHeaders;
import static io.github.affinity4j.openai.ConversationFixtures.notes;
import static io.github.affinity4j.openai.ConversationFixtures.occurrences;
import static io.github.affinity4j.openai.ConversationFixtures.plainClient;
import static io.github.affinity4j.openai.ConversationFixtures.text;
import static java.util.Objects.requireNonNull;
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
import io.github.affinity4j.openai.ConversationFixtures.Named;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A conversation's turn that fails without a repair reaches the caller as the SDK's own exception,
 * same type, naming the chain once, as values: a {@link ChainNote} on the exception (its reason,
 * chain and kind of break), or, layered over an {@link AffinityOpenAI} client whose interceptor
 * names it first, header {@value ChainNote#HEADER} of the error response. Checked as values, never
 * by the wording of the messages.
 */
@Timeout(60)
final class ConversationFailureTest {
  private final List<OpenAIClient> clients = new ArrayList<>();
  private ApimSimulator simulator;
  private AffinityInterceptor interceptor;
  private AffinityConversations conversations;

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

    assertThat(e.statusCode()).isEqualTo(429);
    assertNamedOnce(e, ChainKey.response(first.id()), ChainNote.Reason.NOT_A_BREAK, layered);
    assertThat(e.headers().values("Retry-After")).containsExactly("1");
    assertThat(chat.lastResponseId()).contains(first.id());
    // One request: nothing to repair.
    assertThat(simulator.requestLog()).extracting(LoggedRequest::status).containsExactly(200, 429);
    assertNoBreakCounted(layered);
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void sendAsync_serverError_sameTypeNamesTheChainOnce(boolean layered) {
    simulator = ApimSimulator.builder().backends(1).start();
    Conversation chat = conversations(layered).start();
    Response first = chat.send(marker(0, 1));
    simulator.backends().get(0).failNext(1, 500);

    Throwable e = TurnExchange.unwrap(catchThrowable(() -> chat.sendAsync(marker(0, 2)).join()));

    assertThat(e).isInstanceOf(InternalServerException.class);
    assertThat(((InternalServerException) e).statusCode()).isEqualTo(500);
    assertNamedOnce(e, ChainKey.response(first.id()), ChainNote.Reason.NOT_A_BREAK, layered);
    assertThat(simulator.requestLog()).extracting(LoggedRequest::status).containsExactly(200, 500);
    assertNoBreakCounted(layered);
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
    // The SDK's own failure, type and message kept; the note rides along.
    assertThat(e).isInstanceOf(OpenAIIoException.class).hasMessage("Stream failed");
    assertThat(notes(e)).singleElement().satisfies(note -> {
      assertThat(note.reason()).isEqualTo(ChainNote.Reason.BROKE_OFF);
      assertThat(note.chain().toString()).isEqualTo(ChainKey.response(first.id()).toString());
      assertThat(note.brokenBy()).isEmpty();
    });
    assertThat(ChainNote.find(e)).containsSame(notes(e).get(0));
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
    assertThat(ChainNote.find(e)).isEmpty();
    assertThat(noteHeaders(e)).isEmpty();
    assertThat(e.getCause()).as("passed on as it came, not rebuilt").isNull();
  }

  private AffinityConversations conversations(boolean layered) {
    OpenAIClient client;
    AffinityConversations.Builder builder = AffinityConversations.builder().defaults(defaults())
        .retryPause(Duration.ZERO);
    if (layered) {
      interceptor = AffinityInterceptor.builder().retryPause(Duration.ZERO).build();
      client = AffinityOpenAI.builder().baseUrl(simulator.openAiBaseUrl()).apiKey("test-key").maxRetries(0)
          .interceptor(interceptor).build();
      builder.store(interceptor.store()).journal(interceptor.journal());
    } else {
      client = plainClient(simulator.openAiBaseUrl()).build();
    }
    conversations = builder.client(closeLater(clients, client)).build();
    return conversations;
  }

  /** Neither layer counted a break: nothing to repair. */
  private void assertNoBreakCounted(boolean layered) {
    assertThat(requireNonNull(conversations).repairStats().breaks()).isZero();
    if (layered) {
      assertThat(requireNonNull(interceptor).repairStats().breaks()).isZero();
    }
  }

  /**
   * {@code failure} names {@code chain} once, for {@code reason}: on a plain client as a
   * {@link ChainNote} on the SDK's exception; layered, as the interceptor below named it, by header
   * {@value ChainNote#HEADER}, and the conversation carries that verdict on as a note, without
   * amending the message again. Either way its message holds the chain's id once.
   */
  private static void assertNamedOnce(Throwable failure, ChainKey chain, ChainNote.Reason reason, boolean layered) {
    assertThat(Named.of(failure)).contains(new Named(reason, chain.toString()));
    assertThat(occurrences(String.valueOf(failure.getMessage()), chain.id())).as(failure.getMessage()).isEqualTo(1);
    if (layered) {
      assertThat(noteHeaders(failure)).singleElement().satisfies(header -> {
        assertThat(ChainNote.reasonIn(header)).isEqualTo(reason);
        assertThat(header).isEqualTo(ChainNote.of(chain, reason, null, "").headerValue());
      });
      assertThat(notes(failure)).as("the verdict below, as a value").singleElement().satisfies(note -> {
        assertThat(note.chain().toString()).isEqualTo(chain.toString());
        assertThat(note.reason()).isEqualTo(reason);
      });
    } else {
      assertThat(noteHeaders(failure)).isEmpty();
      assertThat(notes(failure)).singleElement().satisfies(note -> {
        assertThat(note.chain().toString()).isEqualTo(chain.toString());
        assertThat(note.reason()).isEqualTo(reason);
        assertThat(note.brokenBy()).isEmpty();
        assertThat(failure.getMessage()).endsWith(" (" + note.getMessage() + ")");
      });
    }
  }
}
