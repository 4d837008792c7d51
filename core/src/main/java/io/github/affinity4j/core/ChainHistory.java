package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * A chain's history as a {@link HistoryJournal} holds it, oldest first: every turn's input items
 * and output items, back to the start of the chain, or the reason it cannot be had whole.
 *
 * <pre>{@code
 * ChainHistory history = journal.history(ChainKey.response("resp_3"));
 * if (!history.isComplete()) {
 *   log.warn("cannot repair {}: {} missing", history.chain(), history.link().orElse(null));
 * }
 * }</pre>
 *
 * <p>A replay needs the <em>whole</em> history: a history with a hole would silently change the
 * model's context, so anything but {@link Status#COMPLETE} means the chain cannot be repaired.
 * {@link Status#UNAVAILABLE} says nothing about the chain itself: the journal could not be read at
 * all (its store is down), so the chain may well be whole once it answers again.
 * Immutable and thread-safe; {@link #toString()} shows ids and sizes, never items.
 */
public final class ChainHistory {

  /** Whether the history is whole. */
  public enum Status {
    /** Every turn back to the start of the chain is there. */
    COMPLETE,
    /** A link is not in the journal: never recorded, evicted or expired. See {@link #link()}. */
    MISSING_LINK,
    /** The chain grew past one of the journal's per-chain bounds (bytes, turns) at {@link #link()}. */
    TOO_LARGE,
    /**
     * The journal could not be read: its store is down or failed (a Redis that does not answer,
     * say). Nothing is known about the chain; {@link #link()} is empty.
     */
    UNAVAILABLE
  }

  private final ChainKey chain;
  private final Status status;
  private final List<byte[]> segments;
  private final @Nullable ChainKey link;
  private final @Nullable String lastResponseId;
  private final int turns;
  private final long bytes;

  private ChainHistory(ChainKey chain, Status status, List<byte[]> segments, @Nullable ChainKey link,
      @Nullable String lastResponseId, int turns) {
    this.chain = requireNonNull(chain, "chain");
    this.status = status;
    this.segments = segments;
    this.link = link;
    this.lastResponseId = lastResponseId;
    this.turns = turns;
    long sum = 0;
    for (byte[] segment : segments) {
      sum += segment.length;
    }
    this.bytes = sum;
  }

  /**
   * Returns a complete history.
   *
   * @param chain the chain asked for
   * @param itemArrays the items, oldest first, as JSON arrays (for each turn its input, then its
   *     output; a conversation's initial items first); copied
   * @param lastResponseId the newest response of the chain, or null if it has none yet (a
   *     conversation without turns)
   * @param turns how many turns the history holds
   * @throws NullPointerException if {@code chain} or {@code itemArrays} (or one of them) is null
   * @throws IllegalArgumentException if {@code turns} is negative
   */
  public static ChainHistory complete(ChainKey chain, List<byte[]> itemArrays,
      @Nullable String lastResponseId, int turns) {
    List<byte[]> copies = new ArrayList<>(itemArrays.size());
    for (byte[] array : itemArrays) {
      copies.add(requireNonNull(array, "item array").clone());
    }
    return completeOwned(chain, copies, lastResponseId, turns);
  }

  /** A complete history from arrays the journal will not modify, so not copied. */
  static ChainHistory completeOwned(ChainKey chain, List<byte[]> segments, @Nullable String lastResponseId,
      int turns) {
    checkTurns(turns);
    return new ChainHistory(chain, Status.COMPLETE, Collections.unmodifiableList(segments), null,
        lastResponseId, turns);
  }

  /**
   * Returns a history with a link missing.
   *
   * @param chain the chain asked for
   * @param link the link that is not in the journal
   * @param turnsFound how many turns were found before it
   * @throws NullPointerException if {@code chain} or {@code link} is null
   */
  public static ChainHistory missingLink(ChainKey chain, ChainKey link, int turnsFound) {
    checkTurns(turnsFound);
    return new ChainHistory(chain, Status.MISSING_LINK, List.of(), requireNonNull(link, "link"), null,
        turnsFound);
  }

  /**
   * Returns a history that grew past the journal's bytes-per-chain bound.
   *
   * @param chain the chain asked for
   * @param link the first link past the bound
   * @throws NullPointerException if {@code chain} or {@code link} is null
   */
  public static ChainHistory tooLarge(ChainKey chain, ChainKey link) {
    return new ChainHistory(chain, Status.TOO_LARGE, List.of(), requireNonNull(link, "link"), null, 0);
  }

  /**
   * Returns a history that could not be read because the journal's store is down or failed: for
   * a journal that would rather let the request go on than throw (see {@link HistoryJournal}).
   *
   * @param chain the chain asked for
   * @throws NullPointerException if {@code chain} is null
   */
  public static ChainHistory unavailable(ChainKey chain) {
    return new ChainHistory(chain, Status.UNAVAILABLE, List.of(), null, null, 0);
  }

  /** Returns the chain asked for. */
  public ChainKey chain() {
    return chain;
  }

  /** Returns whether the history is whole. */
  public Status status() {
    return status;
  }

  /** Returns true if the history is whole, so the chain can be replayed. */
  public boolean isComplete() {
    return status == Status.COMPLETE;
  }

  /**
   * Returns the missing link, or the first link past the bound; empty if complete or
   * unavailable.
   */
  public Optional<ChainKey> link() {
    return Optional.ofNullable(link);
  }

  /** Returns the newest response id of a complete chain; empty otherwise or if it has none. */
  public Optional<String> lastResponseId() {
    return Optional.ofNullable(lastResponseId);
  }

  /**
   * Returns how many turns the history holds, or, if a link is missing, how many were found; 0 if
   * the journal was unavailable.
   */
  public int turns() {
    return turns;
  }

  /** Returns the size of the items, in bytes; 0 unless complete. */
  public long bytes() {
    return bytes;
  }

  /** Returns the items, oldest first, as JSON arrays: fresh copies on each call; empty unless complete. */
  public List<byte[]> itemArrays() {
    List<byte[]> copies = new ArrayList<>(segments.size());
    for (byte[] segment : segments) {
      copies.add(segment.clone());
    }
    return copies;
  }

  /** The items without copying; the engine never modifies them. */
  public List<byte[]> segments() {
    return segments;
  }

  @Override
  public String toString() {
    return "ChainHistory[chain=" + chain + ", status=" + status + ", turns=" + turns + ", bytes=" + bytes
        + (link == null ? "" : ", link=" + link)
        + (lastResponseId == null ? "" : ", lastResponseId=" + lastResponseId) + ']';
  }

  private static void checkTurns(int turns) {
    if (turns < 0) {
      throw new IllegalArgumentException("turns must not be negative, got " + turns);
    }
  }
}
