package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import com.github.benmanes.caffeine.cache.Interner;
import io.github.affinity4j.core.internal.Names;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * A gateway's affinity cookie, as received in one {@code Set-Cookie}, with the routing facts of the
 * response that carried it. Sending it back pins a request to the backend that set it.
 *
 * <p>The adapter parses the cookie (OkHttp's {@code Cookie.parse}) and copies its fields:
 *
 * <pre>{@code
 * AffinityToken token = AffinityToken.builder()
 *     .name(cookie.name()).value(cookie.value())
 *     .domain(cookie.domain()).hostOnly(cookie.hostOnly()).path(cookie.path())
 *     .expiresAt(cookie.persistent() ? Instant.ofEpochMilli(cookie.expiresAt()) : null)
 *     .secure(cookie.secure())
 *     .seenAt(registry.clock().instant())
 *     .routing(RoutingInfo.from(response::header))
 *     .build();
 * if (token.appliesTo(url.scheme(), url.host(), url.encodedPath(), now)) {
 *   requestBuilder.addHeader("Cookie", token.cookiePair());
 * }
 * }</pre>
 *
 * <p>The value is a credential of sorts: {@link #toString()} shows only its {@link #fingerprint()},
 * and nothing in this library logs it. Immutable and thread-safe.
 *
 * <p>A store holds one token per chain, so tokens are kept small: the name, domain and path
 * strings are shared between equal tokens, and the engine stores each token
 * {@link #forStorage()}, with only the region of its routing facts.
 *
 * <p><b>Bounded in bytes.</b> A store's bound is in keys, and the gateway chooses every string a
 * token holds, so each has a cap: name and value together {@value #MAX_COOKIE_SIZE} characters,
 * domain {@value #MAX_DOMAIN_LENGTH}, path {@value #MAX_PATH_LENGTH}, region
 * {@value RoutingInfo#MAX_REGION_LENGTH} ({@link RoutingInfo} drops a longer one). A cookie over a
 * cap is refused (the adapters skip it with a DEBUG line, as any unusable cookie; a chain then
 * keeps the pin it inherited, if any). A stored token thus holds at most 4 669 characters, under 6 KiB of heap with
 * its objects, whatever the gateway sends; a normal APIM pin (a 40-character value, path
 * {@code /}) costs a few hundred bytes, the path, domain and region being shared.
 *
 * @param name the cookie name, e.g. {@code APIM-Backend-Affinity}
 * @param value the opaque cookie value; never log it
 * @param domain the host or domain the cookie applies to, lower case, without a leading dot; at
 *     most {@value #MAX_DOMAIN_LENGTH} characters
 * @param hostOnly true if the cookie applies to {@code domain} exactly, false if to its subdomains
 *     too (the cookie had a {@code Domain} attribute)
 * @param path the path the cookie applies to, starting with {@code /}; at most
 *     {@value #MAX_PATH_LENGTH} characters
 * @param expiresAt when the cookie expires, or null for a session cookie (one that lasts as long as
 *     the client keeps it)
 * @param secure true if the cookie may be sent only over https
 * @param seenAt when the response that set the cookie was received
 * @param routing the routing facts of that response; {@link RoutingInfo#EMPTY} if none (null is
 *     turned into {@code EMPTY}); its text is capped as {@link RoutingInfo} says
 */
public record AffinityToken(
    String name,
    String value,
    String domain,
    boolean hostOnly,
    String path,
    @Nullable Instant expiresAt,
    boolean secure,
    Instant seenAt,
    RoutingInfo routing) {

  /**
   * The largest cookie, name and value together, that is accepted. RFC 6265 section 6.1 asks user
   * agents to support 4096 bytes per cookie; gateways reject larger ones, so a larger
   * {@code Set-Cookie} is not a pin worth keeping.
   */
  public static final int MAX_COOKIE_SIZE = 4096;

  /**
   * The longest cookie {@code Path} accepted, in characters: 256. Gateways set {@code /} or an API
   * prefix such as {@code /inference/openai}; the default path (RFC 6265 section 5.1.4, the request
   * path up to its last {@code /}) of a Responses API request is shorter still. A longer path is
   * not a pin worth keeping in every chain: the cookie is refused, as one too large is.
   */
  public static final int MAX_PATH_LENGTH = 256;

  /**
   * The longest cookie domain accepted, in characters, after a leading dot is removed: 253, the
   * longest DNS name (RFC 1035 section 2.3.4, without the root's trailing dot). No host a request
   * can reach is longer.
   */
  public static final int MAX_DOMAIN_LENGTH = 253;

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  // Weak, so a string or routing no token uses any more can be collected. A process sees a few
  // cookie names, hosts, paths and regions, shared by every chain it tracks.
  private static final Interner<String> STRINGS = Interner.newWeakInterner();
  private static final Interner<RoutingInfo> REGIONS = Interner.newWeakInterner();

  /**
   * Creates a token.
   *
   * @throws NullPointerException if {@code name}, {@code value}, {@code domain} or {@code seenAt}
   *     is null
   * @throws IllegalArgumentException if the name is not an RFC 6265 token, the value holds a
   *     control character, non-ASCII character or {@code ;}, the cookie exceeds
   *     {@value #MAX_COOKIE_SIZE} characters, the domain is blank or over
   *     {@value #MAX_DOMAIN_LENGTH} characters, or the path does not start with {@code /} or is
   *     over {@value #MAX_PATH_LENGTH} characters. Messages never include the value, nor an
   *     over-long domain or path.
   */
  public AffinityToken {
    requireNonNull(name, "name");
    requireNonNull(value, "value");
    requireNonNull(domain, "domain");
    requireNonNull(seenAt, "seenAt");
    if (!Names.isCookieName(name)) {
      throw new IllegalArgumentException(
          "Cookie name must be an RFC 6265 token (letters, digits, and !#$%&'*+-.^_`|~), got "
              + Names.describe(name));
    }
    if (name.length() + value.length() > MAX_COOKIE_SIZE) {
      throw new IllegalArgumentException("Cookie " + name + " is " + (name.length() + value.length())
          + " characters, over the " + MAX_COOKIE_SIZE + " a gateway must accept; do not bind it");
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x20 || c > 0x7E || c == ';') {
        throw new IllegalArgumentException("Cookie " + name + " has a value with a control, "
            + "non-ASCII or ';' character at index " + i + "; it cannot be sent back in a Cookie header");
      }
    }
    String host = domain.startsWith(".") ? domain.substring(1) : domain;
    if (host.isBlank()) {
      throw new IllegalArgumentException("Cookie domain must not be blank; pass the request host");
    }
    if (host.length() > MAX_DOMAIN_LENGTH) {
      throw new IllegalArgumentException("Cookie " + name + " has a domain of " + host.length()
          + " characters, over the " + MAX_DOMAIN_LENGTH + " of a DNS name; do not bind it");
    }
    if (path == null) {
      path = "/";
    } else if (!path.startsWith("/")) {
      throw new IllegalArgumentException(
          "Cookie path must start with '/', got " + Names.describe(path) + "; pass \"/\" or null");
    } else if (path.length() > MAX_PATH_LENGTH) {
      throw new IllegalArgumentException("Cookie " + name + " has a path of " + path.length()
          + " characters, over the " + MAX_PATH_LENGTH + " kept; do not bind it");
    }
    domain = STRINGS.intern(host.toLowerCase(Locale.ROOT));
    name = STRINGS.intern(name);
    path = STRINGS.intern(path);
    if (routing == null) {
      routing = RoutingInfo.EMPTY;
    }
  }

  /** Returns a builder; {@code name}, {@code value}, {@code domain} and {@code seenAt} are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns a builder initialized with this token's fields. */
  public Builder toBuilder() {
    return new Builder()
        .name(name).value(value).domain(domain).hostOnly(hostOnly).path(path)
        .expiresAt(expiresAt).secure(secure).seenAt(seenAt).routing(routing);
  }

  /**
   * Returns this token as a store keeps it: with only the {@link RoutingInfo#region()} of its
   * routing facts, which is all a chain needs to tell that its backend changed. Request ids and
   * rate-limit counts describe the one response that set the cookie; kept in every chain, they
   * would take more memory than the pin itself. Returns this token if it has nothing more.
   */
  public AffinityToken forStorage() {
    RoutingInfo regionOnly = routing.region() == null ? RoutingInfo.EMPTY
        : REGIONS.intern(new RoutingInfo(STRINGS.intern(routing.region()), null, null, null, null, null));
    return regionOnly == routing ? this
        : new AffinityToken(name, value, domain, hostOnly, path, expiresAt, secure, seenAt, regionOnly);
  }

  /**
   * Returns a short, stable, non-reversible hash of the value: the first 8 hex digits of its
   * SHA-256. Two tokens with the same fingerprint almost certainly carry the same value. Safe to
   * log.
   */
  public String fingerprint() {
    return fingerprintOf(value);
  }

  /**
   * Returns the fingerprint {@link #fingerprint()} gives a token with this value: the first 8 hex
   * digits of the value's SHA-256, for showing any secret value in logs (never the value itself).
   *
   * @throws NullPointerException if {@code value} is null
   */
  public static String fingerprintOf(String value) {
    byte[] hash = sha256(value.getBytes(StandardCharsets.UTF_8));
    char[] out = new char[8];
    for (int i = 0; i < 4; i++) {
      out[2 * i] = HEX[(hash[i] >> 4) & 0xF];
      out[2 * i + 1] = HEX[hash[i] & 0xF];
    }
    return new String(out);
  }

  /** Returns true if the cookie has an expiry and it is at or before {@code now}. */
  public boolean isExpired(Instant now) {
    return expiresAt != null && !expiresAt.isAfter(now);
  }

  /**
   * Returns true if a browser following RFC 6265 would send this cookie with a request to the given
   * URL at {@code now}: not expired, the host domain-matches (exactly, if host-only; never a
   * subdomain of an IP address), the path path-matches (section 5.1.4), and the scheme is https if
   * the cookie is secure. Use it so that a pin never reaches another host.
   *
   * @param scheme the request scheme, e.g. {@code https}
   * @param host the request host, e.g. {@code my-apim.azure-api.net}
   * @param encodedPath the request path without the query, e.g. {@code /openai/v1/responses}; empty
   *     counts as {@code /}
   * @param now the current instant
   */
  public boolean appliesTo(String scheme, String host, String encodedPath, Instant now) {
    return !isExpired(now)
        && (!secure || "https".equalsIgnoreCase(scheme))
        && domainMatches(host)
        && pathMatches(encodedPath == null || encodedPath.isEmpty() ? "/" : encodedPath);
  }

  /** Returns {@code name=value}, ready for a {@code Cookie} header. Contains the value: never log it. */
  public String cookiePair() {
    return name + '=' + value;
  }

  /** Shows the fingerprint instead of the value. */
  @Override
  public String toString() {
    return "AffinityToken[name=" + name
        + ", fingerprint=" + fingerprint()
        + ", domain=" + domain
        + ", hostOnly=" + hostOnly
        + ", path=" + path
        + ", expiresAt=" + expiresAt
        + ", secure=" + secure
        + ", seenAt=" + seenAt
        + ", routing=" + routing
        + ']';
  }

  private boolean domainMatches(String host) {
    if (host == null) {
      return false;
    }
    if (host.equalsIgnoreCase(domain)) {
      return true;
    }
    int start = host.length() - domain.length();
    return !hostOnly
        && start > 0
        && host.charAt(start - 1) == '.'
        && host.regionMatches(true, start, domain, 0, domain.length())
        && !isIpAddress(host);
  }

  private boolean pathMatches(String requestPath) {
    if (!requestPath.startsWith(path)) {
      return false;
    }
    return requestPath.length() == path.length()
        || path.endsWith("/")
        || requestPath.charAt(path.length()) == '/';
  }

  // IPv6 literals contain ':'; IPv4 literals are digits and dots. Neither has subdomains.
  private static boolean isIpAddress(String host) {
    if (host.indexOf(':') >= 0) {
      return true;
    }
    for (int i = 0; i < host.length(); i++) {
      char c = host.charAt(i);
      if (c != '.' && (c < '0' || c > '9')) {
        return false;
      }
    }
    return true;
  }


  private static byte[] sha256(byte[] input) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(input);
    } catch (NoSuchAlgorithmException e) {
      // Every Java platform must provide SHA-256 (MessageDigest Javadoc).
      throw new AssertionError("SHA-256 is missing from this JVM", e);
    }
  }

  /**
   * Builds an {@link AffinityToken}. Defaults: host-only, path {@code /}, session cookie (no
   * expiry), not secure, {@link RoutingInfo#EMPTY}. Not thread-safe.
   */
  public static final class Builder {
    private @Nullable String name;
    private @Nullable String value;
    private @Nullable String domain;
    private boolean hostOnly = true;
    private String path = "/";
    private @Nullable Instant expiresAt;
    private boolean secure;
    private @Nullable Instant seenAt;
    private RoutingInfo routing = RoutingInfo.EMPTY;

    private Builder() {}

    /** Sets the cookie name (required). */
    public Builder name(String name) {
      this.name = requireNonNull(name, "name");
      return this;
    }

    /** Sets the cookie value (required). */
    public Builder value(String value) {
      this.value = requireNonNull(value, "value");
      return this;
    }

    /** Sets the host or domain the cookie applies to (required). */
    public Builder domain(String domain) {
      this.domain = requireNonNull(domain, "domain");
      return this;
    }

    /** Sets whether the cookie applies to {@code domain} only; default true. */
    public Builder hostOnly(boolean hostOnly) {
      this.hostOnly = hostOnly;
      return this;
    }

    /** Sets the cookie path; default {@code /}. */
    public Builder path(String path) {
      this.path = requireNonNull(path, "path");
      return this;
    }

    /** Sets the expiry; null (the default) for a session cookie. */
    public Builder expiresAt(@Nullable Instant expiresAt) {
      this.expiresAt = expiresAt;
      return this;
    }

    /** Sets whether the cookie may be sent over https only; default false. */
    public Builder secure(boolean secure) {
      this.secure = secure;
      return this;
    }

    /** Sets when the cookie was received (required). */
    public Builder seenAt(Instant seenAt) {
      this.seenAt = requireNonNull(seenAt, "seenAt");
      return this;
    }

    /** Sets the routing facts of the response that set the cookie; default {@link RoutingInfo#EMPTY}. */
    public Builder routing(RoutingInfo routing) {
      this.routing = requireNonNull(routing, "routing; pass RoutingInfo.EMPTY if there are none");
      return this;
    }

    /**
     * Builds the token.
     *
     * @throws NullPointerException if {@code name}, {@code value}, {@code domain} or {@code seenAt}
     *     was not set
     * @throws IllegalArgumentException as the canonical constructor does
     */
    public AffinityToken build() {
      requireNonNull(name, "name is required; set the cookie name");
      requireNonNull(value, "value is required; set the cookie value");
      requireNonNull(domain, "domain is required; set the cookie domain or the request host");
      requireNonNull(seenAt, "seenAt is required; set the instant the response was received");
      return new AffinityToken(
          name, value, domain, hostOnly, path, expiresAt, secure, seenAt, routing);
    }
  }
}
