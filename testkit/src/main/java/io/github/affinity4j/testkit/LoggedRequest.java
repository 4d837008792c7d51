package io.github.affinity4j.testkit;

/**
 * One request as the simulated gateway saw and routed it, for tests to assert on.
 *
 * <p>The affinity cookie values are opaque strings chosen by the simulator; {@link #toString()}
 * shows them only as a short fingerprint.
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
 */
public record LoggedRequest(
    long sequence,
    String method,
    String path,
    String affinityCookie,
    String backend,
    int status,
    String issuedCookie,
    String body) {

  /** Whether the request carried the affinity cookie. */
  public boolean hasAffinityCookie() {
    return affinityCookie != null;
  }

  /** Whether a backend served the request, rather than the gateway answering it itself. */
  public boolean wasRouted() {
    return backend != null;
  }

  @Override
  public String toString() {
    return "LoggedRequest{#" + sequence + " " + method + " " + path
        + ", cookie=" + Fingerprints.of(affinityCookie)
        + ", backend=" + backend
        + ", status=" + status
        + ", issuedCookie=" + Fingerprints.of(issuedCookie)
        + (body == null ? "" : ", body=" + body.length() + " chars")
        + "}";
  }
}
