package io.github.affinity4j.examples;

import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.RoutingInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import okhttp3.Cookie;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * Watches the HTTP exchanges and the affinity4j events of one turn at a time, so that a turn can
 * be shown with its region, request ids, pin and repair. Install {@link #interceptor()} as the
 * last application interceptor of the SDK's client (inside {@code AffinityInterceptor}, so it sees
 * the pin as sent and every attempt of a repair), and {@link #listener()} on the
 * {@code AffinityInterceptor}.
 *
 * <p>A turn is scoped to a thread: {@link #begin()} and {@link #end()} bracket one synchronous SDK
 * call (OkHttp runs a synchronous call's interceptors, and affinity4j its events, on the caller's
 * thread). Cookie values are never kept: only their fingerprints, and the names of the cookies
 * the answers set ({@link #cookieNamesSeen()}). Thread-safe.
 */
final class TurnRecorder {
  /** The most distinct cookie names kept: names come from the wire. */
  static final int MAX_NAMES_SEEN = 16;
  /** The longest cookie name kept whole; a longer one is cut. */
  static final int MAX_NAME_CHARS = 64;
  private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

  private final Set<String> cookieNames;
  private final ThreadLocal<Observed> current = new ThreadLocal<>();
  /** Guarded by itself. */
  private final Set<String> namesSeen = new LinkedHashSet<>();

  TurnRecorder(Set<String> cookieNames) {
    this.cookieNames = Set.copyOf(cookieNames);
  }

  /** One HTTP attempt: its status (0 for an I/O failure), routing headers and pins. */
  record Exchange(
      int status, RoutingInfo routing, @Nullable String pinSent, @Nullable String pinSet) {}

  /** What one turn's SDK call did. */
  static final class Observed {
    final List<Exchange> exchanges = new ArrayList<>();
    /** The repair affinity4j made during the turn; null if none. */
    @Nullable ChainRepair repair;

    /** The turn's last HTTP attempt; null if it made none. */
    @Nullable Exchange last() {
      return exchanges.isEmpty() ? null : exchanges.get(exchanges.size() - 1);
    }
  }

  /** Starts recording a turn on this thread. */
  void begin() {
    current.set(new Observed());
  }

  /** Stops recording the turn of this thread and returns what it did. */
  Observed end() {
    Observed observed = current.get();
    current.remove();
    return observed == null ? new Observed() : observed;
  }

  /**
   * The names of the cookies the answers set so far, in the order first seen: names only, only
   * those that are cookie-name tokens, at most {@value #MAX_NAMES_SEEN}, each cut to
   * {@value #MAX_NAME_CHARS} characters.
   */
  List<String> cookieNamesSeen() {
    synchronized (namesSeen) {
      return List.copyOf(namesSeen);
    }
  }

  /** The tap: records every attempt of the turn under way on the calling thread. */
  Interceptor interceptor() {
    return this::intercept;
  }

  /** Records the repairs of the turn under way on the calling thread. */
  AffinityListener listener() {
    return new AffinityListener() {
      @Override
      public void repaired(ChainRepair repair) {
        Observed observed = current.get();
        if (observed != null) {
          observed.repair = repair;
        }
      }
    };
  }

  private Response intercept(Interceptor.Chain chain) throws IOException {
    Request request = chain.request();
    String sent = pinSent(request);
    Response response;
    try {
      response = chain.proceed(request);
    } catch (IOException e) {
      record(new Exchange(0, RoutingInfo.EMPTY, sent, null));
      throw e;
    }
    String set = null;
    for (Cookie cookie : Cookie.parseAll(request.url(), response.headers())) {
      seen(cookie.name());
      if (cookieNames.contains(cookie.name())) {
        set = AffinityToken.fingerprintOf(cookie.value());
      }
    }
    record(new Exchange(response.code(), RoutingInfo.from(response::header), sent, set));
    return response;
  }

  private void seen(String name) {
    if (!TOKEN.matcher(name).matches()) {
      return;
    }
    String kept = name.length() <= MAX_NAME_CHARS ? name : name.substring(0, MAX_NAME_CHARS) + "...";
    synchronized (namesSeen) {
      if (namesSeen.size() < MAX_NAMES_SEEN) {
        namesSeen.add(kept);
      }
    }
  }

  private void record(Exchange exchange) {
    Observed observed = current.get();
    if (observed != null) {
      observed.exchanges.add(exchange);
    }
  }

  /** The fingerprint of the affinity cookie in the request's Cookie headers, or null. */
  private @Nullable String pinSent(Request request) {
    for (String header : request.headers("Cookie")) {
      for (String pair : header.split(";")) {
        int eq = pair.indexOf('=');
        if (eq > 0 && cookieNames.contains(pair.substring(0, eq).trim())) {
          return AffinityToken.fingerprintOf(pair.substring(eq + 1).trim());
        }
      }
    }
    return null;
  }
}
