package io.github.affinity4j.openai;

import com.openai.models.responses.EasyInputMessage;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseInputItem;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What one turn of a {@link Conversation} sends, made from what the conversation holds. A stored
 * chain's turn names the previous response ({@code previous_response_id}); a stateless one
 * ({@code store: false}) names nothing and sends the whole conversation again as its input, as the
 * API needs: the engine pins it by the items it sends back.
 *
 * @param params the params to send, without {@code previous_response_id}
 * @param previousResponseId the response a stored chain's turn continues; null for a first turn
 *     and for a stateless one
 * @param sent the stateless conversation's items this turn sends (the history, then the turn's
 *     input); null for a stored chain
 */
record TurnRequest(ResponseCreateParams params, @Nullable String previousResponseId,
    @Nullable List<ResponseInputItem> sent) {

  /**
   * The request of the turn {@code turn} after {@code before}.
   *
   * @throws IllegalArgumentException if the turn's {@code store} differs from the conversation's:
   *     a stored chain cannot go on statelessly, nor a stateless one be continued by id
   */
  static TurnRequest of(Conversation.State before, ResponseCreateParams turn) {
    boolean stateless = isStateless(turn);
    if (before.lastResponseId() != null && stateless != before.isStateless()) {
      throw new IllegalArgumentException("affinity4j: a Conversation keeps the store setting of its first turn ("
          + (before.isStateless() ? "false" : "true") + "); start another conversation for the other"
          + " (see docs/conversations.md#stateless-conversations)");
    }
    if (!stateless) {
      return new TurnRequest(turn, before.lastResponseId(), null);
    }
    List<ResponseInputItem> sent = new ArrayList<>(before.items());
    sent.addAll(inputOf(turn));
    return new TurnRequest(turn.toBuilder().inputOfResponse(sent).build(), null, List.copyOf(sent));
  }

  /** Returns true if {@code params} sets {@code store: false}: a conversation that keeps its own items. */
  static boolean isStateless(ResponseCreateParams params) {
    return params.store().orElse(true).equals(Boolean.FALSE);
  }

  /**
   * The stateless conversation's items after this turn: what it sent, then the response's output
   * (reasoning with its encrypted content, messages, calls), as input items; null for a stored chain.
   */
  @Nullable List<ResponseInputItem> itemsAfter(Response response) {
    List<ResponseInputItem> items = sent;
    if (items == null) {
      return null;
    }
    List<ResponseInputItem> after = new ArrayList<>(items);
    after.addAll(SdkJson.asInput(response.output()));
    return List.copyOf(after);
  }

  /** The turn's own input as items: a text is one user message. */
  private static List<ResponseInputItem> inputOf(ResponseCreateParams turn) {
    ResponseCreateParams.Input input = turn.input().orElse(null);
    if (input == null) {
      return List.of();
    }
    if (input.isText()) {
      return List.of(ResponseInputItem.ofEasyInputMessage(EasyInputMessage.builder()
          .role(EasyInputMessage.Role.USER).content(input.asText()).build()));
    }
    return input.isResponse() ? input.asResponse() : List.of();
  }
}
