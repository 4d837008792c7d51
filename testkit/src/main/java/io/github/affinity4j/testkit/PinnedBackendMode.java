package io.github.affinity4j.testkit;

/**
 * What the simulated gateway does with a request whose affinity cookie pins it to a backend that
 * is unavailable (killed, or its circuit breaker is open). APIM does not document this; real
 * gateways have been seen doing either. For a killed backend,
 * {@link ApimSimulator.Builder#deadPinnedBackendStatus(int)} overrides the mode with APIM's own
 * 500 (or 502, 504).
 */
public enum PinnedBackendMode {
  /**
   * Route the request to another available backend and issue a new affinity cookie for it. A
   * Responses API request that continues a chain then fails there with
   * {@code previous_response_not_found}. The default.
   */
  REROUTE,
  /** Answer 503 without forwarding the request. */
  STRICT
}
