package io.github.affinity4j.reliability;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.Request;

/**
 * The two tenants of a chaos run: two API keys whose conversations share one interceptor, one
 * store and one journal, as two customers of one application (or two instances on one Redis) do.
 *
 * <p>Every text a tenant sends begins with its marker ({@code tenant-A …}), so a request body shows
 * whose content it carries. Which key a request was sent with the simulator does not log; the
 * {@link #TAGGER}, a network interceptor, reads the credential header each request carries on the
 * wire and adds a query parameter naming its tenant, which the simulator logs with the path. It
 * runs below every application interceptor (the {@code AffinityInterceptor} never sees the
 * parameter, so the scopes it computes are those of the untagged URL) and changes nothing else.
 */
enum Tenant {
  A, B;

  /** The query parameter the {@link #TAGGER} adds: {@code A}, {@code B}, {@code none} or {@code mixed}. */
  static final String TAG_PARAMETER = "chaos-tenant";

  private static final Pattern MARKER = Pattern.compile("tenant-([AB])\\b");
  private static final Pattern ATTACK = Pattern.compile("tenant-([AB]) attack \\d+");
  private static final Pattern TAG = Pattern.compile("[?&]" + TAG_PARAMETER + "=([^&]*)");

  /**
   * Labels each request with the tenant whose key it carries ({@code api-key} or
   * {@code Authorization}), as the query parameter {@value #TAG_PARAMETER}. Install it on the
   * OkHttp client with {@code addNetworkInterceptor}: it sees the headers as they are sent.
   */
  static final Interceptor TAGGER = chain -> {
    Request request = chain.request();
    Set<Tenant> keys = EnumSet.noneOf(Tenant.class);
    for (String header : new String[] {"api-key", "Authorization"}) {
      for (String value : request.headers(header)) {
        ofCredential(value).ifPresent(keys::add);
      }
    }
    String label = keys.size() == 1 ? keys.iterator().next().name() : keys.isEmpty() ? "none" : "mixed";
    HttpUrl tagged = request.url().newBuilder().setQueryParameter(TAG_PARAMETER, label).build();
    return chain.proceed(request.newBuilder().url(tagged).build());
  };

  /** The tenant's API key; the only thing that tells the tenants apart on a shared origin. */
  String apiKey() {
    return "chaos-key-tenant-" + name().toLowerCase(Locale.ROOT);
  }

  /** What every text the tenant sends begins with. */
  String marker() {
    return "tenant-" + name();
  }

  /**
   * The text of the tenant's {@code n}-th cross-tenant attempt: the only request allowed to name
   * the other tenant's response, since the attacker named it itself.
   */
  String attackText(long n) {
    return marker() + " attack " + n;
  }

  /**
   * The text of a turn sent on a conversation the tenant's wrapper resumed from the other
   * tenant's response id (which it must refuse): not an attempt's text, since the library chose
   * what that request names and carries.
   */
  String resumedText(long n) {
    return marker() + " resumed " + n;
  }

  Tenant other() {
    return this == A ? B : A;
  }

  /**
   * The tenant of conversation {@code n}: tenants alternate in blocks as long as
   * {@link ChaosRun.Style}'s values, so each tenant has conversations of every style.
   */
  static Tenant ofConversation(int conversation) {
    return conversation < 0 ? A : values()[(conversation / ChaosRun.Style.values().length) % 2];
  }

  /** The tenants whose markers the body holds. */
  static Set<Tenant> markedIn(String body) {
    Set<Tenant> found = EnumSet.noneOf(Tenant.class);
    if (body != null) {
      Matcher matcher = MARKER.matcher(body);
      while (matcher.find()) {
        found.add(valueOf(matcher.group(1)));
      }
    }
    return found;
  }

  /** The tenant whose cross-tenant attempt the body is (or replays), if it is one. */
  static Optional<Tenant> attackerIn(String body) {
    if (body == null) {
      return Optional.empty();
    }
    Matcher matcher = ATTACK.matcher(body);
    return matcher.find() ? Optional.of(valueOf(matcher.group(1))) : Optional.empty();
  }

  /** The tenant a logged path and query was tagged with; empty when untagged, none or mixed. */
  static Optional<Tenant> taggedIn(String pathAndQuery) {
    Matcher matcher = TAG.matcher(pathAndQuery);
    if (!matcher.find()) {
      return Optional.empty();
    }
    String label = matcher.group(1);
    return label.equals("A") ? Optional.of(A) : label.equals("B") ? Optional.of(B) : Optional.empty();
  }

  /** The path of a logged path and query, without the query. */
  static String pathOf(String pathAndQuery) {
    int query = pathAndQuery.indexOf('?');
    return query < 0 ? pathAndQuery : pathAndQuery.substring(0, query);
  }

  /** The tenant whose key a credential header's value carries ({@code Bearer <key>} or the key). */
  static Optional<Tenant> ofCredential(String value) {
    String key = value.regionMatches(true, 0, "Bearer ", 0, 7) ? value.substring(7).strip() : value.strip();
    for (Tenant tenant : values()) {
      if (tenant.apiKey().equals(key)) {
        return Optional.of(tenant);
      }
    }
    return Optional.empty();
  }
}
