package io.github.affinity4j.openai;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.responses.FunctionTool;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseOutputItem;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.testkit.LoggedRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;

/** What the conversation tests share: clients, params, and readers of answers and request logs. */
final class ConversationFixtures {
  static final String MODEL = "gpt-4.1";
  static final String COOKIE = "APIM-Backend-Affinity";
  static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern MARKER = Pattern.compile("conversation (\\d+), turn (\\d+)");

  private ConversationFixtures() {}

  /** A plain SDK client on the simulator: no interceptor, no cookie jar, no SDK retries. */
  static OpenAIOkHttpClient.Builder plainClient(String baseUrl) {
    return OpenAIOkHttpClient.builder().baseUrl(baseUrl).apiKey("test-key").maxRetries(0);
  }

  /** A plain SDK client whose requests, as they go on the wire, are seen by {@code network}. */
  static OpenAIOkHttpClient.Builder plainClient(String baseUrl, Interceptor network) {
    return plainClient(baseUrl).okHttpClient(new OkHttpClient.Builder().addNetworkInterceptor(network).build());
  }

  static ResponseCreateParams defaults() {
    return ResponseCreateParams.builder().model(MODEL).build();
  }

  static ResponseCreateParams.Builder toolParams() {
    return ResponseCreateParams.builder()
        .model(MODEL)
        .instructions("Answer in one line.")
        .addTool(FunctionTool.builder()
            .name("get_weather")
            .parameters(FunctionTool.Parameters.builder()
                .putAdditionalProperty("type", JsonValue.from("object"))
                .putAdditionalProperty("properties", JsonValue.from(Map.of("city", Map.of("type", "string"))))
                .build())
            .strict(false)
            .build());
  }

  static String marker(int conversation, int turn) {
    return "conversation " + conversation + ", turn " + turn;
  }

  /** The text of the response's message. */
  static String text(Response response) {
    return response.output().stream().filter(ResponseOutputItem::isMessage).findFirst().orElseThrow()
        .asMessage().content().get(0).asOutputText().text();
  }

  static JsonNode json(String body) {
    try {
      return JSON.readTree(body);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A logged request, read: which turn of which conversation, and whether it continued a chain. */
  record Sent(LoggedRequest request, int conversation, int turn, boolean continues, String previousResponseId) {

    static Sent of(LoggedRequest request) {
      JsonNode body = json(request.body());
      JsonNode input = body.get("input");
      JsonNode last = input.isArray() ? input.get(input.size() - 1).get("content") : input;
      Matcher matcher = MARKER.matcher(last.asText());
      assertThat(matcher.matches()).as("marker in %s", request).isTrue();
      JsonNode previous = body.get("previous_response_id");
      return new Sent(request, Integer.parseInt(matcher.group(1)), Integer.parseInt(matcher.group(2)),
          previous != null && previous.isTextual(), previous == null ? null : previous.asText(null));
    }

    static List<Sent> all(List<LoggedRequest> log) {
      return log.stream().map(Sent::of).toList();
    }
  }

  /**
   * How affinity4j named the chain of a failed turn, as values: the reason and the chain, from a
   * {@link ChainNote} on the failure or its causes, else from header {@value ChainNote#HEADER} of
   * the error response (an interceptor below names a chain so).
   */
  record Named(ChainNote.Reason reason, String chain) {
    static Optional<Named> of(Throwable failure) {
      Optional<ChainNote> note = ChainNote.find(failure);
      if (note.isPresent()) {
        return Optional.of(new Named(note.get().reason(), note.get().chain().toString()));
      }
      List<String> headers = noteHeaders(failure);
      if (headers.isEmpty()) {
        return Optional.empty();
      }
      String value = headers.get(0);
      ChainNote.Reason reason = ChainNote.reasonIn(value);
      assertThat(reason).as("reason in %s: %s", ChainNote.HEADER, value).isNotNull();
      return Optional.of(new Named(reason, value.substring(value.indexOf(' ') + 1)));
    }
  }

  /** Every {@link ChainNote} on {@code failure} and its causes, in order. */
  static List<ChainNote> notes(Throwable failure) {
    List<ChainNote> notes = new ArrayList<>();
    Map<Throwable, Boolean> seen = new IdentityHashMap<>();
    for (Throwable current = failure; current != null && seen.put(current, true) == null;
        current = current.getCause()) {
      for (Throwable suppressed : current.getSuppressed()) {
        if (suppressed instanceof ChainNote note) {
          notes.add(note);
        }
      }
    }
    return notes;
  }

  /** The {@value ChainNote#HEADER} values of the error response the SDK's exception was made from. */
  static List<String> noteHeaders(Throwable failure) {
    return failure instanceof OpenAIServiceException e ? e.headers().values(ChainNote.HEADER) : List.of();
  }

  /** How many times {@code part} occurs in {@code text}. */
  static int occurrences(String text, String part) {
    int count = 0;
    for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + part.length())) {
      count++;
    }
    return count;
  }

  /** Counts how many times {@code name=} appears in a Cookie header. */
  static int cookieCount(String cookieHeader, String name) {
    if (cookieHeader == null) {
      return 0;
    }
    int count = 0;
    for (String pair : cookieHeader.split(";")) {
      if (pair.trim().startsWith(name + "=")) {
        count++;
      }
    }
    return count;
  }

  /** Records the repair events. */
  static final class RecordingListener extends AffinityListener {
    final Queue<ChainRepair> repaired = new ConcurrentLinkedQueue<>();
    final Queue<ChainKey> started = new ConcurrentLinkedQueue<>();
    final Queue<String> failed = new ConcurrentLinkedQueue<>();

    @Override
    public void repairStarted(ChainKey chain, ChainBreak cause) {
      started.add(chain);
    }

    @Override
    public void repaired(ChainRepair repair) {
      repaired.add(repair);
    }

    @Override
    public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
      failed.add(chain + ": " + reason);
    }
  }

  /** Records the Cookie header of every request as it goes on the wire. */
  static final class CookieRecorder implements Interceptor {
    final Queue<String> cookies = new ConcurrentLinkedQueue<>();

    @Override
    public okhttp3.Response intercept(Chain chain) throws IOException {
      List<String> headers = chain.request().headers("Cookie");
      cookies.add(headers.isEmpty() ? "" : String.join("; ", headers));
      return chain.proceed(chain.request());
    }
  }

  static OpenAIClient closeLater(List<OpenAIClient> clients, OpenAIClient client) {
    clients.add(client);
    return client;
  }
}
