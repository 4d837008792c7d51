package io.github.affinity4j.redis;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * The pins a {@link RedisAffinityStore} keeps in this process, to answer while Redis is
 * unavailable: those this instance bound or looked up recently, under their Redis keys (so in their
 * scope), as the bytes Redis holds; bounded in entries and bytes, expiring after access as the
 * store does. And which keys were bound or removed while Redis was unavailable (bounded too), to
 * send them to Redis once it answers. Thread-safe.
 */
final class FallbackStore {

  /** About what an entry costs besides its key's and value's characters: the objects and the cache's node. */
  static final int ENTRY_OVERHEAD = 128;

  private final long maximumSize;
  private final Cache<String, byte[]> pins;
  // A key bound or removed while Redis was unavailable, not yet sent. A Change is compared by
  // identity, so a change made while an earlier one was being sent is never taken for it.
  private final Map<String, Change> pending = new ConcurrentHashMap<>();

  FallbackStore(long maximumSize, long maximumBytes, Duration expireAfterAccess) {
    this.maximumSize = maximumSize;
    long floor = (maximumBytes + maximumSize - 1) / maximumSize;
    this.pins = Caffeine.newBuilder()
        .maximumWeight(maximumBytes)
        .weigher((String key, byte[] value) ->
            (int) Math.min(Integer.MAX_VALUE, Math.max(floor, ENTRY_OVERHEAD + key.length() + value.length)))
        .expireAfterAccess(expireAfterAccess)
        .executor(Runnable::run)
        .build();
  }

  /** Returns the pin kept under {@code key}, or null; an access for expiry. */
  byte @Nullable [] get(String key) {
    return pins.getIfPresent(key);
  }

  /** Mirrors what Redis holds now: {@code value}, or nothing if null. Supersedes a pending change. */
  void mirror(String key, byte @Nullable [] value) {
    if (value == null) {
      pins.invalidate(key);
    } else {
      pins.put(key, value);
    }
    pending.remove(key);
  }

  /**
   * Keeps a change Redis could not take: a bind ({@code value}) or a removal (null), to send later.
   *
   * @return false if too many changes wait already: this one stays local
   */
  boolean keep(String key, byte @Nullable [] value) {
    if (value == null) {
      pins.invalidate(key);
    } else {
      pins.put(key, value);
    }
    if (pending.size() >= maximumSize && !pending.containsKey(key)) {
      return false;
    }
    pending.put(key, new Change(value != null));
    return true;
  }

  /** Returns true if a change of {@code key} waits to be sent: it is newer than what Redis holds. */
  boolean isPending(String key) {
    return pending.containsKey(key);
  }

  boolean hasPending() {
    return !pending.isEmpty();
  }

  int pendingCount() {
    return pending.size();
  }

  /** Up to {@code max} waiting changes. */
  List<Map.Entry<String, Change>> pending(int max) {
    List<Map.Entry<String, Change>> batch = new ArrayList<>(Math.min(max, pending.size()));
    for (Map.Entry<String, Change> entry : pending.entrySet()) {
      if (batch.size() == max) {
        break;
      }
      batch.add(Map.entry(entry.getKey(), entry.getValue()));
    }
    return batch;
  }

  /** The value to send for a waiting bind, without counting as an access; null if evicted since. */
  byte @Nullable [] peek(String key) {
    return pins.policy().getIfPresentQuietly(key);
  }

  /** The change was sent; drops it unless another one replaced it meanwhile. */
  void sent(String key, Change change) {
    pending.remove(key, change);
  }

  long size() {
    return pins.estimatedSize();
  }

  void clear() {
    pins.invalidateAll();
    pending.clear();
  }

  /** A bind or a removal waiting for Redis. Equal only to itself. */
  static final class Change {
    final boolean bound;

    Change(boolean bound) {
      this.bound = bound;
    }
  }
}
