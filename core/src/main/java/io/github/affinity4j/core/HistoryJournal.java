package io.github.affinity4j.core;

/**
 * Where the repair engine keeps every turn of every chain, so that a chain whose backend is lost
 * can be replayed elsewhere. Share one journal between clients (and, with a shared implementation
 * such as one backed by Redis, between processes) so that any of them can repair any chain.
 *
 * <pre>{@code
 * HistoryJournal journal = CaffeineHistoryJournal.builder().maximumBytes(256L << 20).build();
 * AffinityInterceptor interceptor = AffinityInterceptor.builder().journal(journal).build();
 * }</pre>
 *
 * <p>What an implementation must do:
 *
 * <ul>
 *   <li>Keep every entry under its {@link ChainScope} ({@link JournalTurn#scope()},
 *       {@link ChainKey#scope()}): a turn, a conversation and the links between them are found only
 *       in the scope they were recorded in, and recording in one scope never changes another. Keep
 *       only {@link ChainScope#key()}, never anything the scope was made from.
 *   <li>Keep, per response id, the turn's input items, output items (opaque JSON arrays; store the
 *       bytes as they are) and the link to its logical parent: {@link JournalTurn#previousResponseId()},
 *       else, for a turn in a conversation, the conversation's latest turn (or the conversation's
 *       creation, if it has no turn yet), else none: the start of a chain.
 *   <li>Keep, per conversation, the items it was created with ({@link #recordConversation}) and its
 *       latest turn. A conversation whose creation was not recorded has an unknown start: its
 *       history is never complete.
 *   <li>Answer {@link #history} by walking the links back to the start, oldest first, and say
 *       honestly when a link is missing (never recorded, evicted, expired) or the chain is over a
 *       size bound: a replay of a partial history would change the model's context without anyone
 *       noticing, so it must not happen.
 *   <li>Bound size and let entries expire, treating a chain as a unit: recording a turn must keep
 *       its ancestors at least as long as the turn itself, or chains lose their start while still
 *       in use.
 *   <li>A journal whose backing store is down (a Redis that does not answer) answers
 *       {@link #history} with {@link ChainHistory#unavailable} rather than throwing, and
 *       {@code record} drops the turn, so the request goes on. Keep
 *       {@link ChainHistory.Status#MISSING_LINK} for a store that answered that a link is not there:
 *       the failed repair's message tells the two apart (a store to bring back, or bounds to raise),
 *       and quotes the journal's {@code toString()}, so let it name the store's state.
 * </ul>
 *
 * <p>Implementations must be thread-safe: every method is called concurrently from request
 * threads, on the request path, so must not block for long. An exception thrown here is logged at
 * WARN by the engine: a failed {@code record} leaves the chain unrepairable, a failed
 * {@code history} fails that repair. Items are conversation content: never log them.
 *
 * <p>{@link CaffeineHistoryJournal} is the default.
 */
public interface HistoryJournal {

  /** Records one turn, replacing any earlier record of the same response id. */
  void record(JournalTurn turn);

  /**
   * Records that a conversation was created, with the items it was created with.
   *
   * @param conversation the conversation's key, in its scope
   * @param items the {@code items} of the {@code POST …/conversations} request, a JSON array;
   *     {@code []} if none
   */
  void recordConversation(ChainKey conversation, byte[] items);

  /**
   * Returns the history of a chain: for a response key, the chain ending at that response; for a
   * conversation key, the conversation up to its latest turn. Never null. Counts as an access of
   * every link read. {@link ChainHistory#unavailable} if the journal's store cannot be read.
   */
  ChainHistory history(ChainKey chain);

  /**
   * Forgets one response's turn, or one conversation with its latest-turn link, because the API
   * deleted it: its history is gone and a chain through it can no longer be replayed. Other
   * scopes, and the turns before it, are left alone.
   */
  void forget(ChainKey chain);

  /** Forgets everything. */
  void clear();

  /** Returns about how many entries are held; may count entries that have expired but linger. */
  long estimatedSize();
}
