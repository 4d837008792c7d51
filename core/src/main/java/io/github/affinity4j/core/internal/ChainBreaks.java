package io.github.affinity4j.core.internal;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.github.affinity4j.core.ChainBreak.Kind;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import java.io.IOException;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells a broken chain from any other failure, from the status, the error body and what the
 * request was.
 *
 * <pre>{@code
 * TurnInput request = TurnInput.fromRequestBody(body, 0, body.length).orElseThrow();
 * Optional<ChainBreak> cause = ChainBreaks.classify(response.code(), errorBody, 0, errorBody.length,
 *     request, pinSent);
 * }</pre>
 *
 * <p>Rules, by status, then {@code error.code}, then {@code error.param}, and by message text last,
 * because wording varies between OpenAI, Azure and gateways:
 *
 * <ul>
 *   <li>429 is never a break: the backend is there, just busy; the SDK retries it.
 *   <li>502, 503, 504 (any body, including APIM's {@code {"statusCode":503,"message":…}}) is
 *       {@link Kind#BACKEND_UNAVAILABLE} only if the request continued a chain and carried its pin.
 *       Unpinned, the gateway chose the backend and may choose another on the SDK's retry.
 *   <li>400 and 404 only, and only when the request carried what the error is about:
 *       <ul>
 *         <li>{@code code} {@code previous_response_not_found}, or {@code param}
 *             {@code previous_response_id}, or a message naming a previous response as not found
 *             or invalid, or quoting the request's {@code previous_response_id} as not found or
 *             invalid:
 *             {@link Kind#PREVIOUS_RESPONSE_NOT_FOUND}, if the request has one.
 *         <li>{@code param} {@code conversation}, or a message naming a conversation as not found:
 *             {@link Kind#CONVERSATION_NOT_FOUND}, if the request has a conversation.
 *         <li>{@code code} {@code invalid_encrypted_content}: {@link Kind#INVALID_ENCRYPTED_CONTENT},
 *             if the request's input carried encrypted reasoning (made by another backend).
 *         <li>A message "Item with id '…' not found" ({@code param} {@code input} or none):
 *             {@link Kind#ITEM_NOT_FOUND}, if the request's input carried item ids and the id named
 *             is one of them (or none is named). Such ids resolve only on the backend that issued
 *             them, and a replay sends the items' content without them; an error about an id the
 *             request did not send is not this request's to repair.
 *       </ul>
 *       Any other specific {@code code} ({@code invalid_type}, {@code unknown_parameter},
 *       {@code context_length_exceeded}, …) means the request itself is wrong: not a break. Codes
 *       that say nothing ({@code null}, {@code invalid_request_error}, a number) defer to
 *       {@code param} and the message.
 *   <li>A status of the gateway-failure set (default 500, 502, 504) in the gateway's own shape
 *       (APIM's {@code {"statusCode":500,"message":"Internal server error",…}}, no {@code error}
 *       object) is the gateway saying it could not reach the backend:
 *       {@link Kind#BACKEND_UNAVAILABLE}, under the same condition as a 503.
 *   <li>500 in the model's shape, and every other status not named above, is never a break: the
 *       pinned backend answered, and still holds the chain. The caller (the SDK's retries) handles it; if failures trip the
 *       gateway's circuit breaker, the next attempt is re-routed (then not found) or refused (503),
 *       and that is repaired.
 *   <li>A connection failure ({@link #classifyConnectionFailure}) is
 *       {@link Kind#BACKEND_UNAVAILABLE} under the same condition as a 503.
 * </ul>
 *
 * <p>Never throws for bad data: a body that is not JSON is judged by its status alone. Error
 * messages are read but never logged or kept. Stateless and thread-safe.
 */
public final class ChainBreaks {

  private static final Logger logger = LoggerFactory.getLogger(ChainBreaks.class);

  // Error bodies are a few hundred bytes; a larger one is not an API error worth parsing whole.
  private static final int MAX_ERROR_BYTES = 64 * 1024;

  /** The statuses that, in the gateway's own error shape, mean it could not reach the backend. */
  public static final Set<Integer> DEFAULT_GATEWAY_FAILURES = Set.of(500, 502, 504);

  private ChainBreaks() {}

  /**
   * Classifies an error response.
   *
   * @param status the HTTP status
   * @param body the response body, as much as was read; may be empty
   * @param offset where the body starts in {@code body}
   * @param length how many bytes of it to read
   * @param request the request that failed
   * @param pinned true if the request carried the chain's affinity pin
   * @return the break, or empty if the failure is not one
   * @throws NullPointerException if {@code body} or {@code request} is null
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code body}
   */
  public static Optional<ChainBreak> classify(int status, byte[] body, int offset, int length,
      TurnInput request, boolean pinned) {
    return classify(status, body, offset, length, request, pinned, DEFAULT_GATEWAY_FAILURES);
  }

  /**
   * Classifies an error response, with the statuses that mean the gateway could not reach the
   * backend when it answers them in its own shape.
   *
   * @see #classify(int, byte[], int, int, TurnInput, boolean)
   */
  public static Optional<ChainBreak> classify(int status, byte[] body, int offset, int length,
      TurnInput request, boolean pinned, Set<Integer> gatewayFailures) {
    Objects.checkFromIndexSize(offset, length, body.length);
    requireNonNull(request, "request");
    if (status == 502 || status == 503 || status == 504) {
      return unavailable(status, null, request, pinned);
    }
    if (status != 400 && status != 404) {
      if (pinned && gatewayFailures.contains(status)
          && ErrorBody.parse(body, offset, Math.min(length, MAX_ERROR_BYTES)).gatewayShaped) {
        return unavailable(status, null, request, pinned);
      }
      return Optional.empty();
    }
    ErrorBody error = ErrorBody.parse(body, offset, Math.min(length, MAX_ERROR_BYTES));
    String message = error.message == null ? "" : error.message.toLowerCase(Locale.ROOT);
    String quoted = quotedId(error.message);
    String previous = request.previousResponseId().orElse(null);
    String conversation = request.conversationId().orElse(null);

    if ("previous_response_not_found".equals(error.code)) {
      return previous == null ? Optional.empty() : found(Kind.PREVIOUS_RESPONSE_NOT_FOUND, status, error, quoted);
    }
    if ("invalid_encrypted_content".equals(error.code)) {
      // Only the request's own ciphertext can be refused; a replay sends none.
      return request.encryptedItems() == 0 ? Optional.empty()
          : found(Kind.INVALID_ENCRYPTED_CONTENT, status, error, null);
    }
    if ("conversation_not_found".equals(error.code)) {
      return conversation == null ? Optional.empty() : found(Kind.CONVERSATION_NOT_FOUND, status, error, quoted);
    }
    if (!isVague(error)) {
      return Optional.empty(); // a specific complaint about the request itself
    }
    if (previous != null && ("previous_response_id".equals(error.param)
        || (error.param == null && namesPrevious(message, previous, quoted)))) {
      return found(Kind.PREVIOUS_RESPONSE_NOT_FOUND, status, error, quoted);
    }
    if (conversation != null && ("conversation".equals(error.param)
        || (error.param == null && message.contains("conversation") && message.contains("not found")))) {
      return found(Kind.CONVERSATION_NOT_FOUND, status, error, quoted);
    }
    if ((error.param == null || "input".equals(error.param))
        && message.contains("item with id") && message.contains("not found")
        && !request.itemIds().isEmpty()
        && (quoted == null || request.itemIds().contains(quoted))) {
      return found(Kind.ITEM_NOT_FOUND, status, error, quoted);
    }
    return Optional.empty();
  }

  /**
   * Classifies a request that got no response at all (an {@code IOException} on connect or read).
   *
   * @param request the request that failed
   * @param pinned true if the request carried the chain's affinity pin
   * @return {@link Kind#BACKEND_UNAVAILABLE} with status 0 if the request continued a pinned chain,
   *     else empty
   * @throws NullPointerException if {@code request} is null
   */
  public static Optional<ChainBreak> classifyConnectionFailure(TurnInput request, boolean pinned) {
    return unavailable(0, null, requireNonNull(request, "request"), pinned);
  }

  private static Optional<ChainBreak> unavailable(int status, @Nullable String code, TurnInput request,
      boolean pinned) {
    // A chain: named by previous_response_id or conversation, or, stateless, by the items it sends back.
    if (!pinned || (request.chain().isEmpty() && request.itemIds().isEmpty())) {
      return Optional.empty();
    }
    return Optional.of(new ChainBreak(Kind.BACKEND_UNAVAILABLE, status, code, null));
  }

  private static Optional<ChainBreak> found(Kind kind, int status, ErrorBody error, @Nullable String quoted) {
    logger.debug("HTTP {} with code {} and param {} is a chain break: {}", status, error.code, error.param, kind);
    return Optional.of(new ChainBreak(kind, status, error.code, quoted));
  }

  /** A code that says nothing specific: none, the error type repeated, or an HTTP status number. */
  private static boolean isVague(ErrorBody error) {
    String code = error.code;
    if (code == null || code.isEmpty() || code.equals(error.type) || "invalid_request_error".equals(code)) {
      return true;
    }
    for (int i = 0; i < code.length(); i++) {
      if (code.charAt(i) < '0' || code.charAt(i) > '9') {
        return false;
      }
    }
    return true;
  }

  private static boolean namesPrevious(String message, String previous, @Nullable String quoted) {
    boolean notFound = message.contains("not found");
    return (previous.equals(quoted) && (notFound || message.contains("invalid")))
        || (message.contains("previous response") && notFound)
        || message.contains("invalid `previous_response_id`")
        || message.contains("invalid previous_response_id")
        || message.contains("invalid 'previous_response_id'");
  }

  /** The first single-quoted token of the message that is a valid id, e.g. {@code resp_1}. */
  private static @Nullable String quotedId(@Nullable String message) {
    if (message == null) {
      return null;
    }
    int start = message.indexOf('\'');
    while (start >= 0) {
      int end = message.indexOf('\'', start + 1);
      if (end < 0) {
        return null;
      }
      String candidate = message.substring(start + 1, end);
      if (ChainKey.isValidId(candidate)) {
        return candidate;
      }
      start = message.indexOf('\'', end + 1);
    }
    return null;
  }

  /**
   * Returns the API error's {@code code}, else its {@code type}, from an error body (read as far
   * as it goes, for a body cut by a read bound); null if it has neither, as the gateway's own
   * shape has not. As sent: sanitise it before it goes anywhere.
   *
   * @throws IndexOutOfBoundsException if {@code offset} and {@code length} are outside {@code body}
   */
  public static @Nullable String errorCode(byte[] body, int offset, int length) {
    Objects.checkFromIndexSize(offset, length, body.length);
    ErrorBody error = ErrorBody.parse(body, offset, length);
    String code = error.code;
    return code != null && !code.isBlank() ? code : error.type;
  }

  /** The fields of an OpenAI error body, {@code {"error":{"message","type","param","code"}}}. */
  private static final class ErrorBody {
    @Nullable String message;
    @Nullable String type;
    @Nullable String param;
    @Nullable String code;
    // The gateway's own shape: a top-level statusCode, no error object.
    boolean gatewayShaped;

    static ErrorBody parse(byte[] body, int offset, int length) {
      ErrorBody error = new ErrorBody();
      if (length == 0) {
        return error;
      }
      boolean statusCode = false;
      boolean errorObject = false;
      try (JsonParser parser = Json.FACTORY.createParser(body, offset, length)) {
        if (parser.nextToken() != JsonToken.START_OBJECT) {
          return error;
        }
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
          String field = parser.currentName();
          JsonToken value = parser.nextToken();
          if ("error".equals(field) && value == JsonToken.START_OBJECT) {
            errorObject = true;
            readError(parser, error);
          } else if ("statusCode".equals(field) && value == JsonToken.VALUE_NUMBER_INT) {
            statusCode = true;
          } else if ("message".equals(field) && value == JsonToken.VALUE_STRING && error.message == null) {
            error.message = parser.getText(); // APIM's {"statusCode":…,"message":…}
          } else {
            parser.skipChildren();
          }
        }
      } catch (IOException e) {
        // Possibly cut off by the read bound: what was read so far still counts.
        logger.debug("Error body is not valid JSON ({}); judged by what was read",
            e.getClass().getSimpleName());
      }
      error.gatewayShaped = statusCode && !errorObject;
      return error;
    }

    private static void readError(JsonParser parser, ErrorBody error) throws IOException {
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        String text = value == JsonToken.VALUE_STRING || value == JsonToken.VALUE_NUMBER_INT
            ? parser.getText() : null;
        switch (field) {
          case "message" -> error.message = text;
          case "type" -> error.type = text;
          case "param" -> error.param = text;
          case "code" -> error.code = text;
          default -> { }
        }
        parser.skipChildren(); // a no-op for scalars
      }
    }
  }
}
