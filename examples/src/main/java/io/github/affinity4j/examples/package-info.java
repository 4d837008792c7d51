/**
 * Runnable examples, the {@code demo} and {@code probe} commands of
 * {@code affinity4j-examples.jar} ({@link io.github.affinity4j.examples.Main}). Not published.
 *
 * <p>Nothing here is null unless marked {@code @Nullable} (JSpecify), checked by NullAway at
 * build time.
 */
@NullMarked
package io.github.affinity4j.examples;

import org.jspecify.annotations.NullMarked;
