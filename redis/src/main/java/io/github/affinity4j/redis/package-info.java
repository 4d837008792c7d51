/**
 * Shared state for applications that run on many machines: a Redis-backed
 * {@link io.github.affinity4j.core.AffinityStore} ({@link io.github.affinity4j.redis.RedisAffinityStore})
 * and {@link io.github.affinity4j.core.HistoryJournal}
 * ({@link io.github.affinity4j.redis.RedisHistoryJournal}), sharing one
 * {@link io.github.affinity4j.redis.RedisConnector}, so that any instance continues, and repairs, a
 * chain any other instance started: on one Redis, behind Sentinel, or on a Redis Cluster (every
 * key a script touches lies in its chain's hash slot). Every key holds the chain's
 * {@link io.github.affinity4j.core.ChainScope} key, so tenants sharing one Redis never meet; each
 * instance keeps a bounded local fallback of its own recent pins and turns, so its chains survive a
 * Redis outage.
 *
 * <p>Nothing here is null unless marked {@code @Nullable} (JSpecify), checked by NullAway at
 * build time.
 */
@NullMarked
package io.github.affinity4j.redis;

import org.jspecify.annotations.NullMarked;
