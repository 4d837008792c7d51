package io.github.affinity4j.core;

import java.time.Duration;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The routing facts a gateway reports in response headers: which region served the request, the
 * request ids to quote to support, the remaining rate limits, and how long to wait before a retry.
 *
 * <pre>{@code
 * RoutingInfo routing = RoutingInfo.from(response::header); // OkHttp's lookup is case-insensitive
 * if (routing.retryAfter() != null) { ... }
 * }</pre>
 *
 * <p>Every component is null when its header is absent or unusable; garbage values are ignored,
 * never thrown. None of these headers is a secret, so {@link #toString()} shows them all.
 * Immutable and thread-safe.
 *
 * <p><b>Bounded.</b> Stores and caches keep a region per chain, and a gateway chooses what these
 * headers say, so text longer than its cap ({@value #MAX_REGION_LENGTH} characters for a region,
 * {@value #MAX_REQUEST_ID_LENGTH} for a request id) counts as unusable: the constructor turns it
 * into null, as {@link #from} does with any other garbage. Real values are far shorter (Azure
 * region display names have about 20 characters; request ids are 36-character UUIDs), so a value
 * over the cap is not a region or an id but a header sent to fill memory. An instance thus holds
 * at most 320 characters of text, whatever the gateway sent.
 *
 * @param region the backend region: the first usable of {@code x-ms-region} and
 *     {@code x-backend-region}; null if longer than {@value #MAX_REGION_LENGTH} characters
 * @param requestId {@code x-request-id}; null if longer than {@value #MAX_REQUEST_ID_LENGTH}
 *     characters
 * @param apimRequestId {@code apim-request-id}; null if longer than
 *     {@value #MAX_REQUEST_ID_LENGTH} characters
 * @param remainingRequests {@code x-ratelimit-remaining-requests}, a non-negative integer
 * @param remainingTokens {@code x-ratelimit-remaining-tokens}, a non-negative integer
 * @param retryAfter the first usable of {@code retry-after-ms}, {@code x-ms-retry-after-ms} (both
 *     milliseconds, a fraction is dropped) and {@code retry-after} (whole seconds, at most
 *     {@code Long.MAX_VALUE} milliseconds' worth, so {@code toMillis()} never overflows; an HTTP-date is
 *     ignored because turning it into a wait needs a clock, and Azure OpenAI and APIM send seconds)
 */
public record RoutingInfo(
    @Nullable String region,
    @Nullable String requestId,
    @Nullable String apimRequestId,
    @Nullable Long remainingRequests,
    @Nullable Long remainingTokens,
    @Nullable Duration retryAfter) {

  /**
   * The longest region kept, in characters: 64. Azure region display names have about 20
   * ({@code Germany West Central}), and APIM policies copy one into {@code x-backend-region}; a
   * longer value is dropped (null), not cut, so that two long labels sharing a prefix are never
   * taken for the same backend. Every token a store keeps carries its region, so this bounds what
   * a gateway can make a store hold per chain.
   */
  public static final int MAX_REGION_LENGTH = 64;

  /**
   * The longest {@code x-request-id} or {@code apim-request-id} kept, in characters: 128. Both are
   * UUIDs (36 characters) from APIM and Azure OpenAI; a longer value is dropped (null).
   */
  public static final int MAX_REQUEST_ID_LENGTH = 128;

  /** Routing facts of a response that carried none of the headers. */
  public static final RoutingInfo EMPTY = new RoutingInfo(null, null, null, null, null, null);

  // Longer numbers would overflow a long; no gateway sends them.
  private static final int MAX_DIGITS = 18;
  private static final long MAX_RETRY_AFTER_SECONDS = Long.MAX_VALUE / 1000;

  /**
   * Creates routing facts; text over its cap ({@value #MAX_REGION_LENGTH} characters for
   * {@code region}, {@value #MAX_REQUEST_ID_LENGTH} for the request ids) is replaced by null, so
   * no instance, however made (parsed, decoded from a store, built by hand), holds more.
   */
  public RoutingInfo {
    region = capped(region, MAX_REGION_LENGTH);
    requestId = capped(requestId, MAX_REQUEST_ID_LENGTH);
    apimRequestId = capped(apimRequestId, MAX_REQUEST_ID_LENGTH);
  }

  /**
   * Reads the routing headers through {@code headers}, which returns a header's value or null when
   * it is absent. HTTP header names are case-insensitive; the lookup must be too (OkHttp's
   * {@code Response.header(String)} is). Values are trimmed; blank values, and text over its cap
   * ({@link #MAX_REGION_LENGTH}, {@link #MAX_REQUEST_ID_LENGTH}), count as absent.
   *
   * @throws NullPointerException if {@code headers} is null
   */
  public static RoutingInfo from(Function<String, @Nullable String> headers) {
    String region = capped(text(headers.apply("x-ms-region")), MAX_REGION_LENGTH);
    if (region == null) {
      region = capped(text(headers.apply("x-backend-region")), MAX_REGION_LENGTH);
    }
    Duration retryAfter = millis(headers.apply("retry-after-ms"));
    if (retryAfter == null) {
      retryAfter = millis(headers.apply("x-ms-retry-after-ms"));
    }
    if (retryAfter == null) {
      Long seconds = wholeNumber(headers.apply("retry-after"));
      // A wait a caller cannot turn into milliseconds (toMillis() would overflow) is garbage.
      retryAfter = seconds == null || seconds > MAX_RETRY_AFTER_SECONDS ? null : Duration.ofSeconds(seconds);
    }
    RoutingInfo info = new RoutingInfo(
        region,
        text(headers.apply("x-request-id")),
        text(headers.apply("apim-request-id")),
        wholeNumber(headers.apply("x-ratelimit-remaining-requests")),
        wholeNumber(headers.apply("x-ratelimit-remaining-tokens")),
        retryAfter);
    return info.equals(EMPTY) ? EMPTY : info;
  }

  /** Returns true if none of the routing headers was present and usable. */
  public boolean isEmpty() {
    return equals(EMPTY);
  }

  private static @Nullable String capped(@Nullable String text, int max) {
    return text == null || text.length() <= max ? text : null;
  }

  private static @Nullable String text(@Nullable String value) {
    if (value == null) {
      return null;
    }
    String trimmed = value.trim();
    return trimmed.isEmpty() ? null : trimmed;
  }

  /** Milliseconds as digits with an optional fraction, which is dropped; anything else is null. */
  private static @Nullable Duration millis(@Nullable String value) {
    String text = text(value);
    if (text == null) {
      return null;
    }
    int dot = text.indexOf('.');
    if (dot >= 0) {
      if (dot == 0 || wholeNumber(text.substring(dot + 1)) == null) {
        return null;
      }
      text = text.substring(0, dot);
    }
    Long ms = wholeNumber(text);
    return ms == null ? null : Duration.ofMillis(ms);
  }

  /** A non-negative decimal integer of at most 18 digits, else null. */
  private static @Nullable Long wholeNumber(@Nullable String value) {
    String text = text(value);
    if (text == null || text.length() > MAX_DIGITS) {
      return null;
    }
    long result = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return null;
      }
      result = result * 10 + (c - '0');
    }
    return result;
  }
}
