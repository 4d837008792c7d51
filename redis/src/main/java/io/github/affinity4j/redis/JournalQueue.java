package io.github.affinity4j.redis;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a {@link RedisHistoryJournal} wrote while Redis was unavailable (or sent, and Redis failed),
 * in the order the journal made the writes and bounded in entries and bytes, and the sending of it
 * to Redis, pipelined and in that order, once Redis answers. Off (it keeps nothing) when its bound
 * in entries is 0.
 *
 * <p>Each write takes its place in line ({@link #nextSequence}) when the journal makes it: a write
 * sent without waiting whose reply says it failed is queued at that place, before the writes made
 * after it, even if those were queued first.
 *
 * <p>Thread-safe: any thread adds; only the thread holding the send lock takes from the head.
 */
final class JournalQueue {

  // Operations sent to Redis per pipeline once it answers again.
  private static final int SEND_BATCH = 256;

  // The journal's category, as before the split: what a user set for RedisHistoryJournal still holds.
  private static final Logger logger = LoggerFactory.getLogger(RedisHistoryJournal.class);

  /** What {@link #send} found. */
  enum Send {
    /** Nothing waits: go to Redis. */
    DONE,
    /** Another thread is sending: queue behind it. */
    BUSY,
    /** Redis is unavailable: it was just tried, or will be at the next retry. */
    UNAVAILABLE
  }

  private final RedisConnector connector;
  private final JournalScripts scripts;
  private final ChainRoots roots;
  private final long maximumEntries;
  private final long maximumBytes;
  private final ConcurrentSkipListMap<Long, PendingWrite> queue = new ConcurrentSkipListMap<>();
  private final AtomicLong sequence = new AtomicLong();
  private final AtomicLong entries = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private final ReentrantLock sending = new ReentrantLock();
  private final AtomicBoolean overflowWarned = new AtomicBoolean();

  JournalQueue(RedisConnector connector, JournalScripts scripts, ChainRoots roots, long maximumEntries,
      long maximumBytes) {
    this.connector = connector;
    this.scripts = scripts;
    this.roots = roots;
    this.maximumEntries = maximumEntries;
    this.maximumBytes = maximumBytes;
  }

  boolean isEmpty() {
    return queue.isEmpty();
  }

  /** How many writes wait for Redis. */
  long size() {
    return entries.get();
  }

  /** The place in line of a write made now. */
  long nextSequence() {
    return sequence.incrementAndGet();
  }

  /** Keeps a write made now for Redis; see {@link #add(PendingWrite, long)}. */
  void add(PendingWrite pending) {
    add(pending, nextSequence());
  }

  /**
   * Keeps a write for Redis at its place in line, unless off or past the bounds (then WARNs once
   * until all is sent).
   */
  void add(PendingWrite pending, long place) {
    if (maximumEntries == 0) {
      return;
    }
    if (entries.get() >= maximumEntries || bytes.get() + pending.bytes() > maximumBytes) {
      if (overflowWarned.compareAndSet(false, true)) {
        logger.warn("RedisHistoryJournal's local fallback holds {} operations ({} bytes) waiting for Redis,"
            + " its bound; later ones are kept here only, and Redis will not have them",
            entries.get(), bytes.get());
      }
      return;
    }
    entries.incrementAndGet();
    bytes.addAndGet(pending.bytes());
    queue.put(place, pending);
  }

  /**
   * Sends what was queued, in order, if anything was and no other thread is sending it. Tries
   * Redis as any operation does (at most once per retry interval during an outage).
   */
  Send send() {
    if (queue.isEmpty()) {
      return Send.DONE;
    }
    // Held by this thread: the batch it is sending just found Redis back. Not twice.
    if (sending.isHeldByCurrentThread() || !sending.tryLock()) {
      return Send.BUSY;
    }
    try {
      return sendAll();
    } finally {
      sending.unlock();
    }
  }

  /** Drops everything queued; waits for a send under way. */
  void clear() {
    sending.lock();
    try {
      queue.clear();
      entries.set(0);
      bytes.set(0);
    } finally {
      sending.unlock();
    }
  }

  private Send sendAll() {
    boolean loaded = false;
    while (!queue.isEmpty()) {
      List<Map.Entry<Long, PendingWrite>> batch = nextBatch();
      List<PendingWrite> writes = new ArrayList<>(batch.size());
      for (Map.Entry<Long, PendingWrite> entry : batch) {
        writes.add(entry.getValue());
      }
      boolean load = !loaded;
      if (connector.executeBatch("journal send", connection -> send(connection, writes, load)) < 0) {
        return Send.UNAVAILABLE;
      }
      loaded = true;
      remove(batch);
    }
    overflowWarned.set(false);
    return Send.DONE;
  }

  private List<Map.Entry<Long, PendingWrite>> nextBatch() {
    List<Map.Entry<Long, PendingWrite>> batch = new ArrayList<>(SEND_BATCH);
    for (Iterator<Map.Entry<Long, PendingWrite>> it = queue.entrySet().iterator();
        it.hasNext() && batch.size() < SEND_BATCH; ) {
      batch.add(it.next());
    }
    return batch;
  }

  private void remove(List<Map.Entry<Long, PendingWrite>> batch) {
    for (Map.Entry<Long, PendingWrite> sent : batch) {
      if (queue.remove(sent.getKey(), sent.getValue())) {
        entries.decrementAndGet();
        bytes.addAndGet(-sent.getValue().bytes());
      }
    }
  }

  private List<Future<?>> send(LettuceConnection.Commands connection, List<PendingWrite> batch,
      boolean load) {
    if (load && !roots.isCluster()) {
      // A Redis that comes back empty has no scripts, and a pipelined NOSCRIPT cannot be retried.
      // (A cluster is sent the scripts' text instead: see LuaScript.Call#sendText.)
      JournalScripts.loadWrites(connection.sync());
    }
    return roots.send(connection, scripts, batch);
  }
}
