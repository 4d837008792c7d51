package io.github.affinity4j.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import org.jspecify.annotations.Nullable;

/**
 * Raw HTTP over loopback to an {@link ApimSimulator}, for the tests of its Responses API
 * features: a real OkHttp client without a cookie jar (each call says which affinity cookie it
 * carries, if any), answers with their status, body, headers and issued cookie, SSE parsing, the
 * error fixtures, and an SDK client on the same simulator. One per test; close it after.
 */
final class SimulatorHttp implements AutoCloseable {
  static final ObjectMapper MAPPER = new ObjectMapper();
  static final String BASE = "/openai/v1";
  private static final Path FIXTURES = Path.of("..", "fixtures", "errors");
  private static final MediaType JSON = MediaType.get("application/json");

  private final ApimSimulator sim;
  private final OkHttpClient http = new OkHttpClient.Builder()
      .callTimeout(10, TimeUnit.SECONDS)
      .retryOnConnectionFailure(false)
      .build();
  private final List<OpenAIClient> clients = new ArrayList<>();

  SimulatorHttp(ApimSimulator sim) {
    this.sim = sim;
  }

  /** {@code POST /openai/v1{path}} with a JSON body, carrying {@code cookie} if not null. */
  Answer post(String path, String json, @Nullable String cookie) {
    return call(new Request.Builder().post(RequestBody.create(json, JSON)), path, cookie);
  }

  Answer post(String path, JsonNode json, @Nullable String cookie) {
    return post(path, write(json), cookie);
  }

  Answer get(String path, @Nullable String cookie) {
    return call(new Request.Builder().get(), path, cookie);
  }

  Answer delete(String path, @Nullable String cookie) {
    return call(new Request.Builder().delete(), path, cookie);
  }

  private Answer call(Request.Builder request, String path, @Nullable String cookie) {
    request.url(sim.url() + BASE + path);
    if (cookie != null) {
      request.header("Cookie", sim.cookieName() + "=" + cookie);
    }
    try (okhttp3.Response response = http.newCall(request.build()).execute()) {
      String setCookie = response.header("Set-Cookie");
      String issued = setCookie == null ? null
          : setCookie.substring(setCookie.indexOf('=') + 1, setCookie.indexOf(';'));
      return new Answer(response.code(), response.body().string(), response.headers(), issued);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** An SDK client on the simulator, without retries; closed with this. */
  OpenAIClient sdk() {
    OpenAIClient client = OpenAIOkHttpClient.builder()
        .baseUrl(sim.openAiBaseUrl())
        .apiKey("test-key")
        .maxRetries(0)
        .timeout(Duration.ofSeconds(10))
        .build();
    clients.add(client);
    return client;
  }

  @Override
  public void close() {
    clients.forEach(OpenAIClient::close);
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
  }

  // --- request bodies ---

  /** A create-response body: {@code {"model":"o4-mini","input":<input>}}. */
  static ObjectNode turn(JsonNode input) {
    ObjectNode body = MAPPER.createObjectNode();
    body.put("model", "o4-mini");
    body.set("input", input);
    return body;
  }

  static ObjectNode turn(String text) {
    return turn(MAPPER.getNodeFactory().textNode(text));
  }

  /** {@link #turn(JsonNode)} asking for encrypted reasoning ({@code include}). */
  static ObjectNode encryptedTurn(JsonNode input) {
    ObjectNode body = turn(input);
    body.putArray("include").add("reasoning.encrypted_content");
    return body;
  }

  static ObjectNode userMessage(String text) {
    return MAPPER.createObjectNode().put("role", "user").put("content", text);
  }

  static ArrayNode items(JsonNode... items) {
    ArrayNode array = MAPPER.createArrayNode();
    for (JsonNode item : items) {
      array.add(item);
    }
    return array;
  }

  // --- reading answers ---

  static JsonNode json(String text) {
    try {
      return MAPPER.readTree(text);
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + text, e);
    }
  }

  static String write(JsonNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The answer text of a response: its last output item, an assistant message. */
  static SimulatedAnswer answer(JsonNode response) {
    JsonNode output = response.get("output");
    JsonNode message = output.get(output.size() - 1);
    assertThat(message.path("type").asText()).as("last output item of %s", response).isEqualTo("message");
    return SimulatedAnswer.parse(message.get("content").get(0).get("text").asText());
  }

  /** The output item of {@code response} of {@code type}; fails when there is none. */
  static JsonNode outputItem(JsonNode response, String type) {
    for (JsonNode item : response.get("output")) {
      if (type.equals(item.path("type").asText())) {
        return item;
      }
    }
    throw new AssertionError("no " + type + " item in the output of " + response);
  }

  /** The fixture's HTTP status. */
  static int fixtureStatus(String file) {
    return fixture(file).get("status").asInt();
  }

  /** The fixture's body. */
  static ObjectNode fixtureBody(String file) {
    return (ObjectNode) fixture(file).get("body").deepCopy();
  }

  /** The fixture's body with the id its message quotes ({@code '…'}) replaced by {@code id}. */
  static ObjectNode fixtureBodyQuoting(String file, String id) {
    ObjectNode body = fixtureBody(file);
    ObjectNode error = (ObjectNode) body.get("error");
    String message = error.get("message").asText();
    int open = message.indexOf('\'');
    int close = message.indexOf('\'', open + 1);
    assertThat(open).as("fixture %s quotes an id", file).isNotNegative();
    error.put("message", message.substring(0, open + 1) + id + message.substring(close));
    return body;
  }

  private static JsonNode fixture(String file) {
    try {
      return MAPPER.readTree(FIXTURES.resolve(file).toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * One answer.
   *
   * @param issuedCookie the affinity cookie value the gateway set, or null
   */
  record Answer(int status, String body, okhttp3.Headers headers, @Nullable String issuedCookie) {
    JsonNode json() {
      return SimulatorHttp.json(body);
    }

    /** The {@code data} of each SSE event, in order. */
    List<JsonNode> events() {
      List<JsonNode> events = new ArrayList<>();
      for (String line : body.split("\n")) {
        if (line.startsWith("data: ")) {
          events.add(SimulatorHttp.json(line.substring("data: ".length())));
        }
      }
      return events;
    }

    /** The event types of an SSE answer, in order. */
    List<String> eventTypes() {
      return events().stream().map(event -> event.get("type").asText()).toList();
    }
  }
}
