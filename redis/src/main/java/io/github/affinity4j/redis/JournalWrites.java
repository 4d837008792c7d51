package io.github.affinity4j.redis;

import static io.github.affinity4j.redis.JournalScripts.text;

import io.github.affinity4j.core.ChainKey;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writes of a {@link RedisHistoryJournal}: a turn is sent without waiting for Redis' reply
 * (unless {@code waitForReplicas} is set), and its reply is handled when it comes; a turn Redis
 * failed, or one made while Redis is unavailable or while earlier writes wait in the
 * {@link JournalQueue}, is kept locally and queued at its place in line, to be sent in order once
 * Redis answers. The other writes (a conversation's items, a forget) wait for their reply.
 *
 * <p>Thread-safe.
 */
final class JournalWrites {

  // The journal's category, as before the split: what a user set for RedisHistoryJournal still holds.
  private static final Logger logger = LoggerFactory.getLogger(RedisHistoryJournal.class);

  private final RedisConnector connector;
  private final JournalScripts scripts;
  private final ChainRoots roots;
  private final ReplicaWait replicaWait;
  private final @Nullable FallbackJournal local;
  private final JournalQueue queue;
  private final LongAdder dropped = new LongAdder();

  JournalWrites(RedisConnector connector, JournalScripts scripts, ChainRoots roots, ReplicaWait replicaWait,
      @Nullable FallbackJournal local, JournalQueue queue) {
    this.connector = connector;
    this.scripts = scripts;
    this.roots = roots;
    this.replicaWait = replicaWait;
    this.local = local;
    this.queue = queue;
  }

  long dropped() {
    return dropped.sum();
  }

  /**
   * Records a turn: sent without waiting if Redis is available and nothing waits in the queue
   * (dropped and counted if too many writes wait for replies); else as before, waiting for the reply
   * or queued.
   */
  void record(PendingWrite.Turn pending) {
    JournalQueue.Send waiting = queue.send();
    if (!replicaWait.isOn() && waiting == JournalQueue.Send.DONE) {
      long place = queue.nextSequence();
      WriteSender.Outcome outcome = connector.writes().send("journal record",
          commands -> roots.sendRecord(commands, scripts, pending), new WriteSender.Reply<>() {
            @Override
            public void answered(List<Object> reply) {
              recorded(pending, reply);
            }

            @Override
            public void failed() {
              keep(pending, place);
            }
          });
      if (outcome == WriteSender.Outcome.SENT) {
        return;
      }
      if (outcome == WriteSender.Outcome.DROPPED) {
        dropped.increment();
        return;
      }
      if (outcome == WriteSender.Outcome.FELL_BACK) {
        keep(pending, place);
        return;
      }
    }
    recordAndWait(pending, waiting);
  }

  /** Records a turn and waits for Redis' reply, once nothing waits in the queue; else queues it. */
  private void recordAndWait(PendingWrite.Turn pending, JournalQueue.Send waiting) {
    List<Object> reply = waiting == JournalQueue.Send.DONE
        ? connector.executeWith("journal record",
            commands -> roots.record(commands, scripts, pending, replicaWait), null)
        : null;
    if (reply != null) {
      recorded(pending, reply);
      queue.send(); // Redis may have just come back
    } else {
      keep(pending, queue.nextSequence());
    }
  }

  /** Redis recorded the turn: keeps it locally with the link Redis gave it. May run on Lettuce's I/O thread. */
  private void recorded(PendingWrite.Turn pending, List<Object> reply) {
    boolean marker = (Long) reply.get(0) == 1L;
    if (marker) {
      logger.debug("Chain of {} is past a per-chain bound; journaled as a marker", pending.id);
    }
    if (local != null) {
      local.record(pending.key(), JournalScripts.parent(pending.scope, text(reply.get(1))), false,
          pending.input, pending.output, marker);
    }
  }

  /** Redis did not take the turn: kept locally, and queued at its place. May run on Lettuce's I/O thread. */
  private void keep(PendingWrite.Turn pending, long place) {
    if (local == null) {
      return;
    }
    String root = roots.knownRootOf(pending);
    if (root != null) { // so that the turns queued after it find it
      roots.remember(pending.key(), root);
    }
    ChainKey parent = pending.parent();
    // A conversation's turn links to its latest turn, which only Redis knows.
    boolean unknown = parent == null && pending.conversation != null;
    local.record(pending.key(), parent, unknown, pending.input, pending.output, false);
    queue.add(pending, place);
  }

  /** Writes to Redis once what waits is sent, and waits for the reply; else queues the write. */
  void write(String operation, PendingWrite pending, Function<LettuceConnection.Commands, Long> command) {
    if (queue.send() == JournalQueue.Send.DONE && connector.executeWith(operation, command, null) != null) {
      queue.send();
      return;
    }
    queue.add(pending);
  }
}
