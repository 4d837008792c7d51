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
 *     answered itself (unknown path, no backend available, pinned backend down in STRICT mode or
 *     with {@link ApimSimulator.Builder#deadPinnedBackendStatus(int)})
 * @param status HTTP status returned to the client (200 for a stream, even one cut mid-way)
 * @param issuedCookie value of a new affinity cookie set on the response, or {@code null}
 * @param body the request body as UTF-8, or {@code null} unless the simulator was built with
 *     {@link ApimSimulator.Builder#recordRequestBodies(boolean) recordRequestBodies(true)}
 * @param previousResponseId the {@code previous_response_id} of a create-response request (or of
 *     a compact or input-token request), or {@code null} when it had none (a new chain, or a replay of a chain's history); recorded
 *     whether or not the request was served
 * @param responseId id of the response the backend created for this request, or {@code null}
 *     when none was (an error, an injected failure, another operation); set for a stream cut
 *     mid-way too, since the backend made and stored the response before sending it
 * @param encryptedInputItems how many items of the request's top-level {@code input} carried
 *     {@code encrypted_content} (reasoning or compaction items), for a create-response, compact
 *     or input-token request; 0 for other requests; counted whether or not the request was served
 * @param errorCode the {@code code} of the OpenAI-shaped error a backend answered with (such as
 *     {@code previous_response_not_found} or {@code invalid_encrypted_content}), or {@code null}
 *     when it answered without error, with an error that has no code, or the gateway answered
 * @param responseStatus the {@code status} of the response object in the answer
 *     ({@code queued}, {@code in_progress}, {@code completed}, {@code cancelled}) for a
 *     create-response, retrieve or cancel request a backend served, else {@code null}
 * @param backgroundPoll whether this was a retrieval ({@code GET …/responses/{id}}, streamed or
 *     not) of a background response, answered by the backend that holds it
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
    @Nullable String responseId,
    int encryptedInputItems,
    @Nullable String errorCode,
    @Nullable String responseStatus,
    boolean backgroundPoll) {

  /**
   * A request without chain facts: {@link #previousResponseId()} and {@link #responseId()} null.
   * Kept for code written against the first form of this record.
   */
  public LoggedRequest(long sequence, String method, String path, @Nullable String affinityCookie,
      @Nullable String backend, int status, @Nullable String issuedCookie, @Nullable String body) {
    this(sequence, method, path, affinityCookie, backend, status, issuedCookie, body, null, null);
  }

  /**
   * A request with chain facts but none about encrypted content, errors or background responses.
   * Kept for code written against the second form of this record.
   */
  public LoggedRequest(long sequence, String method, String path, @Nullable String affinityCookie,
      @Nullable String backend, int status, @Nullable String issuedCookie, @Nullable String body,
      @Nullable String previousResponseId, @Nullable String responseId) {
    this(sequence, method, path, affinityCookie, backend, status, issuedCookie, body,
        previousResponseId, responseId, 0, null, null, false);
  }

  /** Whether the request's input carried encrypted reasoning or compaction content. */
  public boolean carriedEncryptedContent() {
    return encryptedInputItems > 0;
  }

  /**
   * Whether the backend refused the request because its input carried encrypted content another
   * backend had sealed ({@code invalid_encrypted_content}).
   */
  public boolean refusedEncryptedContent() {
    return "invalid_encrypted_content".equals(errorCode);
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
        + (encryptedInputItems == 0 ? "" : ", encryptedInputItems=" + encryptedInputItems)
        + (errorCode == null ? "" : ", errorCode=" + errorCode)
        + (responseStatus == null ? "" : ", responseStatus=" + responseStatus)
        + (backgroundPoll ? ", backgroundPoll" : "")
        + (body == null ? "" : ", body=" + body.length() + " chars")
        + "}";
  }
}
