package io.github.affinity4j.micrometer;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;

/**
 * Counts what only repair events carry, for {@link AffinityMetrics}: the items and bytes that
 * replays sent. Every event is passed on to the listener given, if any, so an application keeps
 * its own.
 *
 * <pre>{@code
 * RepairMetricsListener replays = new RepairMetricsListener(myListener);   // or ()
 * AffinityInterceptor interceptor = AffinityInterceptor.builder().listener(replays).build();
 * AffinityMetrics metrics = AffinityMetrics.builder(interceptor).repairListener(replays).build();
 * }</pre>
 *
 * <p>Thread-safe; counting costs two {@link LongAdder} additions per repair.
 */
public final class RepairMetricsListener extends AffinityListener {
  private final AffinityListener delegate;
  private final LongAdder itemsReplayed = new LongAdder();
  private final LongAdder bytesReplayed = new LongAdder();

  /** A listener that only counts. */
  public RepairMetricsListener() {
    this(AffinityListener.NONE);
  }

  /** A listener that counts, then passes every event on to {@code delegate}. */
  public RepairMetricsListener(AffinityListener delegate) {
    this.delegate = requireNonNull(delegate, "delegate; use AffinityListener.NONE for none");
  }

  /** Items of history sent by replays since this listener was made. */
  public long itemsReplayed() {
    return itemsReplayed.sum();
  }

  /** Bytes of replay bodies sent since this listener was made. */
  public long bytesReplayed() {
    return bytesReplayed.sum();
  }

  @Override
  public void repaired(ChainRepair repair) {
    if (repair.replayed()) {
      itemsReplayed.add(repair.itemsReplayed());
      bytesReplayed.add(repair.bytesReplayed());
    }
    delegate.repaired(repair);
  }

  @Override
  public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
    delegate.tokenBound(key, token, inherited);
  }

  @Override
  public void tokenApplied(ChainKey key, AffinityToken token) {
    delegate.tokenApplied(key, token);
  }

  @Override
  public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
    delegate.backendChanged(key, previous, current);
  }

  @Override
  public void repairStarted(@Nullable ChainKey chain, ChainBreak cause) {
    delegate.repairStarted(chain, cause);
  }

  @Override
  public void repairFailed(@Nullable ChainKey chain, ChainBreak cause, String reason) {
    delegate.repairFailed(chain, cause, reason);
  }

  @Override
  public String toString() {
    return "RepairMetricsListener[itemsReplayed=" + itemsReplayed() + ", bytesReplayed="
        + bytesReplayed() + "]";
  }
}
