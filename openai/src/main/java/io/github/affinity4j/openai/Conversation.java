package io.github.affinity4j.openai;

import static java.util.Objects.requireNonNull;

import com.openai.core.http.StreamResponse;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseStatus;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.RoutingInfo;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * One multi-turn Responses API conversation through a wrapped {@code OpenAIClient}: each turn
 * continues the previous one ({@code previous_response_id}), carries the chain's gateway affinity
 * pin, and is journaled, so a turn whose backend is lost is repaired once, as the
 * {@link io.github.affinity4j.core.RepairPolicy} says (a retry on the pin, a replay of the whole
 * history elsewhere), and you get a normal response. Made by
 * {@link AffinityConversations#start()}, {@link AffinityConversations#resume(String)} and
 * {@link #fork()}.
 *
 * <pre>{@code
 * Conversation chat = conversations.start();
 * Response answer = chat.send("What is the weather in Paris?");
 * while (!chat.pendingToolCalls().isEmpty()) {                 // function calling
 *   Map<String, String> outputs = new LinkedHashMap<>();
 *   for (ResponseFunctionToolCall call : chat.pendingToolCalls()) {
 *     outputs.put(call.callId(), myTools.run(call.name(), call.arguments()));
 *   }
 *   answer = chat.submitToolOutputs(outputs);
 * }
 * chat.lastResponseId();   // to resume later
 * chat.routing();          // region, request ids, rate limits of the latest turn
 * }</pre>
 *
 * <p>Params: {@link #send(String)} sends the text with the params of the latest
 * {@link #send(ResponseCreateParams)} (or the builder's {@code defaults}), so model, instructions
 * and tools carry over. {@code send(ResponseCreateParams)} takes your params as they are, except
 * that the conversation sets {@code previous_response_id}: params that set it themselves are
 * rejected ({@link IllegalArgumentException}), as is {@code conversation}. Headers and query
 * parameters you set are kept; a {@code Cookie} header of yours keeps its cookies, and the pin is
 * added after them, unless yours already has an affinity cookie (then it is sent as you made it).
 *
 * <p><b>Stateless conversations.</b> With {@code store: false} (in the defaults or the first
 * turn's params) nothing is stored server-side: the conversation keeps every turn's input and
 * output items (reasoning with its {@code encrypted_content} if you {@code include} it) and sends
 * them all again as the next turn's {@code input}, without {@code previous_response_id}. The items
 * it sends back pin the turn to the backend that made them; if that backend is lost, the turn is
 * sent once more without its encrypted reasoning. {@link #history()} returns the items; the API's
 * context window bounds them (a turn it refuses leaves the conversation where it was). A
 * conversation keeps the {@code store} setting of its first turn.
 *
 * <p><b>Background turns.</b> With {@code background: true}, {@code send} and {@code sendAsync}
 * poll the response on its backend until it is no longer {@code queued} or {@code in_progress}
 * ({@link AffinityConversations.Builder#backgroundPollInterval}), and return it finished; its
 * output, first seen on a poll, is journaled, so a later turn can be repaired. A streamed
 * background turn is a stream like any other. A response that {@code failed} or was
 * {@code cancelled} is returned, and leaves the conversation where it was.
 *
 * <p><b>Thread-safety: one turn at a time, rejected, not queued.</b> Every method may be called
 * from any thread. A turn runs from a {@code send}, {@code sendAsync}, {@code stream} or
 * {@code submitToolOutputs} call until its response is back: the call returns, the future
 * completes, or the stream reaches its last event or is closed. Starting another turn on the same
 * conversation meanwhile fails at once with an {@link IllegalStateException} (from
 * {@code sendAsync}: a future failed with it) and sends nothing: the next turn must continue the
 * previous one's response, and queueing would only hide a caller's race, or deadlock a thread that
 * holds an unread stream. The turn is over, and the conversation moved on, before the future's
 * dependent stages run and before the stream hands you its {@code response.completed} event, so
 * chaining the next turn there is safe. Reading methods ({@link #lastResponseId()},
 * {@link #history()}, {@link #routing()}, {@link #fork()}, …) never wait and see the latest
 * finished turn. For parallel branches, {@link #fork()}.
 */
public final class Conversation {

  /**
   * What the latest finished turn left; immutable, replaced whole. A stateless conversation's
   * items are its whole history; null for a stored chain.
   */
  record State(@Nullable String lastResponseId, ResponseCreateParams template, RoutingInfo routing,
      List<ResponseFunctionToolCall> pendingToolCalls, @Nullable List<ResponseInputItem> statelessItems) {

    static State start(ResponseCreateParams defaults) {
      return new State(null, defaults, RoutingInfo.EMPTY, List.of(), null);
    }

    static State resumed(ResponseCreateParams defaults, String responseId, List<ResponseFunctionToolCall> calls) {
      return new State(responseId, defaults, RoutingInfo.EMPTY, calls, null);
    }

    boolean isStateless() {
      return statelessItems != null;
    }

    List<ResponseInputItem> items() {
      List<ResponseInputItem> items = statelessItems;
      return items == null ? List.of() : items;
    }

    /**
     * The state after {@code response} to {@code request}; this state again if the response
     * {@code failed} or was {@code cancelled} (a background one): there is nothing to continue from.
     */
    State next(ResponseCreateParams template, TurnRequest request, Response response, RoutingInfo routing) {
      boolean ended = response.status().filter(status -> status.equals(ResponseStatus.FAILED)
          || status.equals(ResponseStatus.CANCELLED)).isPresent();
      return ended ? this : new State(response.id(), template, routing, SdkJson.functionCalls(response.output()),
          request.itemsAfter(response));
    }
  }

  private final AffinityConversations engine;
  private final AtomicBoolean turnInProgress = new AtomicBoolean();
  private volatile State state;

  Conversation(AffinityConversations engine, State state) {
    this.engine = engine;
    this.state = state;
  }

  /**
   * Sends {@code text} as the next user message, with the params of the latest
   * {@link #send(ResponseCreateParams)} or the builder's defaults, and returns the response.
   *
   * @throws NullPointerException if {@code text} is null
   * @throws IllegalStateException if another turn of this conversation is in progress
   * @throws com.openai.errors.OpenAIException as the SDK throws it, after a repair if the chain
   *     broke and could not be repaired (its message then says which chain broke and why)
   */
  public Response send(String text) {
    requireNonNull(text, "text");
    return run(before -> withInput(before, text), State::template);
  }

  /**
   * Sends your params as the next turn, with {@code previous_response_id} set to the latest
   * response, and returns the response. Later {@link #send(String)} and
   * {@link #submitToolOutputs(Map)} calls use these params.
   *
   * @throws NullPointerException if {@code params} is null
   * @throws IllegalArgumentException if the params set {@code previous_response_id} or
   *     {@code conversation}, or a {@code store} other than the conversation's first turn's
   * @throws IllegalStateException if another turn of this conversation is in progress
   * @throws com.openai.errors.OpenAIException as {@link #send(String)}
   */
  public Response send(ResponseCreateParams params) {
    checkChainable(params, "params");
    return run(before -> params, before -> params);
  }

  /**
   * As {@link #send(String)}, through the client's {@code async()} client. The future fails with
   * an {@link IllegalStateException} if another turn is in progress; it completes after this turn
   * is over.
   *
   * @throws NullPointerException if {@code text} is null
   */
  public CompletableFuture<Response> sendAsync(String text) {
    requireNonNull(text, "text");
    return runAsync(before -> withInput(before, text), State::template);
  }

  /**
   * As {@link #send(ResponseCreateParams)}, through the client's {@code async()} client. The
   * future fails with an {@link IllegalStateException} if another turn is in progress.
   *
   * @throws NullPointerException if {@code params} is null
   * @throws IllegalArgumentException as {@link #send(ResponseCreateParams)}
   */
  public CompletableFuture<Response> sendAsync(ResponseCreateParams params) {
    checkChainable(params, "params");
    return runAsync(before -> params, before -> params);
  }

  /**
   * As {@link #send(String)}, streamed: returns the SDK's stream, whose events reach you
   * unchanged as the backend sends them. A broken chain is repaired before the first event, so
   * the stream is always whole. The response id is bound to the pin at {@code response.created};
   * at {@code response.completed} (or {@code response.incomplete}) the turn is journaled and the
   * conversation moves on, before you see that event. Close the stream (try-with-resources): the
   * turn lasts until its last event or {@code close()}. A stream that ends before
   * {@code response.completed} leaves the conversation where it was.
   *
   * @throws NullPointerException if {@code text} is null
   * @throws IllegalStateException if another turn of this conversation is in progress
   * @throws com.openai.errors.OpenAIException as {@link #send(String)}, before any event
   */
  public StreamResponse<ResponseStreamEvent> stream(String text) {
    requireNonNull(text, "text");
    return runStream(before -> withInput(before, text), State::template);
  }

  /**
   * As {@link #send(ResponseCreateParams)}, streamed, as {@link #stream(String)}.
   *
   * @throws NullPointerException if {@code params} is null
   * @throws IllegalArgumentException as {@link #send(ResponseCreateParams)}
   * @throws IllegalStateException if another turn of this conversation is in progress
   * @throws com.openai.errors.OpenAIException as {@link #send(String)}, before any event
   */
  public StreamResponse<ResponseStreamEvent> stream(ResponseCreateParams params) {
    checkChainable(params, "params");
    return runStream(before -> params, before -> params);
  }

  /**
   * Continues a turn that asked for function calls: sends one {@code function_call_output} per
   * call of {@link #pendingToolCalls()}, in the calls' order, with the latest params (so the
   * tools stay available), and returns the response, which may ask for more calls.
   *
   * @param outputs each pending call's {@code call_id} mapped to its output (the tool's result as
   *     text, usually JSON)
   * @throws NullPointerException if {@code outputs} is null or holds a null
   * @throws IllegalArgumentException if {@code outputs} misses a pending call or names a call
   *     that is not pending (the API rejects both)
   * @throws IllegalStateException if no function call is pending, or another turn is in progress
   * @throws com.openai.errors.OpenAIException as {@link #send(String)}
   */
  public Response submitToolOutputs(Map<String, String> outputs) {
    requireNonNull(outputs, "outputs");
    return run(before -> toolOutputs(before, outputs), State::template);
  }

  /**
   * Returns the function calls the latest response asks for, in order; empty if none. After
   * {@link AffinityConversations#resume(String)}, those of the chain's last journaled turn.
   */
  public List<ResponseFunctionToolCall> pendingToolCalls() {
    return state.pendingToolCalls();
  }

  /**
   * Returns the conversation so far, oldest first, as the SDK's input items: every turn's input
   * and output items as they were journaled (item ids included, as the backend issued them), ready
   * to export or to send as the {@code input} of a new chain through
   * {@code ResponseCreateParams.Builder.inputOfResponse}. Empty before the first turn. Each call
   * reads the journal.
   *
   * @throws IllegalStateException if the journal does not hold the whole history (a resumed chain
   *     it never recorded, or evicted, expired or over its size bound), or could not be read (its
   *     store is down); the message says which
   */
  public List<ResponseInputItem> history() {
    State now = state;
    String last = now.lastResponseId();
    if (last == null || now.isStateless()) {
      return now.items();
    }
    ChainHistory history = engine.history(last);
    if (history == null) {
      throw new IllegalStateException("The HistoryJournal failed to answer for response:" + last
          + " (logged at WARN)");
    }
    if (history.status() == ChainHistory.Status.UNAVAILABLE) {
      throw new IllegalStateException("The HistoryJournal could not be read for response:" + last
          + ": its store is unavailable (down or failing); try again once it answers. Journal: "
          + engine.journal());
    }
    if (!history.isComplete()) {
      throw new IllegalStateException("The journal does not hold the whole history of response:" + last
          + ": " + history.status() + history.link().map(link -> " at " + link).orElse("")
          + "; share one HistoryJournal between the clients that continue this chain, or raise its bounds");
    }
    return SdkJson.inputItems(history.itemArrays());
  }

  /** Returns the id of the latest response, to continue from; empty before the first turn. */
  public Optional<String> lastResponseId() {
    return Optional.ofNullable(state.lastResponseId());
  }

  /**
   * Returns the routing facts of the latest turn's response (region, request ids, rate limits
   * remaining); {@link RoutingInfo#EMPTY} before the first turn, or after a resume.
   */
  public RoutingInfo routing() {
    return state.routing();
  }

  /**
   * Returns the fingerprint of the affinity pin the next turn will carry (8 hex digits of the
   * cookie value's SHA-256, never the value); empty if there is none: before the first turn, or
   * when the gateway set no cookie.
   */
  public Optional<String> pinFingerprint() {
    State now = state;
    String last = now.lastResponseId();
    if (now.isStateless()) {
      String item = SdkJson.lastItemId(now.items());
      return item == null ? Optional.empty() : engine.pinFingerprint(ChainKey.item(item));
    }
    return last == null ? Optional.empty() : engine.pinFingerprint(ChainKey.response(last));
  }

  /**
   * Returns a new conversation that branches from the latest finished turn: it continues the same
   * response, with the same pin (so on the same backend) and the same params, and from there the
   * two go on independently, each with its own turns. Before the first turn, a new conversation.
   * Never waits for a turn in progress.
   */
  public Conversation fork() {
    return new Conversation(engine, state);
  }

  /** Shows the latest response id and whether a turn is in progress; no content, no pin. */
  @Override
  public String toString() {
    return "Conversation[lastResponseId=" + state.lastResponseId() + ", turnInProgress=" + turnInProgress.get()
        + ']';
  }

  // --- turns ---

  // Each turn: begin (or be rejected), then read the state, build the request from it, and run;
  // the template is what later send(String) and submitToolOutputs calls start from.

  private Response run(Function<State, ResponseCreateParams> request,
      Function<State, ResponseCreateParams> template) {
    begin();
    try {
      State before = state;
      TurnRequest turn = TurnRequest.of(before, request.apply(before));
      TurnExchange.Outcome outcome = TurnExchange.prepare(engine, turn).execute();
      state = before.next(template.apply(before), turn, outcome.response(), outcome.routing());
      return outcome.response();
    } finally {
      end();
    }
  }

  private CompletableFuture<Response> runAsync(Function<State, ResponseCreateParams> request,
      Function<State, ResponseCreateParams> template) {
    if (!tryBegin()) {
      return CompletableFuture.failedFuture(busy());
    }
    State before = state;
    TurnRequest turn;
    CompletableFuture<TurnExchange.Outcome> running;
    try {
      turn = TurnRequest.of(before, request.apply(before));
      running = TurnExchange.prepare(engine, turn).executeAsync();
    } catch (RuntimeException e) {
      end();
      return CompletableFuture.failedFuture(e);
    }
    CompletableFuture<Response> result = new CompletableFuture<>();
    running.whenComplete((outcome, error) -> {
      Throwable failure = error;
      try {
        if (error == null) {
          state = before.next(template.apply(before), turn, outcome.response(), outcome.routing());
        }
      } catch (RuntimeException e) {
        failure = e;
      } finally {
        end(); // before the caller's next stage runs, so it may start the next turn
      }
      if (failure == null) {
        result.complete(outcome.response());
      } else {
        result.completeExceptionally(TurnExchange.unwrap(failure));
      }
    });
    return result;
  }

  private StreamResponse<ResponseStreamEvent> runStream(Function<State, ResponseCreateParams> request,
      Function<State, ResponseCreateParams> template) {
    begin();
    try {
      State before = state;
      TurnRequest turn = TurnRequest.of(before, request.apply(before));
      TurnExchange.Streamed streamed = TurnExchange.prepare(engine, turn).stream();
      ResponseCreateParams next = template.apply(before);
      return new ObservedStream(streamed.events(), streamed.success(),
          response -> state = before.next(next, turn, response, streamed.success().routing), this::end);
    } catch (RuntimeException | Error e) {
      end();
      throw e;
    }
  }

  private static ResponseCreateParams withInput(State before, String text) {
    return before.template().toBuilder().input(text).build();
  }

  private static ResponseCreateParams toolOutputs(State before, Map<String, String> outputs) {
    List<ResponseFunctionToolCall> pending = before.pendingToolCalls();
    if (pending.isEmpty()) {
      throw new IllegalStateException("No function call is pending: the latest response "
          + (before.lastResponseId() == null ? "does not exist yet" : before.lastResponseId() + " asked for none"));
    }
    Set<String> unknown = new LinkedHashSet<>(outputs.keySet());
    List<String> missing = new ArrayList<>();
    List<ResponseInputItem> items = new ArrayList<>();
    for (ResponseFunctionToolCall call : pending) {
      unknown.remove(call.callId());
      String output = outputs.get(call.callId());
      if (output == null) {
        if (outputs.containsKey(call.callId())) {
          throw new NullPointerException("output of call " + call.callId() + " is null");
        }
        missing.add(call.callId() + " (" + call.name() + ")");
        continue;
      }
      items.add(ResponseInputItem.ofFunctionCallOutput(ResponseInputItem.FunctionCallOutput.builder()
          .callId(call.callId())
          .output(output)
          .build()));
    }
    if (!missing.isEmpty() || !unknown.isEmpty()) {
      throw new IllegalArgumentException("outputs must answer exactly the pending calls of "
          + before.lastResponseId() + (missing.isEmpty() ? "" : "; missing: " + missing)
          + (unknown.isEmpty() ? "" : "; not pending: " + unknown));
    }
    return before.template().toBuilder().inputOfResponse(items).build();
  }

  private void begin() {
    if (!tryBegin()) {
      throw busy();
    }
  }

  private boolean tryBegin() {
    return turnInProgress.compareAndSet(false, true);
  }

  private void end() {
    turnInProgress.set(false);
  }

  private IllegalStateException busy() {
    return new IllegalStateException("This conversation already has a turn in progress (a send or"
        + " submitToolOutputs not yet returned, a sendAsync not yet completed, or a stream not yet at its"
        + " last event nor closed); a Conversation runs one turn at a time, since each turn continues the"
        + " previous response. Wait for that turn, or fork() to branch");
  }

  /**
   * Rejects params a conversation cannot chain: it sets {@code previous_response_id} itself, and
   * cannot also continue a Conversations API conversation.
   */
  static void checkChainable(ResponseCreateParams params, String what) {
    requireNonNull(params, what);
    if (params.previousResponseId().isPresent()
        || params._additionalBodyProperties().containsKey("previous_response_id")) {
      throw new IllegalArgumentException(what + " sets previous_response_id, which a Conversation sets itself;"
          + " remove it, or continue a given response with AffinityConversations.resume(responseId)");
    }
    if (params.conversation().isPresent() || params._additionalBodyProperties().containsKey("conversation")) {
      throw new IllegalArgumentException(what + " sets conversation; a Conversation chains responses by"
          + " previous_response_id and cannot also continue a Conversations API conversation");
    }
  }

  /**
   * Rejects defaults a conversation cannot start from: those {@link #checkChainable} rejects, and
   * an {@code input}, which defaults do not send (each turn sends its own).
   */
  static void checkDefaults(ResponseCreateParams defaults) {
    checkChainable(defaults, "defaults");
    if (defaults.input().isPresent()) {
      throw new IllegalArgumentException("defaults set input, which is not sent: each turn sends its own; pass it"
          + " to send(text) or send(params)");
    }
  }
}
