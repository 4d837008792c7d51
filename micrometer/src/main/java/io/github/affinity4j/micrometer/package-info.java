/**
 * Micrometer metrics for affinity4j: {@link io.github.affinity4j.micrometer.AffinityMetrics}, a
 * {@code MeterBinder} over an interceptor's or a wrapper's counters, and
 * {@link io.github.affinity4j.micrometer.RepairMetricsListener} for what only events carry. See
 * {@code docs/metrics.md}.
 */
@NullMarked
package io.github.affinity4j.micrometer;

import org.jspecify.annotations.NullMarked;
