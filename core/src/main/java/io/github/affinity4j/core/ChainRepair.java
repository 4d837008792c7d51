package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * A repair that worked, as {@link AffinityListener#repaired} reports it: what broke, how it was
 * healed, and where the chain lives now.
 *
 * <pre>{@code
 * public void repaired(ChainRepair repair) {
 *   log.info("chain {} moved from {} to {}: {} items, {} bytes replayed", repair.chain(),
 *       repair.previousPin(), repair.newPin(), repair.itemsReplayed(), repair.bytesReplayed());
 * }
 * }</pre>
 *
 * <p>Tokens print only their fingerprint. Immutable and thread-safe; safe to log.
 *
 * @param chain the chain that broke; null if the request continued none (an unknown input item)
 * @param cause what broke
 * @param replayed true if the history was replayed; false if a retry on the same pin sufficed
 * @param previousPin the pin the broken request carried (the old backend); null if none
 * @param newPin the affinity cookie the repaired response set (the new backend); null if none
 * @param routing the routing facts of the repaired response, e.g. its region; never null
 * @param itemsReplayed how many items of history the replay sent; 0 for a retry
 * @param bytesReplayed the size of the replay body, in bytes; 0 for a retry
 * @param elapsed the time from the break to the repaired response
 */
public record ChainRepair(
    @Nullable ChainKey chain,
    ChainBreak cause,
    boolean replayed,
    @Nullable AffinityToken previousPin,
    @Nullable AffinityToken newPin,
    RoutingInfo routing,
    int itemsReplayed,
    long bytesReplayed,
    Duration elapsed) {

  /**
   * Creates an event.
   *
   * @throws NullPointerException if {@code cause} or {@code elapsed} is null
   */
  public ChainRepair {
    requireNonNull(cause, "cause");
    requireNonNull(elapsed, "elapsed");
    if (routing == null) {
      routing = RoutingInfo.EMPTY;
    }
  }
}
