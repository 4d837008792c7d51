/**
 * The affinity4j engine: which backend a chain of Responses API calls is pinned to, with no HTTP
 * library and no SDK.
 *
 * <p>A <em>chain</em> is a sequence of responses linked by {@code previous_response_id}, or a
 * conversation, or an Assistants thread; it is named by a {@link io.github.affinity4j.core.ChainKey}.
 * The gateway's affinity cookie is an {@link io.github.affinity4j.core.AffinityToken}. The
 * {@link io.github.affinity4j.core.internal.ChainRegistry} binds tokens to chain keys in an
 * {@link io.github.affinity4j.core.AffinityStore} and looks them up for requests that continue a
 * chain. {@link io.github.affinity4j.core.internal.ChainKeys} and
 * {@link io.github.affinity4j.core.internal.SseResponseIdScanner} read chain keys out of request and
 * response bodies. Adapters (the OkHttp interceptor, the SDK wrapper) only translate HTTP to and
 * from these types.
 *
 * <p>Chain repair: the {@link io.github.affinity4j.core.internal.ChainRepairer} journals every turn in a
 * {@link io.github.affinity4j.core.HistoryJournal} (read with
 * {@link io.github.affinity4j.core.internal.TurnInput}, {@link io.github.affinity4j.core.internal.TurnOutput} and
 * {@link io.github.affinity4j.core.internal.SseCompletedScanner}), tells a broken chain from other failures
 * ({@link io.github.affinity4j.core.internal.ChainBreaks}), and, per request, through a
 * {@link io.github.affinity4j.core.internal.ChainTurn}, decides whether to retry on the same pin or replay the
 * chain's history elsewhere ({@link io.github.affinity4j.core.RepairPolicy},
 * {@link io.github.affinity4j.core.internal.RepairDecision}). A failure it does not repair reaches the caller
 * naming the chain: in the error's message, or as a {@link io.github.affinity4j.core.ChainNote}.
 *
 * <p>Nothing here is null unless marked {@code @Nullable} (JSpecify), checked by NullAway at
 * build time.
 */
@NullMarked
package io.github.affinity4j.core;

import io.github.affinity4j.core.internal.ChainBreaks;
import io.github.affinity4j.core.internal.ChainKeys;
import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.core.internal.ChainRepairer;
import io.github.affinity4j.core.internal.ChainTurn;
import io.github.affinity4j.core.internal.RepairDecision;
import io.github.affinity4j.core.internal.SseCompletedScanner;
import io.github.affinity4j.core.internal.SseResponseIdScanner;
import io.github.affinity4j.core.internal.TurnInput;
import io.github.affinity4j.core.internal.TurnOutput;
import org.jspecify.annotations.NullMarked;
