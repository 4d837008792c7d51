/**
 * Implementation detail of the OkHttp adapters, shared by them; not an API, left out of the
 * Javadoc, and may change at any time.
 */
@NullMarked
package io.github.affinity4j.okhttp.internal;

import org.jspecify.annotations.NullMarked;
