package io.github.affinity4j.core.internal;

import org.jspecify.annotations.Nullable;

/** Checks and descriptions of names and ids from the wire. Not API. Stateless and thread-safe. */
public final class Names {
  private Names() {}

  /** Describes an invalid id without echoing it: it may be huge or binary. */
  public static String describe(@Nullable String id) {
    return id == null ? "null" : "a string of length " + id.length();
  }

  /** Whether {@code name} is a cookie name (an RFC 6265 token). */
  public static boolean isCookieName(String name) {
    if (name.isEmpty()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
      if (!ok) {
        return false;
      }
    }
    return true;
  }
}
