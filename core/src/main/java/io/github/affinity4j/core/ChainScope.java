package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.github.benmanes.caffeine.cache.Interner;
import io.github.affinity4j.core.internal.Json;
import io.github.affinity4j.core.internal.TurnInput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Locale;
import java.util.TreeSet;
import java.util.function.Function;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jspecify.annotations.Nullable;

/**
 * Whom a chain belongs to: the origin its ids were learned from (scheme, host, port and the API's
 * base path) and a fingerprint of the caller's identity. Every pin and journal entry is kept under
 * its scope, so a response id, which is not a secret, unlocks nothing from another gateway or
 * another credential: a lookup, a replay or a resume from another scope finds nothing, and an id
 * learned from another origin never overwrites a chain.
 *
 * <pre>{@code
 * ChainScope scope = ChainScope.builder()
 *     .origin("https", "my-apim.azure-api.net", 443, "/inference/openai/v1")
 *     .credentials(request::header)             // api-key, Ocp-Apim-Subscription-Key, Authorization
 *     .build();
 * ChainKey key = ChainKey.response("resp_1").in(scope);
 * }</pre>
 *
 * <p>The identity is, in this order of preference: a tenant key the application supplies; else
 * the credentials a request carries: {@code api-key}, {@code Ocp-Apim-Subscription-Key} and
 * {@code Authorization}, each distinct value once (a key sent in two headers is one identity). A bearer token that is a JWT with a tenant and subject claim
 * ({@code tid}/{@code iss} and {@code oid}/{@code sub}) is identified by those claims, so a
 * rotating Entra ID token keeps its chains; any other token by its whole value. A request without
 * credentials has the origin alone. Only an HMAC-SHA256 of all this, keyed with
 * {@link Builder#secret(byte[])}, is kept: {@link #key()}, {@value #KEY_LENGTH} characters. The
 * secret itself never is.
 *
 * <p>Immutable and thread-safe; equal scopes are one instance while in use. {@link #toString()}
 * shows the origin and the start of the key, never a credential.
 */
public final class ChainScope {

  /** Length of {@link #key()}: 132 bits of the HMAC, base64url. */
  public static final int KEY_LENGTH = 22;

  /** The scope of keys made without one: tests, and stores written before scopes existed. */
  public static final ChainScope NONE = new ChainScope("", "(unscoped)");

  /** The longest origin kept for logs; the key covers the whole of it. */
  static final int MAX_ORIGIN_SHOWN = 128;

  // A JWT larger than this is identified by its whole value, not decoded.
  private static final int MAX_JWT_LENGTH = 16 * 1024;

  private static final byte[] DEFAULT_SECRET = "affinity4j chain scope v1".getBytes(StandardCharsets.US_ASCII);

  private static final Interner<ChainScope> SCOPES = Interner.newWeakInterner();

  private final String key;
  private final String origin;

  private ChainScope(String key, String origin) {
    this.key = key;
    this.origin = origin;
  }

  /** Returns a builder; {@link Builder#origin} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Returns the fingerprint that stores key chains by; empty for {@link #NONE}. */
  public String key() {
    return key;
  }

  /** Returns the origin, {@code scheme://host:port/base/path}, cut to 128 characters; for logs. */
  public String origin() {
    return origin;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ChainScope other && key.equals(other.key);
  }

  @Override
  public int hashCode() {
    return key.hashCode();
  }

  @Override
  public String toString() {
    return this == NONE || key.isEmpty() ? "ChainScope[none]"
        : "ChainScope[" + origin + ", " + key.substring(0, 8) + "...]"; // ASCII: logs may not be UTF-8
  }

  /**
   * The stable part of a bearer token: {@code jwt:iss|tid|oid-or-sub} for a JWT that has them,
   * else the token itself. The claims are not verified here; the gateway verifies the token, and a
   * request it refuses neither learns nor repairs a chain.
   */
  static String bearerIdentity(String authorization) {
    String token = authorization.regionMatches(true, 0, "Bearer ", 0, 7)
        ? authorization.substring(7).strip() : authorization;
    int first = token.indexOf('.');
    int second = first < 0 ? -1 : token.indexOf('.', first + 1);
    if (second < 0 || token.length() > MAX_JWT_LENGTH) {
      return authorization;
    }
    byte[] payload;
    try {
      payload = Base64.getUrlDecoder().decode(token.substring(first + 1, second));
    } catch (IllegalArgumentException e) {
      return authorization;
    }
    String iss = null;
    String tid = null;
    String oid = null;
    String sub = null;
    try (JsonParser parser = Json.FACTORY.createParser(payload)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return authorization;
      }
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        String text = value == JsonToken.VALUE_STRING ? parser.getText() : null;
        switch (field) {
          case "iss" -> iss = text;
          case "tid" -> tid = text;
          case "oid" -> oid = text;
          case "sub" -> sub = text;
          default -> parser.skipChildren();
        }
      }
    } catch (IOException e) {
      return authorization;
    }
    String tenant = tid != null ? tid : iss;
    String subject = oid != null ? oid : sub;
    if (tenant == null || subject == null) {
      return authorization;
    }
    return "jwt:" + (iss == null ? "" : iss) + '|' + tenant + '|' + subject;
  }

  /** Builds a {@link ChainScope}. Not thread-safe; cheap enough to build one per request. */
  public static final class Builder {
    private byte[] secret = DEFAULT_SECRET;
    private @Nullable String origin;
    private @Nullable String tenant;
    private @Nullable Function<String, @Nullable String> headers;

    private Builder() {}

    /**
     * Sets the key of the HMAC that fingerprints identities. Every process that shares a store must
     * use the same one. Default: a fixed, public key; since API keys are long random strings, their
     * fingerprints still cannot be reversed, but set a secret of your own to make fingerprints of
     * weaker identities (a tenant name, JWT claims) unguessable to whoever can read the store.
     *
     * @throws IllegalArgumentException if shorter than 16 bytes
     */
    public Builder secret(byte[] secret) {
      requireNonNull(secret, "secret");
      if (secret.length < 16) {
        throw new IllegalArgumentException("secret must be at least 16 bytes, got " + secret.length);
      }
      this.secret = secret.clone();
      return this;
    }

    /**
     * Sets the origin the chain's ids come from (required).
     *
     * @param scheme {@code http} or {@code https}
     * @param host the host, as the URL gives it
     * @param port the port; the scheme's default port counts as given
     * @param basePath the path before {@code /responses} (see {@code TurnInput.basePath}); empty
     *     or null for none
     */
    public Builder origin(String scheme, String host, int port, @Nullable String basePath) {
      requireNonNull(scheme, "scheme");
      requireNonNull(host, "host");
      String path = basePath == null || basePath.isEmpty() || "/".equals(basePath) ? "" : basePath;
      this.origin = scheme.toLowerCase(Locale.ROOT) + "://" + host.toLowerCase(Locale.ROOT) + ':' + port + path;
      return this;
    }

    /**
     * Sets where to read the request's credentials: a function from header name to its value
     * (null if absent). Ignored when a {@link #tenant} is set.
     */
    public Builder credentials(Function<String, @Nullable String> headers) {
      this.headers = headers;
      return this;
    }

    /**
     * Sets the identity the application supplies, which replaces the credentials: use it when one
     * credential serves several tenants, or credentials rotate in a way this class cannot follow.
     * Null for none.
     */
    public Builder tenant(@Nullable String tenant) {
      this.tenant = tenant;
      return this;
    }

    /**
     * Builds the scope.
     *
     * @throws NullPointerException if no origin was set
     */
    public ChainScope build() {
      requireNonNull(origin, "origin is required; set the scheme, host, port and base path");
      StringBuilder material = new StringBuilder(origin).append('\n');
      if (tenant != null) {
        material.append("tenant\n").append(tenant);
      } else if (headers != null) {
        // The distinct credentials, in a fixed order: a key sent both as api-key and as
        // Ocp-Apim-Subscription-Key (as AffinityOpenAI does) is one identity, seen by the SDK's
        // options and by an interceptor alike.
        TreeSet<String> credentials = new TreeSet<>();
        addIfPresent(credentials, headers.apply("api-key"));
        addIfPresent(credentials, headers.apply("Ocp-Apim-Subscription-Key"));
        String authorization = headers.apply("Authorization");
        addIfPresent(credentials, authorization == null ? null : bearerIdentity(authorization));
        credentials.forEach(credential -> material.append(credential).append('\n'));
      }
      String key = hmac(secret, material);
      String shown = origin.length() <= MAX_ORIGIN_SHOWN ? origin
          : origin.substring(0, MAX_ORIGIN_SHOWN - 3) + "...";
      return SCOPES.intern(new ChainScope(key, shown));
    }

    private static void addIfPresent(TreeSet<String> credentials, @Nullable String value) {
      if (value != null && !value.isEmpty()) {
        credentials.add(value);
      }
    }

    private static String hmac(byte[] secret, CharSequence material) {
      byte[] digest = KeyedMac.of(secret).doFinal(material.toString().getBytes(StandardCharsets.UTF_8));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(digest).substring(0, KEY_LENGTH);
    }
  }

  /**
   * One initialised {@code Mac} per thread, for the secret it last served: a scope is made per
   * request, and {@code Mac.getInstance} with {@code init} costs several times the hash itself.
   */
  private static final class KeyedMac {
    private static final ThreadLocal<KeyedMac> LAST = new ThreadLocal<>();

    private final byte[] secret;
    private final Mac mac;

    private KeyedMac(byte[] secret, Mac mac) {
      this.secret = secret;
      this.mac = mac;
    }

    static Mac of(byte[] secret) {
      KeyedMac last = LAST.get();
      if (last != null && Arrays.equals(last.secret, secret)) {
        return last.mac;
      }
      try {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(secret, "HmacSHA256"));
        LAST.set(new KeyedMac(secret.clone(), mac));
        return mac;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("HmacSHA256 is required of every Java platform", e);
      }
    }
  }
}
