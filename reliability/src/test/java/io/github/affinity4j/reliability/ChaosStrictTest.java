package io.github.affinity4j.reliability;

import io.github.affinity4j.testkit.PinnedBackendMode;

/**
 * Chaos with a gateway that answers 503 to a pinned request whose backend is lost, rather than
 * re-route it: the chain breaks as "pinned backend unavailable". Conversations layered on the
 * interceptor repair these themselves (the interceptor leaves a request pinned by its caller alone).
 */
final class ChaosStrictTest extends ChaosSuite {
  @Override
  PinnedBackendMode pinnedBackendMode() {
    return PinnedBackendMode.STRICT;
  }
}
