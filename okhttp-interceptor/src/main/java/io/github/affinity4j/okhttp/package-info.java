/**
 * OkHttp adapters of the affinity4j engine: {@link io.github.affinity4j.okhttp.AffinityInterceptor}
 * (pins per response chain, and chain repair), {@link io.github.affinity4j.okhttp.ConversationCookieJar}
 * (one explicit scope), {@link io.github.affinity4j.okhttp.RoutingLogInterceptor} (routing
 * diagnostics) and {@link io.github.affinity4j.okhttp.EntraIdInterceptor} (Entra ID tokens).
 *
 * <p>Nothing here is null unless marked {@code @Nullable} (JSpecify), checked by NullAway at
 * build time.
 */
@NullMarked
package io.github.affinity4j.okhttp;

import org.jspecify.annotations.NullMarked;
