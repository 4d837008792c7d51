package io.github.affinity4j.redis;

import static io.github.affinity4j.redis.JournalScripts.text;

import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Reads a chain's history from Redis for a {@link RedisHistoryJournal}: page by page with the
 * history script (each page one slow-command call on the connector, see
 * {@link RedisConnector#executeSlow}), then the turns' records decoded into the chain's items.
 *
 * <p>Immutable and thread-safe; each read keeps its own state.
 */
final class HistoryPages {

  /** How many times one read goes on under another root (see {@link #read}). */
  static final int MAX_HOPS = 16;

  private final RedisConnector connector;
  private final JournalScripts scripts;
  private final ChainRoots roots;
  private final long maximumBytesPerChain;

  HistoryPages(RedisConnector connector, JournalScripts scripts, ChainRoots roots, long maximumBytesPerChain) {
    this.connector = connector;
    this.scripts = scripts;
    this.roots = roots;
    this.maximumBytesPerChain = maximumBytesPerChain;
  }

  /**
   * Reads a chain from Redis, page by page; null if Redis could not be read. On a cluster, the
   * chain's root is found first (see {@link ChainRoots}) unless this instance knows it.
   *
   * <p>A turn recorded while its parent waited in another instance's queue (Redis, or its master,
   * was unavailable there) lies under a root of its own, since its parent's pointer was not there
   * yet. Where a link is missing under one root, the read goes on from the parent's own pointer,
   * at most {@link #MAX_HOPS} times: one round trip more each.
   */
  @Nullable ChainHistory read(ChainKey chain) {
    String root = roots.isCluster() ? connector.execute("journal root", c -> roots.rootOf(c, chain), null) : "";
    if (root == null) {
      return null;
    }
    if (root.equals(ChainRoots.NONE) && roots.isCluster()) {
      return ChainHistory.missingLink(chain, chain, 0); // no turn of that response was recorded
    }
    Read read = new Read(chain, root);
    while (true) {
      LuaScript.Call call = read.call;
      List<Object> reply = connector.executeSlow("journal history", call::<List<Object>>run, null);
      if (reply == null) {
        // The connector fell back: the script never ran or did not answer, so Redis said nothing
        // about this chain.
        return null;
      }
      ChainHistory history = read.page(reply);
      if (history == null) {
        continue;
      }
      ChainKey parent = read.hopFrom(history);
      if (parent == null) {
        return history;
      }
      String parentRoot = connector.execute("journal root", c -> roots.pointerOf(c, parent), null);
      if (parentRoot == null || parentRoot.equals(ChainRoots.NONE) || !read.hop(parent, parentRoot)) {
        return history;
      }
    }
  }

  /** One read of one chain: the pages so far. */
  private final class Read {
    final ChainKey chain;
    LuaScript.Call call;
    String root;
    // The last two name where the next page starts; empty for a first page (of the chain or a hop).
    byte[][] args;
    final List<byte[]> turns = new ArrayList<>(); // newest first, as stored
    @Nullable String last;
    boolean started;
    int hops;

    Read(ChainKey chain, String root) {
      this.chain = chain;
      this.root = root;
      this.call = scripts.history(chain, root);
      this.args = call.args();
    }

    /** Takes one page; returns the history, or null if another page follows. */
    @Nullable ChainHistory page(List<Object> reply) {
      try {
        return take(reply);
      } catch (RuntimeException e) {
        connector.unreadable("history", chain, e);
        return ChainHistory.missingLink(chain, chain, 0);
      }
    }

    /** The parent to read on from after {@code history}, a missing link under this root; else null. */
    @Nullable ChainKey hopFrom(ChainHistory history) {
      ChainKey at = history.status() == ChainHistory.Status.MISSING_LINK ? history.link().orElse(null) : null;
      return at != null && at.kind() == ChainKey.Kind.RESPONSE && hops < MAX_HOPS && !at.equals(chain) ? at : null;
    }

    /** Reads on from {@code parent} under {@code parentRoot}; false if that is where it was missing. */
    boolean hop(ChainKey parent, String parentRoot) {
      if (parentRoot.equals(root) && !root.isEmpty()) {
        return false;
      }
      hops++;
      root = parentRoot;
      call = scripts.history(parent, parentRoot);
      args = call.args();
      return true;
    }

    private @Nullable ChainHistory take(List<Object> reply) {
      String status = text(reply.get(0));
      String link = text(reply.get(1));
      if (status.equals("T")) {
        return ChainHistory.tooLarge(chain, at(link));
      }
      if (!status.equals("M") && !status.equals("P") && !status.equals("C")) {
        throw new IllegalStateException("Unknown history status " + status);
      }
      if (!started) { // the first page names the chain's newest response
        String newest = text(reply.get(3));
        last = newest.isEmpty() ? null : newest;
        started = true;
      }
      for (int i = 6; i < reply.size(); i++) {
        turns.add((byte[]) reply.get(i));
      }
      if (status.equals("M")) {
        return ChainHistory.missingLink(chain, at(link), turns.size());
      }
      if (turns.size() > RedisHistoryJournal.MAX_TURNS) {
        // More links than the newest turn's depth said: a cycle, or links recorded out of order.
        return ChainHistory.tooLarge(chain, chain);
      }
      if (status.equals("C")) {
        return complete((Long) reply.get(4) == 1L ? (byte[]) reply.get(5) : null);
      }
      args[9] = (byte[]) reply.get(1);
      args[10] = (byte[]) reply.get(2);
      return null;
    }

    /** Where the chain stopped: the link named, else the chain itself. */
    private ChainKey at(String link) {
      return link.isEmpty() ? chain : JournalScripts.link(chain.scope(), link);
    }

    private ChainHistory complete(byte @Nullable [] root) {
      List<byte[]> segments = new ArrayList<>(2 * turns.size() + 1);
      long bytes = 0;
      if (root != null) {
        segments.add(root);
        bytes += root.length;
      }
      for (int i = turns.size() - 1; i >= 0; i--) {
        byte[] value = turns.get(i);
        int newline = indexOf(value, (byte) '\n');
        String[] header = new String(value, 0, newline, StandardCharsets.US_ASCII).split(" ");
        int start = newline + 1;
        int inputEnd = start + Integer.parseInt(header[1]);
        segments.add(Arrays.copyOfRange(value, start, inputEnd));
        segments.add(Arrays.copyOfRange(value, inputEnd, value.length));
        bytes += value.length - start;
      }
      if (bytes > maximumBytesPerChain) {
        // Links recorded out of order can pass the bound without being marked.
        return ChainHistory.tooLarge(chain, chain);
      }
      // complete() copies the arrays once more; a history is read only to repair, so that is rare.
      return ChainHistory.complete(chain, segments, last, turns.size());
    }
  }

  private static int indexOf(byte[] bytes, byte b) {
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == b) {
        return i;
      }
    }
    throw new IllegalStateException("Turn record without a header");
  }
}
