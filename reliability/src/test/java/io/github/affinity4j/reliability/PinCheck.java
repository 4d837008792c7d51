package io.github.affinity4j.reliability;

import io.github.affinity4j.testkit.LoggedRequest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a simulator's request log and checks that no request carried another conversation's pin or
 * content: a request that continues a response carries exactly the cookie that response is bound
 * to ({@link LoggedRequest#backendCookie()} of the request that created it); a request that starts a
 * chain or replays one carries none; and every conversation marker in a body belongs to the
 * conversation that owns the chain. Requests of a deliberate cross-tenant attempt are left to
 * {@link TenantCheck}; a tagged path ({@link Tenant#TAGGER}) is read without its query.
 */
final class PinCheck {
  private static final Pattern MARKER = Pattern.compile("conversation (\\d+), turn (\\d+)");
  private static final int MAX_EXAMPLES = 10;

  /**
   * What the log showed.
   *
   * @param requests create-response requests in the log, cross-tenant attempts left out
   * @param continued of those, requests with a {@code previous_response_id}
   * @param pinned of those, requests that carried the chain's own pin
   * @param unpinnedContinuations continued requests that carried no pin though their response has one
   * @param fresh requests without {@code previous_response_id} (first turns and replays)
   * @param replays of those, requests whose body held earlier turns (a replayed history)
   * @param violations pins or content from another chain, pins on a new chain; with examples
   * @param violationExamples up to ten, as text (ids and fingerprints, never cookie values)
   */
  record Result(long requests, long continued, long pinned, long unpinnedContinuations, long fresh,
      long replays, long violations, List<String> violationExamples) {}

  private PinCheck() {}

  /**
   * Checks the log.
   *
   * @param log the request log, oldest first, with bodies
   * @param owners the conversation that received each response id the callers saw succeed
   */
  static Result check(List<LoggedRequest> log, Map<String, Integer> owners) {
    Map<String, LoggedRequest> creators = new HashMap<>();
    Map<String, Integer> cookieOwners = new HashMap<>();
    long requests = 0;
    long continued = 0;
    long pinned = 0;
    long unpinned = 0;
    long fresh = 0;
    long replays = 0;
    long violations = 0;
    List<String> examples = new ArrayList<>();
    for (LoggedRequest request : log) {
      if (!"POST".equals(request.method()) || !Tenant.pathOf(request.path()).endsWith("/responses")) {
        continue;
      }
      if (Tenant.attackerIn(request.body()).isPresent()) {
        // A deliberate cross-tenant attempt names another conversation's response on purpose, and
        // owns no chain: TenantCheck judges it.
        if (request.responseId() != null) {
          creators.put(request.responseId(), request);
        }
        continue;
      }
      requests++;
      Set<Integer> conversations = markers(request.body());
      String problem = null;
      String previous = request.previousResponseId();
      if (previous == null) {
        fresh++;
        if (countMarkers(request.body()) > 1) {
          replays++;
        }
        if (request.hasAffinityCookie()) {
          problem = "a request without previous_response_id (new chain or replay) carried a pin"
              + ownerOfCookie(cookieOwners, request.affinityCookie());
        } else if (conversations.size() > 1) {
          problem = "a replay mixed conversations " + conversations;
        }
      } else {
        continued++;
        LoggedRequest creator = creators.get(previous);
        Integer owner = owners.get(previous);
        if (creator == null) {
          problem = "continued " + previous + ", which no earlier request created";
        } else if (owner != null && !(conversations.size() == 1 && conversations.contains(owner))) {
          problem = "continued conversation " + owner + "'s " + previous + " with content of " + conversations;
        } else if (!request.hasAffinityCookie()) {
          if (creator.backendCookie() != null) {
            unpinned++;
          }
        } else if (request.affinityCookie().equals(creator.backendCookie())) {
          pinned++;
        } else {
          problem = "continued " + previous + " (conversation " + owner + ") with another pin"
              + ownerOfCookie(cookieOwners, request.affinityCookie());
        }
      }
      if (problem != null) {
        violations++;
        if (examples.size() < MAX_EXAMPLES) {
          examples.add(problem + "; " + request);
        }
      }
      if (request.responseId() != null) {
        creators.put(request.responseId(), request);
        if (request.issuedCookie() != null && conversations.size() == 1) {
          cookieOwners.put(request.issuedCookie(), conversations.iterator().next());
        }
      }
    }
    return new Result(requests, continued, pinned, unpinned, fresh, replays, violations, List.copyOf(examples));
  }

  private static String ownerOfCookie(Map<String, Integer> cookieOwners, String cookie) {
    Integer owner = cookieOwners.get(cookie);
    return owner == null ? "" : " (issued to conversation " + owner + ")";
  }

  /** The conversation numbers the body's markers name. */
  static Set<Integer> markers(String body) {
    Set<Integer> found = new TreeSet<>();
    if (body == null) {
      return found;
    }
    Matcher matcher = MARKER.matcher(body);
    while (matcher.find()) {
      found.add(Integer.parseInt(matcher.group(1)));
    }
    return found;
  }

  /** How many conversation markers the body holds: more than one in a replayed history. */
  static int countMarkers(String body) {
    if (body == null) {
      return 0;
    }
    int count = 0;
    Matcher matcher = MARKER.matcher(body);
    while (matcher.find()) {
      count++;
    }
    return count;
  }
}
