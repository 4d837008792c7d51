package io.github.affinity4j.reliability;

import io.github.affinity4j.testkit.PinnedBackendMode;

/**
 * Chaos with a gateway that re-routes a pinned request whose backend is lost (APIM's common
 * behaviour): the chain breaks as {@code previous_response_not_found} from another backend.
 */
final class ChaosRerouteTest extends ChaosSuite {
  @Override
  PinnedBackendMode pinnedBackendMode() {
    return PinnedBackendMode.REROUTE;
  }
}
