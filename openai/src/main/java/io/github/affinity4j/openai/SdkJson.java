package io.github.affinity4j.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.core.JsonValue;
import com.openai.core.ObjectMappers;
import com.openai.errors.BadRequestException;
import com.openai.errors.InternalServerException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.errors.UnexpectedStatusCodeException;
import com.openai.errors.UnprocessableEntityException;
import com.openai.models.ErrorObject;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseFunctionToolCall;
import com.openai.models.responses.ResponseInputItem;
import com.openai.models.responses.ResponseOutputItem;
import io.github.affinity4j.core.internal.TurnOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves between the SDK's typed models and the engine's JSON bytes, through the SDK's own JSON
 * mapper ({@link ObjectMappers#jsonMapper()}): the one that writes the SDK's requests and reads its
 * responses, so nothing is lost on the way (unknown fields travel as the models' additional
 * properties). Never logs content.
 */
final class SdkJson {
  private static final Logger logger = LoggerFactory.getLogger(SdkJson.class);

  private static final JsonMapper MAPPER = ObjectMappers.jsonMapper();

  private SdkJson() {}

  /** The request body the SDK sends for {@code params} (without {@code stream}, which it adds). */
  static byte[] body(ResponseCreateParams params) {
    try {
      return MAPPER.writeValueAsBytes(params._body());
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "The SDK's JSON mapper cannot write these ResponseCreateParams (" + e.getClass().getSimpleName() + ")", e);
    }
  }

  /**
   * The params for a replay: the engine's replay body, read back into the SDK's body type, with
   * the headers and query parameters of {@code like}.
   */
  static ResponseCreateParams replay(byte[] replayBody, ResponseCreateParams like) {
    ResponseCreateParams.Body body;
    try {
      body = MAPPER.readValue(replayBody, ResponseCreateParams.Body.class);
    } catch (IOException e) {
      // The engine built it from a body this mapper wrote: our invariant broke.
      throw new IllegalStateException("The replay body cannot be read by the SDK's JSON mapper ("
          + e.getClass().getSimpleName() + ")", e);
    }
    return ResponseCreateParams.builder()
        .body(body)
        .additionalHeaders(like._additionalHeaders())
        .additionalQueryParams(like._additionalQueryParams())
        .build();
  }

  /**
   * The error body as the engine reads it, rebuilt from what the SDK kept: {@code {"error":{…}}}
   * around the {@code error} object of an OpenAI error or the whole body of another JSON error;
   * the gateway's own shape (APIM's {@code {"statusCode":…,"message":…}}) as it came, since that
   * shape is what says the gateway could not reach the backend. Empty if the body was not JSON.
   */
  static byte[] errorBody(OpenAIServiceException e) {
    try {
      JsonValue body = e.body();
      if (body.isMissing() || body.isNull()) {
        return new byte[0];
      }
      JsonNode kept = MAPPER.valueToTree(body);
      if (kept.isObject() && kept.has("statusCode")) {
        return MAPPER.writeValueAsBytes(kept); // the gateway's own shape, as it came: it means the backend is unreachable
      }
      ObjectNode wrapped = MAPPER.createObjectNode();
      wrapped.set("error", kept);
      return MAPPER.writeValueAsBytes(wrapped);
    } catch (IOException | RuntimeException failure) {
      logger.debug("Error body of HTTP {} unreadable ({}); judged by its status", e.statusCode(),
          failure.getClass().getSimpleName());
      return new byte[0];
    }
  }

  /**
   * The SDK exception {@code e} again, same type, its error replaced by the engine's amended one
   * (the original message, then which chain the turn continued and why it was not repaired), and
   * {@code e} as its cause. {@code e} itself if it cannot be rebuilt.
   */
  static RuntimeException amended(OpenAIServiceException e, byte[] amendedBody) {
    ErrorObject error;
    try {
      JsonNode root = MAPPER.readTree(amendedBody);
      JsonNode inner = root.get("error");
      error = MAPPER.treeToValue(inner != null && inner.isObject() ? inner : root, ErrorObject.class);
    } catch (IOException | RuntimeException failure) {
      return e;
    }
    if (e instanceof BadRequestException bad) {
      return bad.toBuilder().error(error).cause(e).build();
    }
    if (e instanceof NotFoundException notFound) {
      return notFound.toBuilder().error(error).cause(e).build();
    }
    if (e instanceof InternalServerException server) {
      return server.toBuilder().error(error).cause(e).build();
    }
    if (e instanceof RateLimitException rateLimit) {
      return rateLimit.toBuilder().error(error).cause(e).build();
    }
    if (e instanceof UnauthorizedException unauthorized) {
      return unauthorized.toBuilder().error(error).cause(e).build();
    }
    if (e instanceof PermissionDeniedException denied) {
      return denied.toBuilder().error(error).cause(e).build();
    }
    if (e instanceof UnprocessableEntityException unprocessable) {
      return unprocessable.toBuilder().error(error).cause(e).build();
    }
    if (e instanceof UnexpectedStatusCodeException unexpected) {
      return unexpected.toBuilder().error(error).cause(e).build();
    }
    return e;
  }

  /** The response as the engine journals it; empty (with one DEBUG line) if it cannot be written. */
  static Optional<TurnOutput> output(Response response) {
    try {
      byte[] bytes = MAPPER.writeValueAsBytes(response);
      return TurnOutput.fromResponseBody(bytes, 0, bytes.length);
    } catch (IOException | RuntimeException e) {
      logger.debug("Response {} cannot be written by the SDK's JSON mapper ({}); turn not journaled",
          response._id(), e.getClass().getSimpleName());
      return Optional.empty();
    }
  }

  /** Journaled item arrays as typed input items, in order. */
  static List<ResponseInputItem> inputItems(List<byte[]> itemArrays) {
    List<ResponseInputItem> items = new ArrayList<>();
    for (byte[] array : itemArrays) {
      for (JsonNode item : readArray(array)) {
        items.add(MAPPER.convertValue(item, ResponseInputItem.class));
      }
    }
    return items;
  }

  /**
   * A response's output items as input items, in order, each whole (ids, encrypted reasoning and
   * unknown fields included): how a stateless conversation sends them back.
   */
  static List<ResponseInputItem> asInput(List<ResponseOutputItem> output) {
    List<ResponseInputItem> items = new ArrayList<>(output.size());
    for (ResponseOutputItem item : output) {
      items.add(MAPPER.convertValue(MAPPER.valueToTree(item), ResponseInputItem.class));
    }
    return items;
  }

  /** The {@code id} of the last of {@code items} that has one; null if none has. */
  static @Nullable String lastItemId(List<ResponseInputItem> items) {
    for (int i = items.size() - 1; i >= 0; i--) {
      JsonNode id = MAPPER.valueToTree(items.get(i)).get("id");
      if (id != null && id.isTextual()) {
        return id.asText();
      }
    }
    return null;
  }

  /** The function calls among a response's output items, in order. */
  static List<ResponseFunctionToolCall> functionCalls(List<ResponseOutputItem> output) {
    List<ResponseFunctionToolCall> calls = new ArrayList<>();
    for (ResponseOutputItem item : output) {
      item.functionCall().ifPresent(calls::add);
    }
    return List.copyOf(calls);
  }

  /** The function calls in a journaled output array, in order. */
  static List<ResponseFunctionToolCall> functionCalls(byte[] outputArray) {
    List<ResponseFunctionToolCall> calls = new ArrayList<>();
    for (JsonNode item : readArray(outputArray)) {
      if ("function_call".equals(item.path("type").asText())) {
        calls.add(MAPPER.convertValue(item, ResponseFunctionToolCall.class));
      }
    }
    return List.copyOf(calls);
  }

  private static List<JsonNode> readArray(byte[] array) {
    JsonNode node;
    try {
      node = MAPPER.readTree(array);
    } catch (IOException e) {
      throw new IllegalStateException("A journaled item array is not JSON (" + e.getClass().getSimpleName() + ")", e);
    }
    List<JsonNode> items = new ArrayList<>();
    if (node != null && node.isArray()) {
      node.forEach(items::add);
    }
    return items;
  }
}
