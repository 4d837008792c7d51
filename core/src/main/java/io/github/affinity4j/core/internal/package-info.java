/**
 * Engine internals shared by affinity4j's own modules: not API, may change in any release.
 *
 * <p>Public only because the adapters in other packages need them; left out of the Javadoc.
 */
@NullMarked
package io.github.affinity4j.core.internal;

import org.jspecify.annotations.NullMarked;
