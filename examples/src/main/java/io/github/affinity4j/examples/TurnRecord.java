package io.github.affinity4j.examples;

import io.github.affinity4j.core.RoutingInfo;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * What one turn of a conversation did, as the demo and the probe print it. Holds no secret: pins
 * are fingerprints, and {@code detail} has passed through a {@link Redactor} before it is shown.
 *
 * @param conversation the conversation, from 1
 * @param turn the turn within it, from 1
 * @param ok true if the turn got a usable response that the next turn can continue
 * @param status the HTTP status of the last attempt; 0 if none arrived (an I/O failure)
 * @param error why the turn failed: the API's error code ({@code previous_response_not_found}),
 *     {@code http_<status>} without one, or the exception's simple name; null if it succeeded
 * @param detail the error message, for a person to read; null if it succeeded
 * @param responseId the id of the response created, for the next turn; null if none
 * @param text the output text; empty if none
 * @param routing the routing headers of the last attempt; {@link RoutingInfo#EMPTY} if none
 * @param pinSent the fingerprint of the affinity cookie the last attempt carried; null if none
 * @param pinSet the fingerprint of the affinity cookie the last answer set; null if none
 * @param repaired true if affinity4j repaired a break of this turn's chain
 * @param itemsReplayed how many history items the repair replayed; 0 if none
 * @param attempts how many HTTP requests the turn took (SDK retries and repairs included)
 * @param latency the time the turn took, from the call to its last byte
 */
record TurnRecord(
    int conversation,
    int turn,
    boolean ok,
    int status,
    @Nullable String error,
    @Nullable String detail,
    @Nullable String responseId,
    String text,
    RoutingInfo routing,
    @Nullable String pinSent,
    @Nullable String pinSet,
    boolean repaired,
    int itemsReplayed,
    int attempts,
    Duration latency) {

  /** The region that answered, or {@code unknown}. */
  String region() {
    return routing.region() == null ? "unknown" : routing.region();
  }

  /** The chain's pin after this turn: the cookie set, else the cookie sent; null if neither. */
  @Nullable String pin() {
    return pinSet != null ? pinSet : pinSent;
  }
}
