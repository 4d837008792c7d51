/**
 * affinity4j's core API: what users and store or journal authors need, with no HTTP library and
 * no SDK.
 *
 * <p>A <em>chain</em> is a sequence of responses linked by {@code previous_response_id}, or a
 * conversation, or an Assistants thread, named by a {@link io.github.affinity4j.core.ChainKey} in a
 * {@link io.github.affinity4j.core.ChainScope} (the origin and identity that made it). The gateway's
 * affinity cookie is an {@link io.github.affinity4j.core.AffinityToken}, kept per chain in an
 * {@link io.github.affinity4j.core.AffinityStore}; every turn is kept in a
 * {@link io.github.affinity4j.core.HistoryJournal} as a {@link io.github.affinity4j.core.JournalTurn},
 * read back as a {@link io.github.affinity4j.core.ChainHistory} when a chain is repaired. Caffeine
 * defaults: {@link io.github.affinity4j.core.CaffeineAffinityStore},
 * {@link io.github.affinity4j.core.CaffeineHistoryJournal}.
 *
 * <p>What happens is told by {@link io.github.affinity4j.core.AffinityListener} events, counted in
 * {@link io.github.affinity4j.core.AffinityStats} and {@link io.github.affinity4j.core.RepairStats},
 * with {@link io.github.affinity4j.core.RoutingInfo} for where a response came from and
 * {@link io.github.affinity4j.core.ChainBreak} for what broke. A failure passed on without repair
 * carries a {@link io.github.affinity4j.core.ChainNote}. {@link io.github.affinity4j.core.RepairPolicy}
 * says what to do when a chain breaks.
 *
 * <p>The engine itself (one {@code Engine}, a {@code Turn} per request, the wire readers) lives in
 * {@code io.github.affinity4j.core.internal}: not API, and it may change in any release. The
 * adapters ({@code AffinityInterceptor}, {@code AffinityConversations}) are its only callers.
 *
 * <p>Nothing here is null unless marked {@code @Nullable} (JSpecify), checked by NullAway at
 * build time.
 */
@NullMarked
package io.github.affinity4j.core;

import org.jspecify.annotations.NullMarked;
