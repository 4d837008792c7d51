package io.github.affinity4j.testkit;

import org.jspecify.annotations.Nullable;

/**
 * One request as the simulated gateway saw and routed it, for tests to assert on.
 *
 * <p>The affinity cookie values are opaque strings chosen by the simulator; {@link #toString()}
 * shows them only as a short fingerprint.
 *
 * <p>Which chain a request continued and which response it created let a test check routing per
 * chain without recording bodies: the pin a request carried must be the one its chain's last
 * response is bound to, {@link #backendCookie()} of the request that created it.
 *
 * <pre>{@code
 * Map<String, String> pinOfResponse = new HashMap<>();
 * for (LoggedRequest request : simulator.requestLog()) {
 *   if (request.hasAffinityCookie()) {
 *     assertThat(request.affinityCookie()).isEqualTo(pinOfResponse.get(request.previousResponseId()));
 *   }
 *   if (request.responseId() != null) {
 *     pinOfResponse.put(request.responseId(), request.backendCookie());
 *   }
 * }
 * }</pre>
 *
 * @param sequence position of the request in arrival order, starting at 1
 * @param method HTTP method
 * @param path request path with its query string, if any
 * @param affinityCookie value of the affinity cookie the request carried, or {@code null}
 * @param backend name of the backend that served the request, or {@code null} when the gateway
 *     answered itself (unknown path, no backend available, pinned backend down in STRICT mode)
 * @param status HTTP status returned to the client (200 for a stream, even one cut mid-way)
 * @param issuedCookie value of a new affinity cookie set on the response, or {@code null}
 * @param body the request body as UTF-8, or {@code null} unless the simulator was built with
 *     {@link ApimSimulator.Builder#recordRequestBodies(boolean) recordRequestBodies(true)}
 * @param previousResponseId the {@code previous_response_id} of a create-response request, or
 *     {@code null} when it had none (a new chain, or a replay of a chain's history); recorded
 *     whether or not the request was served
 * @param responseId id of the response the backend created for this request, or {@code null}
 *     when none was (an error, an injected failure, another operation); set for a stream cut
 *     mid-way too, since the backend made and stored the response before sending it
 */
public record LoggedRequest(
    long sequence,
    String method,
    String path,
    @Nullable String affinityCookie,
    @Nullable String backend,
    int status,
    @Nullable String issuedCookie,
    @Nullable String body,
    @Nullable String previousResponseId,
    @Nullable String responseId) {

  /**
   * A request without chain facts: {@link #previousResponseId()} and {@link #responseId()} null.
   * Kept for code written against the first form of this record.
   */
  public LoggedRequest(long sequence, String method, String path, @Nullable String affinityCookie,
      @Nullable String backend, int status, @Nullable String issuedCookie, @Nullable String body) {
    this(sequence, method, path, affinityCookie, backend, status, issuedCookie, body, null, null);
  }

  /** Whether the request carried the affinity cookie. */
  public boolean hasAffinityCookie() {
    return affinityCookie != null;
  }

  /** Whether a backend served the request, rather than the gateway answering it itself. */
  public boolean wasRouted() {
    return backend != null;
  }

  /**
   * The affinity cookie value that pins to the backend that served this request: the one issued
   * with the answer, else the one the request carried (the gateway honoured it); {@code null} when
   * the gateway answered itself or session affinity is off. A response this request created is
   * bound to this cookie by a client that keeps affinity per chain.
   */
  public @Nullable String backendCookie() {
    if (backend == null) {
      return null;
    }
    return issuedCookie != null ? issuedCookie : affinityCookie;
  }

  @Override
  public String toString() {
    return "LoggedRequest{#" + sequence + " " + method + " " + path
        + ", cookie=" + Fingerprints.of(affinityCookie)
        + ", backend=" + backend
        + ", status=" + status
        + ", issuedCookie=" + Fingerprints.of(issuedCookie)
        + (previousResponseId == null ? "" : ", previousResponseId=" + previousResponseId)
        + (responseId == null ? "" : ", responseId=" + responseId)
        + (body == null ? "" : ", body=" + body.length() + " chars")
        + "}";
  }
}
