/**
 * An Azure API Management-like gateway and a pool of stateful Responses API backends on a loopback
 * port, for tests and demos: {@link io.github.affinity4j.testkit.ApimSimulator}.
 *
 * <p>Nothing here is null unless marked {@code @Nullable} (JSpecify), checked by NullAway at
 * build time.
 */
@NullMarked
package io.github.affinity4j.testkit;

import org.jspecify.annotations.NullMarked;
