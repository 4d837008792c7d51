package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import org.jspecify.annotations.Nullable;

/**
 * Why a request that continued a chain failed in a way a replay of the chain's history can repair:
 * what the engine makes of an error response or a connection failure, as a listener hears it.
 *
 * <pre>{@code
 * public void repairStarted(ChainKey chain, ChainBreak cause) {  // in an AffinityListener
 *   log.debug("chain broke: {}", cause);  // ChainBreak[PREVIOUS_RESPONSE_NOT_FOUND, HTTP 400, ...]
 * }
 * }</pre>
 *
 * <p>The error's message is not kept, only its {@code code} and the id it names: messages are free
 * text. Immutable and thread-safe; safe to log.
 *
 * @param kind what broke
 * @param status the HTTP status, or 0 for a connection failure
 * @param code the error's {@code code}, or null if it had none
 * @param id the id the error names (a response, conversation or item id), or null if it names none
 */
public record ChainBreak(Kind kind, int status, @Nullable String code, @Nullable String id) {

  /** What broke. */
  public enum Kind {
    /**
     * The backend does not know the {@code previous_response_id}: {@code previous_response_not_found},
     * a terse "Invalid {@code previous_response_id}", or a 404. The response lives on another
     * backend, has expired, or (Azure, just after it was created) is not visible yet.
     */
    PREVIOUS_RESPONSE_NOT_FOUND,
    /** The backend does not know the {@code conversation}: it lives on another backend. */
    CONVERSATION_NOT_FOUND,
    /**
     * The backend does not know an item the request's input carries by id (an output item sent
     * back, or an {@code item_reference}): issued by another backend, or never stored.
     */
    ITEM_NOT_FOUND,
    /**
     * The backend the chain is pinned to did not answer: 502, 503 or 504 (a gateway's circuit
     * breaker, a backend down) or a connection failure, on a request that carried the chain's pin.
     */
    BACKEND_UNAVAILABLE,
    /**
     * The backend refused encrypted reasoning the request carried ({@code invalid_encrypted_content}):
     * another backend (another Azure resource) produced it. The request is sent again without it.
     */
    INVALID_ENCRYPTED_CONTENT;

    /** Returns true for the kinds where the backend answered that something is unknown to it. */
    public boolean isNotFound() {
      return this == PREVIOUS_RESPONSE_NOT_FOUND || this == CONVERSATION_NOT_FOUND || this == ITEM_NOT_FOUND;
    }
  }

  /**
   * Creates a break.
   *
   * @throws NullPointerException if {@code kind} is null
   * @throws IllegalArgumentException if {@code status} is negative or over 599
   */
  public ChainBreak {
    requireNonNull(kind, "kind");
    if (status < 0 || status > 599) {
      throw new IllegalArgumentException("status must be an HTTP status, or 0 for a connection failure, got "
          + status);
    }
  }

  /** Returns a short description for messages, e.g. {@code previous response not found (HTTP 400)}. */
  public String describe() {
    String what = switch (kind) {
      case PREVIOUS_RESPONSE_NOT_FOUND -> "previous response " + (id == null ? "" : id + " ") + "not found";
      case CONVERSATION_NOT_FOUND -> "conversation " + (id == null ? "" : id + " ") + "not found";
      case ITEM_NOT_FOUND -> "input item " + (id == null ? "" : id + " ") + "not found";
      case BACKEND_UNAVAILABLE -> "pinned backend unavailable";
      case INVALID_ENCRYPTED_CONTENT -> "encrypted reasoning of another backend refused";
    };
    return what + (status == 0 ? " (connection failed)" : " (HTTP " + status + ")");
  }
}
