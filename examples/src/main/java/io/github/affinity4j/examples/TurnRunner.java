package io.github.affinity4j.examples;

import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputItem;
import com.openai.models.responses.ResponseOutputMessage;
import com.openai.models.responses.ResponseStreamEvent;
import io.github.affinity4j.core.RoutingInfo;
import java.time.Duration;
import java.util.Iterator;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Sends one turn of a conversation through an {@link OpenAIClient}, as a plain or a streamed
 * {@code POST /responses} continuing {@code previous_response_id}, and describes what happened as
 * a {@link TurnRecord}. Failures become records, never exceptions. Not thread-safe per turn; use
 * one thread per conversation at a time.
 */
final class TurnRunner {
  private static final int MAX_DETAIL_CHARS = 160;

  private final OpenAIClient client;
  private final TurnRecorder recorder;
  private final String model;
  private final boolean stream;
  private final Redactor redactor;

  TurnRunner(OpenAIClient client, TurnRecorder recorder, String model, boolean stream,
      Redactor redactor) {
    this.client = client;
    this.recorder = recorder;
    this.model = model;
    this.stream = stream;
    this.redactor = redactor;
  }

  /** Sends {@code input}, continuing {@code previousResponseId} unless it is null. */
  TurnRecord run(int conversation, int turn, String input, @Nullable String previousResponseId) {
    ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(model).input(input);
    if (previousResponseId != null) {
      params.previousResponseId(previousResponseId);
    }
    recorder.begin();
    long start = System.nanoTime();
    Outcome outcome;
    try {
      outcome = stream ? streamed(params.build()) : plain(params.build());
    } catch (OpenAIServiceException e) {
      String code = e.code().filter(c -> !c.isBlank()).orElse("http_" + e.statusCode());
      outcome = Outcome.failed(e.statusCode(), code, e.getMessage());
    } catch (RuntimeException e) {
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      outcome = Outcome.failed(0, root.getClass().getSimpleName(),
          root.getMessage() == null ? e.toString() : root.getMessage());
    }
    Duration latency = Duration.ofNanos(System.nanoTime() - start);
    TurnRecorder.Observed observed = recorder.end();
    TurnRecorder.Exchange last = observed.last();
    // The status of the last attempt as the tap saw it; the outcome's stands in when there was none.
    int status = last == null ? outcome.status : last.status();
    return new TurnRecord(conversation, turn, outcome.ok, status, outcome.error,
        outcome.detail == null ? null : detail(outcome.detail), outcome.responseId, outcome.text,
        last == null ? RoutingInfo.EMPTY : last.routing(),
        last == null ? null : last.pinSent(),
        last == null ? null : last.pinSet(),
        observed.repair != null,
        observed.repair == null ? 0 : observed.repair.itemsReplayed(),
        observed.exchanges.size(),
        latency);
  }

  private Outcome plain(ResponseCreateParams params) {
    Response response = client.responses().create(params);
    StringBuilder text = new StringBuilder();
    for (ResponseOutputItem item : response.output()) {
      item.message().ifPresent(message -> {
        for (ResponseOutputMessage.Content content : message.content()) {
          content.outputText().ifPresent(part -> text.append(part.text()));
        }
      });
    }
    return Outcome.succeeded(200, response.id(), text.toString());
  }

  private Outcome streamed(ResponseCreateParams params) {
    StringBuilder text = new StringBuilder();
    String id = null;
    String failure = null;
    boolean finished = false;
    try (StreamResponse<ResponseStreamEvent> events = client.responses().createStreaming(params)) {
      Iterator<ResponseStreamEvent> it = events.stream().iterator();
      while (it.hasNext()) {
        ResponseStreamEvent event = it.next();
        if (event.created().isPresent()) {
          id = event.created().get().response().id();
        }
        event.outputTextDelta().ifPresent(delta -> text.append(delta.delta()));
        if (event.completed().isPresent()) {
          id = event.completed().get().response().id();
          finished = true;
        }
        if (event.incomplete().isPresent()) {
          // Stopped early (a token limit), but stored: the next turn can continue it.
          id = event.incomplete().get().response().id();
          finished = true;
        }
        if (event.failed().isPresent()) {
          failure = "response.failed";
        }
        if (event.error().isPresent()) {
          failure = "stream error: " + event.error().get().message();
        }
      }
    }
    if (failure != null || !finished || id == null) {
      String why = failure != null ? failure : "the stream ended before response.completed";
      return Outcome.failed(200, "stream_failed", why);
    }
    return Outcome.succeeded(200, id, text.toString());
  }

  private String detail(String message) {
    // A text given to the redactor comes back as text: only null stays null.
    String redacted = Objects.requireNonNull(redactor.apply(message), "redacted message");
    String oneLine = redacted.replaceAll("\\s+", " ").trim();
    return oneLine.length() <= MAX_DETAIL_CHARS ? oneLine : oneLine.substring(0, MAX_DETAIL_CHARS) + "…";
  }

  /** The SDK call's result, before the exchanges are added. */
  private static final class Outcome {
    final boolean ok;
    final int status;
    final @Nullable String error;
    final @Nullable String detail;
    final @Nullable String responseId;
    final String text;

    private Outcome(boolean ok, int status, @Nullable String error, @Nullable String detail,
        @Nullable String responseId, String text) {
      this.ok = ok;
      this.status = status;
      this.error = error;
      this.detail = detail;
      this.responseId = responseId;
      this.text = text;
    }

    static Outcome succeeded(int status, String responseId, String text) {
      return new Outcome(true, status, null, null, responseId, text);
    }

    static Outcome failed(int status, String error, @Nullable String detail) {
      return new Outcome(false, status, error, detail, null, "");
    }
  }
}
