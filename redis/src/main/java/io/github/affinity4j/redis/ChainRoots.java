package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.affinity4j.core.ChainKey;
import io.lettuce.core.GetExArgs;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Where a {@link RedisHistoryJournal}'s chains are: the root that names each chain's slot (see
 * {@link RedisKeys}), and the journal's writes run with it.
 *
 * <p><b>On one node</b> (standalone, Sentinel) every script finds the root itself, from the
 * response's root pointer, and keeps the pointers: a record, a history page or a forget is one
 * script, whatever this instance has seen. <b>On a cluster</b> a script may touch only its chain's
 * slot, and the pointer lies in another, so the root is found here: from the turn itself (its
 * conversation, or its start), from the roots this instance recorded or read (a bounded cache), or
 * else with one single-key read of the pointer first. A record then sends the script and the
 * pointer's write together, pipelined: one round trip when the root is known here, two when it must
 * be read.
 *
 * <p>Thread-safe.
 */
final class ChainRoots {

  /** The most roots remembered: about 2 MiB at 200 bytes each (key, root, the cache's node). */
  static final long MAXIMUM_KNOWN = 10_000;

  /** The root of a chain that has none recorded: a history without it is a missing link. */
  static final String NONE = "";

  private final boolean cluster;
  private final String prefix;
  private final long ttlMillis;
  private final Duration commandTimeout;
  private final @Nullable Cache<ChainKey, String> known;

  ChainRoots(boolean cluster, String prefix, Duration expireAfterAccess, Duration commandTimeout) {
    this.cluster = cluster;
    this.prefix = prefix;
    this.ttlMillis = expireAfterAccess.toMillis();
    this.commandTimeout = commandTimeout;
    this.known = cluster ? Caffeine.newBuilder().maximumSize(MAXIMUM_KNOWN).expireAfterAccess(expireAfterAccess)
        .executor(Runnable::run).<ChainKey, String>build() : null;
  }

  boolean isCluster() {
    return cluster;
  }

  /**
   * Records a turn: one script on one node; on a cluster the script and the turn's root pointer,
   * pipelined, after reading the parent's root if it is not known here.
   */
  List<Object> record(LettuceConnection.Commands commands, JournalScripts scripts, PendingWrite.Turn turn,
      ReplicaWait wait) {
    if (!cluster) {
      List<Object> reply = scripts.record(turn, "").run(commands.sync());
      if (wait.isOn()) {
        wait.after(commands.sync());
      }
      return reply;
    }
    String root = rootOf(commands.sync(), turn);
    String pointer = RedisKeys.root(prefix, turn.key());
    List<RedisFuture<?>> beside = new ArrayList<>(2);
    // The pointer, on its own master; with waitForReplicas, its WAIT after it on that connection.
    RedisClusterAsyncCommands<String, byte[]> pointerMaster = wait.isOn()
        ? ReplicaWait.masterOf(commands, pointer).async() : commands.async();
    beside.add(pointerMaster.set(pointer, ascii(root), SetArgs.Builder.px(ttlMillis)));
    RedisFuture<Long> pointerReplicated = wait.isOn() ? wait.send(pointerMaster) : null;
    ChainKey parent = turn.parent();
    if (parent != null) {
      beside.add(commands.async().pexpire(RedisKeys.root(prefix, parent), ttlMillis));
    }
    RedisClusterCommands<String, byte[]> chainMaster = wait.isOn()
        ? ReplicaWait.masterOf(commands, RedisKeys.turn(prefix, turn.key(), root)).sync() : commands.sync();
    List<Object> reply = scripts.record(turn, root).run(chainMaster);
    if (wait.isOn()) {
      wait.after(chainMaster);
    }
    for (RedisFuture<?> future : beside) {
      LettuceFutures.awaitOrCancel(future, commandTimeout.toNanos(), TimeUnit.NANOSECONDS);
    }
    if (pointerReplicated != null) {
      wait.check(LettuceFutures.awaitOrCancel(pointerReplicated, commandTimeout.toNanos(), TimeUnit.NANOSECONDS));
    }
    remember(turn.key(), root);
    return reply;
  }

  /**
   * Sends a turn's record without waiting for its reply: the script on one node; on a cluster the
   * script, the turn's root pointer and the parent pointer's expiry, pipelined, after reading the
   * parent's root if it is not known here (the one read a turn may wait for). The root is
   * remembered at once, so that a turn recorded right after finds it. The reply is the script's;
   * it fails if any of the commands does.
   */
  CompletionStage<List<Object>> sendRecord(LettuceConnection.Commands commands, JournalScripts scripts,
      PendingWrite.Turn turn) {
    if (!cluster) {
      return scripts.record(turn, "").<List<Object>>sendLoading(commands.async());
    }
    String root = rootOf(commands.sync(), turn);
    remember(turn.key(), root);
    RedisClusterAsyncCommands<String, byte[]> async = commands.async();
    List<CompletableFuture<?>> beside = new ArrayList<>(2);
    beside.add(async.set(RedisKeys.root(prefix, turn.key()), ascii(root), SetArgs.Builder.px(ttlMillis))
        .toCompletableFuture());
    ChainKey parent = turn.parent();
    if (parent != null) {
      beside.add(async.pexpire(RedisKeys.root(prefix, parent), ttlMillis).toCompletableFuture());
    }
    CompletableFuture<List<Object>> script = scripts.record(turn, root).<List<Object>>sendLoading(async);
    beside.add(script);
    return CompletableFuture.allOf(beside.toArray(new CompletableFuture<?>[0])).thenCompose(done -> script);
  }

  /**
   * The root of {@code chain} (a response or a conversation) for a history read or a forget: empty
   * on one node (the script finds it); on a cluster as known here or read from its pointer;
   * {@link #NONE} if no turn of that response was recorded.
   */
  String rootOf(RedisClusterCommands<String, byte[]> commands, ChainKey chain) {
    if (!cluster) {
      return "";
    }
    if (chain.kind() == ChainKey.Kind.CONVERSATION) {
      return RedisKeys.conversationRoot(chain.id());
    }
    return pointerOf(commands, chain);
  }

  /**
   * Starts reading {@code response}'s root pointer, to run beside a pin lookup of it: the turn that
   * continues {@code response} is recorded with that root, and needs no read of its own. Null if
   * there is nothing to read: on one node, or when the root is known here.
   */
  @Nullable RedisFuture<byte[]> readAhead(RedisClusterAsyncCommands<String, byte[]> async, ChainKey response) {
    if (known == null || response.kind() != ChainKey.Kind.RESPONSE || knows(response)) {
      return null;
    }
    return async.getex(RedisKeys.root(prefix, response), GetExArgs.Builder.px(ttlMillis));
  }

  /**
   * Remembers the root a {@link #readAhead} finds, when its reply comes: the lookup it ran beside
   * does not wait for it (its master may be slow or failing over). A read that fails is left alone:
   * the record that needs the root reads it itself.
   */
  void whenRead(ChainKey response, RedisFuture<byte[]> read) {
    read.thenAccept(value -> {
      if (value != null) {
        remember(response, new String(value, StandardCharsets.US_ASCII));
      }
    });
  }

  /** Returns true if the root of {@code response} is known here. */
  boolean knows(ChainKey response) {
    return known != null && known.getIfPresent(response) != null;
  }

  /** The root {@code response}'s pointer names, on one node as on a cluster; {@link #NONE} if none. */
  String pointerOf(RedisClusterCommands<String, byte[]> commands, ChainKey response) {
    String root = lookUp(commands, response);
    return root == null ? NONE : root;
  }

  /** Forgets a turn or a conversation, and on a cluster the turn's root pointer beside it. */
  long forget(LettuceConnection.Commands commands, JournalScripts scripts, ChainKey key) {
    if (!cluster || key.kind() == ChainKey.Kind.CONVERSATION) {
      return scripts.forget(key, rootOf(commands.sync(), key)).<Long>run(commands.sync());
    }
    String root = rootOf(commands.sync(), key);
    long removed = commands.sync().del(RedisKeys.root(prefix, key));
    if (known != null) {
      known.invalidate(key);
    }
    return root.equals(NONE) ? removed : removed + scripts.forget(key, root).<Long>run(commands.sync());
  }

  /**
   * Sends queued writes pipelined, in order (on a cluster, each chain's writes go to its master in
   * order; the roots they need are found first, in order, so a turn queued after its parent finds
   * the parent's).
   */
  List<Future<?>> send(LettuceConnection.Commands commands, JournalScripts scripts, List<PendingWrite> batch) {
    RedisClusterAsyncCommands<String, byte[]> async = commands.async();
    List<Future<?>> futures = new ArrayList<>(2 * batch.size());
    for (PendingWrite pending : batch) {
      if (!cluster) {
        futures.add(pending.call(scripts, "").send(async));
      } else if (pending instanceof PendingWrite.Turn turn) {
        String root = rootOf(commands.sync(), turn);
        remember(turn.key(), root);
        futures.add(async.set(RedisKeys.root(prefix, turn.key()), ascii(root), SetArgs.Builder.px(ttlMillis)));
        futures.add(turn.call(scripts, root).sendText(async));
      } else if (pending instanceof PendingWrite.Forget forget && forget.key().kind() == ChainKey.Kind.RESPONSE) {
        String root = rootOf(commands.sync(), forget.key());
        futures.add(async.del(RedisKeys.root(prefix, forget.key())));
        if (!root.equals(NONE)) {
          futures.add(forget.call(scripts, root).sendText(async));
        }
      } else {
        futures.add(pending.call(scripts, rootOf(commands.sync(), pending.chain())).sendText(async));
      }
    }
    return futures;
  }

  /** Remembers a root learnt while Redis was unavailable (a turn queued), for the turns after it. */
  void remember(ChainKey response, String root) {
    if (known != null) {
      known.put(response, root);
    }
  }

  /** The root of a new turn's chain if known without Redis (always on one node: the script finds it). */
  @Nullable String knownRootOf(PendingWrite.Turn turn) {
    if (!cluster) {
      return "";
    }
    ChainKey parent = turn.parent();
    if (turn.conversation != null) {
      return RedisKeys.conversationRoot(turn.conversation);
    }
    if (parent == null) {
      return RedisKeys.responseRoot(turn.id);
    }
    return known == null ? null : known.getIfPresent(parent);
  }

  /** Forgets what this instance knew (the journal was cleared). */
  void clear() {
    if (known != null) {
      known.invalidateAll();
    }
  }

  private String rootOf(RedisClusterCommands<String, byte[]> commands, PendingWrite.Turn turn) {
    String root = knownRootOf(turn);
    if (root != null) {
      return root;
    }
    ChainKey parent = requireNonNull(turn.parent());
    String found = lookUp(commands, parent);
    // A parent never recorded (or expired): the turn starts a chain of its own, whose start is missing.
    return found != null ? found : RedisKeys.responseRoot(parent.id());
  }

  /** The root a response's pointer names, restarting its expiry; null if there is none. */
  private @Nullable String lookUp(RedisClusterCommands<String, byte[]> commands, ChainKey response) {
    String root = known == null ? null : known.getIfPresent(response);
    if (root != null) {
      return root;
    }
    byte[] value = commands.getex(RedisKeys.root(prefix, response), GetExArgs.Builder.px(ttlMillis));
    if (value == null) {
      return null;
    }
    root = new String(value, StandardCharsets.US_ASCII);
    remember(response, root);
    return root;
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }
}
