package io.github.affinity4j.okhttp;

import static java.util.Objects.requireNonNull;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import okhttp3.Interceptor;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An OkHttp interceptor that authenticates every request with a Microsoft Entra ID bearer token
 * from an azure-identity {@link TokenCredential}, for gateways (APIM, Azure OpenAI) that accept
 * Entra ID instead of keys.
 *
 * <pre>{@code
 * TokenCredential credential = new DefaultAzureCredentialBuilder().build();
 * OkHttpClient http = new OkHttpClient.Builder()
 *     .addInterceptor(EntraIdInterceptor.builder(credential).build())
 *     .build();
 * }</pre>
 *
 * <p>Each request gets {@code Authorization: Bearer <token>}, replacing any {@code Authorization}
 * header it had. The token, for scope {@value #DEFAULT_SCOPE} unless
 * {@link Builder#scopes(String...)} says otherwise, is cached until
 * {@link Builder#refreshBeforeExpiry(Duration)} (default 5 minutes) before it expires, or until the
 * credential's own refresh hint ({@link AccessToken#getRefreshAt()}) if that is earlier. Then one
 * caller fetches a new one while the others keep using the current token; only callers without a
 * usable token wait, all of them for that one fetch. If a refresh fails while the current token
 * is still valid, that token is kept (one WARN) and the next attempt comes at most 30 seconds
 * later. A token shorter-lived than the margin is used for half its remaining life.
 *
 * <p>A credential failure becomes an {@link IOException} naming the scopes and the credential's
 * class, with the credential's exception as cause; so does a token a header cannot carry. The
 * token itself is never logged, never put in an exception message and never shown by
 * {@link #toString()}.
 *
 * <p>Requires {@code com.azure:azure-identity} (or just {@code azure-core}) on the classpath, an
 * optional dependency of this module: the module's other classes never touch it. Thread-safe; one
 * instance may serve many clients and shares one token among them.
 */
public final class EntraIdInterceptor implements Interceptor {
  /** The scope of Azure OpenAI and Azure AI services. */
  public static final String DEFAULT_SCOPE = "https://cognitiveservices.azure.com/.default";
  /**
   * Refresh this long before expiry unless configured: azure-core's own token cache uses the same
   * margin. Entra ID access tokens live 60 to 90 minutes, so 5 minutes costs little, and it covers
   * clock skew between this host and the gateway and a request queued or retried near expiry.
   */
  public static final Duration DEFAULT_REFRESH_BEFORE_EXPIRY = Duration.ofMinutes(5);

  private static final Logger logger = LoggerFactory.getLogger(EntraIdInterceptor.class);
  private static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(30);

  private final TokenCredential credential;
  private final List<String> scopes;
  private final Duration refreshBeforeExpiry;
  private final Clock clock;

  private final Object lock = new Object();
  private volatile @Nullable Cached cached;
  private @Nullable CompletableFuture<Cached> refreshing; // guarded by lock

  private EntraIdInterceptor(Builder builder) {
    this.credential = builder.credential;
    this.scopes = builder.scopes;
    this.refreshBeforeExpiry = builder.refreshBeforeExpiry;
    this.clock = builder.clock;
  }

  /**
   * A builder for tokens from {@code credential}, e.g.
   * {@code new DefaultAzureCredentialBuilder().build()}.
   *
   * @throws NullPointerException if {@code credential} is null
   */
  public static Builder builder(TokenCredential credential) {
    return new Builder(requireNonNull(credential, "credential"));
  }

  /**
   * Sends the request with a bearer token.
   *
   * @throws IOException if no token can be had (the cause says why), or the call fails
   */
  @Override
  public Response intercept(Chain chain) throws IOException {
    String token = token();
    return chain.proceed(chain.request().newBuilder()
        .header("Authorization", "Bearer " + token)
        .build());
  }

  /** Shows the settings and the credential's class, never a token. */
  @Override
  public String toString() {
    return "EntraIdInterceptor[scopes=" + scopes
        + ", refreshBeforeExpiry=" + refreshBeforeExpiry
        + ", credential=" + credential.getClass().getName()
        + ']';
  }

  /** A usable token: the cached one, or one fetched once for every caller that needs it. */
  String token() throws IOException {
    Cached current = cached;
    if (current != null && clock.instant().isBefore(current.refreshAt)) {
      return current.token;
    }
    CompletableFuture<Cached> future;
    boolean refresher = false;
    synchronized (lock) {
      current = cached;
      Instant now = clock.instant();
      if (current != null && now.isBefore(current.refreshAt)) {
        return current.token;
      }
      if (refreshing == null) {
        refreshing = new CompletableFuture<>();
        refresher = true;
      } else if (current != null && now.isBefore(current.expiresAt)) {
        return current.token; // still valid while another caller refreshes it
      }
      future = refreshing;
    }
    if (refresher) {
      refresh(future, current);
    }
    try {
      return future.get().token;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for an Entra ID token for " + scopes);
    } catch (ExecutionException e) {
      // A new exception per caller, so each one's stack trace is its own; its cause is the
      // credential's exception, as the refresh's own IOException would have had.
      // Never null: the refresh completes the future exceptionally with an IOException only.
      Throwable failure = requireNonNull(e.getCause());
      throw new IOException(failure.getMessage(),
          failure.getCause() != null ? failure.getCause() : failure);
    }
  }

  private void refresh(CompletableFuture<Cached> future, @Nullable Cached current) {
    try {
      Cached fresh = fetch();
      cached = fresh;
      future.complete(fresh);
    } catch (IOException e) {
      Instant now = clock.instant();
      if (current != null && now.isBefore(current.expiresAt)) {
        Duration half = Duration.between(now, current.expiresAt).dividedBy(2);
        Instant retryAt = now.plus(half.compareTo(RETRY_AFTER_FAILURE) < 0 ? half : RETRY_AFTER_FAILURE);
        Cached kept = new Cached(current.token, current.expiresAt, retryAt);
        cached = kept;
        logger.warn("{}; the current token, valid until {}, stays in use; next attempt after {}",
            e.getMessage(), current.expiresAt, retryAt);
        future.complete(kept);
      } else {
        future.completeExceptionally(e);
      }
    } finally {
      // Set before the refresh is forgotten, so no caller can start a second one for nothing.
      synchronized (lock) {
        refreshing = null;
      }
      if (!future.isDone()) { // an Error escaped; waiters must not hang
        future.completeExceptionally(new IOException(failure("failed unexpectedly")));
      }
    }
  }

  private Cached fetch() throws IOException {
    AccessToken token;
    try {
      token = credential.getTokenSync(new TokenRequestContext().setScopes(scopes));
    } catch (RuntimeException e) {
      throw new IOException(failure("failed: " + e.getClass().getName() + ": " + e.getMessage()), e);
    }
    String value = token == null ? null : token.getToken();
    if (value == null || value.isEmpty()) {
      throw new IOException(failure("returned no token"));
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x21 || c > 0x7E) { // OkHttp would reject the header; say so without echoing it
        throw new IOException(failure("returned a token with a character a header cannot carry, at index " + i));
      }
    }
    Instant now = clock.instant();
    OffsetDateTime expiry = token.getExpiresAt();
    Instant expiresAt = expiry == null ? now : expiry.toInstant();
    Instant refreshAt = expiresAt.minus(refreshBeforeExpiry);
    OffsetDateTime hint = token.getRefreshAt();
    if (hint != null && hint.toInstant().isBefore(refreshAt)) {
      refreshAt = hint.toInstant();
    }
    if (!refreshAt.isAfter(now)) {
      // Shorter-lived than the margin: use it for half its remaining life, not one fetch per request.
      refreshAt = expiresAt.isAfter(now) ? now.plus(Duration.between(now, expiresAt).dividedBy(2)) : now;
    }
    logger.debug("Entra ID token for {} obtained; expires at {}, refreshed from {}", scopes, expiresAt, refreshAt);
    return new Cached(value, expiresAt, refreshAt);
  }

  private String failure(String what) {
    return "Entra ID token for " + scopes + " from " + credential.getClass().getName() + ": " + what;
  }

  /** A token and when to stop using it. The token is never shown: no record, no toString. */
  private static final class Cached {
    final String token;
    final Instant expiresAt;
    final Instant refreshAt;

    Cached(String token, Instant expiresAt, Instant refreshAt) {
      this.token = token;
      this.expiresAt = expiresAt;
      this.refreshAt = refreshAt;
    }
  }

  /** Builds an {@link EntraIdInterceptor}. Not thread-safe. */
  public static final class Builder {
    private final TokenCredential credential;
    private List<String> scopes = List.of(DEFAULT_SCOPE);
    private Duration refreshBeforeExpiry = DEFAULT_REFRESH_BEFORE_EXPIRY;
    private Clock clock = Clock.systemUTC();

    private Builder(TokenCredential credential) {
      this.credential = credential;
    }

    /**
     * The scopes to request; default {@value EntraIdInterceptor#DEFAULT_SCOPE}.
     *
     * @throws IllegalArgumentException if none is given or one is blank
     */
    public Builder scopes(String... scopes) {
      requireNonNull(scopes, "scopes");
      if (scopes.length == 0) {
        throw new IllegalArgumentException("give at least one scope, e.g. " + DEFAULT_SCOPE);
      }
      for (String scope : scopes) {
        if (scope == null || scope.isBlank()) {
          throw new IllegalArgumentException("a scope must not be blank, e.g. " + DEFAULT_SCOPE);
        }
      }
      this.scopes = List.of(scopes);
      return this;
    }

    /**
     * How long before expiry a token is replaced; default 5 minutes
     * ({@link EntraIdInterceptor#DEFAULT_REFRESH_BEFORE_EXPIRY} says why).
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder refreshBeforeExpiry(Duration refreshBeforeExpiry) {
      requireNonNull(refreshBeforeExpiry, "refreshBeforeExpiry");
      if (refreshBeforeExpiry.isNegative()) {
        throw new IllegalArgumentException("refreshBeforeExpiry must be 0 or more, was " + refreshBeforeExpiry);
      }
      this.refreshBeforeExpiry = refreshBeforeExpiry;
      return this;
    }

    /** The clock that decides when a token is due; for tests. Default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    /** Builds the interceptor. */
    public EntraIdInterceptor build() {
      return new EntraIdInterceptor(this);
    }
  }
}
