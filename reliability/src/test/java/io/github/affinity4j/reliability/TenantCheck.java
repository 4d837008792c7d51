package io.github.affinity4j.reliability;

import io.github.affinity4j.testkit.LoggedRequest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Reads a simulator's request log and checks that no byte of one {@link Tenant} reached a request
 * sent with the other's key. Each create-response request is attributed to the tenant whose key it
 * carried (the {@link Tenant#TAGGER}'s query parameter), and each response it created to that
 * tenant. Then:
 *
 * <ul>
 *   <li><b>content</b>: a body holds no marker of the other tenant (first turns, continued turns,
 *       and replays of a history alike);
 *   <li><b>response ids</b>: a request names as {@code previous_response_id} only responses created
 *       for its own tenant, unless it is one of its tenant's deliberate cross-tenant attempts;
 *   <li><b>pins</b>: a request naming the other tenant's response carries no affinity cookie at all
 *       (any pin it carried would be the one bound for the other tenant's chain: the attacker has
 *       no chain of that id); and no request carries a cookie other than its own chain's pin that
 *       was bound only for the other tenant's chains. A cookie value alone does not tell the
 *       tenants apart, since the gateway issues one per backend: the pin is judged by whose
 *       response the request continues.
 * </ul>
 *
 * <p>A cross-tenant attempt that was replayed would hold the victim's history, caught as content;
 * one that carried a pin is caught as a pin. Both are also counted apart, for the attempts' test.
 */
final class TenantCheck {
  private static final int MAX_EXAMPLES = 10;

  /**
   * What the log showed.
   *
   * @param requests create-response requests in the log
   * @param requestsByTenant of those, per tenant whose key they carried
   * @param replaysByTenant of those, requests without {@code previous_response_id} whose body held
   *     earlier turns (a replayed history), per tenant
   * @param crossTenantRequests deliberate attempts sent naming the other tenant's response
   * @param attackReplays requests without {@code previous_response_id} that carried an attempt's
   *     text (an attempt replayed)
   * @param unattributed requests with no tenant's key, or both
   * @param foreignContent requests holding the other tenant's marker
   * @param foreignResponseIds requests naming the other tenant's response outside an attempt
   * @param foreignPins requests carrying a pin of the other tenant's chain
   * @param pinnedAttacks of those, the attempts
   * @param attacksWithForeignContent of the foreign content, the attempts and their replays
   * @param violationExamples up to ten, as text (ids, tenants and fingerprints, never cookie values)
   */
  record Result(long requests, Map<Tenant, Long> requestsByTenant, Map<Tenant, Long> replaysByTenant,
      long crossTenantRequests, long attackReplays, long unattributed, long foreignContent,
      long foreignResponseIds, long foreignPins, long pinnedAttacks, long attacksWithForeignContent,
      List<String> violationExamples) {
    long violations() {
      return unattributed + foreignContent + foreignResponseIds + foreignPins;
    }
  }

  private TenantCheck() {}

  /** Checks the log, oldest first, with bodies. */
  static Result check(List<LoggedRequest> log) {
    Map<String, Tenant> creatorOf = new HashMap<>();
    Map<String, String> pinOf = new HashMap<>();
    Map<String, Set<Tenant>> boundFor = new HashMap<>();
    Map<Tenant, Long> requestsByTenant = new EnumMap<>(Tenant.class);
    Map<Tenant, Long> replaysByTenant = new EnumMap<>(Tenant.class);
    for (Tenant tenant : Tenant.values()) {
      requestsByTenant.put(tenant, 0L);
      replaysByTenant.put(tenant, 0L);
    }
    long requests = 0;
    long crossTenant = 0;
    long attackReplays = 0;
    long unattributed = 0;
    long foreignContent = 0;
    long foreignIds = 0;
    long foreignPins = 0;
    long pinnedAttacks = 0;
    long foreignAttacks = 0;
    List<String> examples = new ArrayList<>();
    for (LoggedRequest request : log) {
      if (!"POST".equals(request.method()) || !Tenant.pathOf(request.path()).endsWith("/responses")) {
        continue;
      }
      requests++;
      Optional<Tenant> tagged = Tenant.taggedIn(request.path());
      if (tagged.isEmpty()) {
        unattributed++;
        example(examples, "a request with no tenant's key (or both)", request);
        continue;
      }
      Tenant tenant = tagged.get();
      Tenant other = tenant.other();
      requestsByTenant.merge(tenant, 1L, Long::sum);
      boolean attack = Tenant.attackerIn(request.body()).filter(tenant::equals).isPresent();
      String previous = request.previousResponseId();
      if (previous == null && PinCheck.countMarkers(request.body()) > 1) {
        replaysByTenant.merge(tenant, 1L, Long::sum);
      }
      if (previous == null && attack) {
        attackReplays++;
      }
      if (Tenant.markedIn(request.body()).contains(other)) {
        foreignContent++;
        if (attack) {
          foreignAttacks++;
        }
        example(examples, "a request with tenant " + tenant + "'s key held tenant " + other + "'s content"
            + (attack ? " (a cross-tenant attempt" + (previous == null ? ", replayed)" : ")") : ""), request);
      }
      Tenant owner = previous == null ? null : creatorOf.get(previous);
      if (owner == other) {
        if (attack) {
          crossTenant++;
        } else {
          foreignIds++;
          example(examples, "a request with tenant " + tenant + "'s key named tenant " + other + "'s response "
              + previous + " outside a cross-tenant attempt", request);
        }
        if (request.hasAffinityCookie()) {
          foreignPins++;
          if (attack) {
            pinnedAttacks++;
          }
          example(examples, "a request with tenant " + tenant + "'s key naming tenant " + other + "'s response "
              + previous + " carried a pin, the one of that chain" + (pinOf.get(previous) != null
                  && request.affinityCookie().equals(pinOf.get(previous)) ? " (its bound pin exactly)" : ""),
              request);
        }
      } else if (request.hasAffinityCookie() && !request.affinityCookie().equals(pinOf.get(previous))) {
        Set<Tenant> bound = boundFor.getOrDefault(request.affinityCookie(), Set.of());
        if (!bound.contains(tenant) && bound.contains(other)) {
          foreignPins++;
          example(examples, "a request with tenant " + tenant + "'s key carried a pin bound only for tenant "
              + other + "'s chains", request);
        }
      }
      if (request.responseId() != null) {
        creatorOf.put(request.responseId(), tenant);
        String pin = request.backendCookie();
        if (pin != null) {
          pinOf.put(request.responseId(), pin);
          boundFor.computeIfAbsent(pin, p -> EnumSet.noneOf(Tenant.class)).add(tenant);
        }
      }
    }
    return new Result(requests, Collections.unmodifiableMap(requestsByTenant),
        Collections.unmodifiableMap(replaysByTenant), crossTenant,
        attackReplays, unattributed, foreignContent, foreignIds, foreignPins, pinnedAttacks, foreignAttacks,
        List.copyOf(examples));
  }

  private static void example(List<String> examples, String problem, LoggedRequest request) {
    if (examples.size() < MAX_EXAMPLES) {
      examples.add(problem + "; " + request);
    }
  }
}
