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
   */
  @Nullable ChainHistory read(ChainKey chain) {
    String root = roots.isCluster() ? connector.execute("journal root", c -> roots.rootOf(c, chain), null) : "";
    if (root == null) {
      return null;
    }
    if (root.equals(ChainRoots.NONE) && roots.isCluster()) {
      return ChainHistory.missingLink(chain, chain, 0); // no turn of that response was recorded
    }
    Read read = new Read(chain, scripts.history(chain, root));
    while (true) {
      List<Object> reply = connector.executeSlow("journal history",
          commands -> read.call.<List<Object>>run(commands), null);
      if (reply == null) {
        // The connector fell back: the script never ran or did not answer, so Redis said nothing
        // about this chain.
        return null;
      }
      ChainHistory history = read.page(reply);
      if (history != null) {
        return history;
      }
    }
  }

  /** One read of one chain: the pages so far. */
  private final class Read {
    final ChainKey chain;
    final LuaScript.Call call;
    // The last two name where the next page starts; empty for the first.
    final byte[][] args;
    final List<byte[]> turns = new ArrayList<>(); // newest first, as stored
    @Nullable String last;

    Read(ChainKey chain, LuaScript.Call call) {
      this.chain = chain;
      this.call = call;
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

    private @Nullable ChainHistory take(List<Object> reply) {
      String status = text(reply.get(0));
      String link = text(reply.get(1));
      switch (status) {
        case "M":
          return ChainHistory.missingLink(chain, at(link), turns.size() + Math.toIntExact((Long) reply.get(4)));
        case "T":
          return ChainHistory.tooLarge(chain, at(link));
        case "P":
        case "C":
          break;
        default:
          throw new IllegalStateException("Unknown history status " + status);
      }
      if (args[9].length == 0) { // the first page names the chain's newest response
        String newest = text(reply.get(3));
        last = newest.isEmpty() ? null : newest;
      }
      for (int i = 6; i < reply.size(); i++) {
        turns.add((byte[]) reply.get(i));
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
