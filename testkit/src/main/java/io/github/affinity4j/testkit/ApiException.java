package io.github.affinity4j.testkit;

import org.jspecify.annotations.Nullable;

/** An error answer a backend returns instead of a response; carries the JSON body to send. */
final class ApiException extends Exception {
  private static final long serialVersionUID = 1L;

  final int status;
  final String body;
  final boolean notFound;
  /** The error's {@code code}, or null; for the request log. */
  final @Nullable String code;

  private ApiException(int status, String body, boolean notFound, @Nullable String code) {
    super(null, null, false, false);
    this.status = status;
    this.body = body;
    this.notFound = notFound;
    this.code = code;
  }

  /** An error in the OpenAI shape: {@code {"error":{"message","type","param","code"}}}. */
  static ApiException openAi(int status, String message, @Nullable String param,
      @Nullable String code) {
    return new ApiException(status, Json.errorBody(message, "invalid_request_error", param, code), false,
        code);
  }

  /** An OpenAI-shaped error that reports an unknown response, conversation or item. */
  static ApiException notFound(int status, String message, @Nullable String param,
      @Nullable String code) {
    return new ApiException(status, Json.errorBody(message, "invalid_request_error", param, code), true,
        code);
  }

  /**
   * {@code invalid_encrypted_content}: encrypted reasoning or compaction content that another
   * resource sealed. The message quotes it shortened, as the real one does.
   */
  static ApiException invalidEncryptedContent(String content) {
    return openAi(400, "The encrypted content " + EncryptedContent.shorten(content)
        + " could not be verified.", null, "invalid_encrypted_content");
  }

  static ApiException invalidType(String param, String expected, String got) {
    return openAi(400, "Invalid type for '" + param + "': expected " + expected + ", but got "
        + got + " instead.", param, "invalid_type");
  }

  static ApiException invalidValue(String param, String message) {
    return openAi(400, "Invalid value for '" + param + "': " + message, param, "invalid_value");
  }
}
