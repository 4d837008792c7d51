package io.github.affinity4j.openai;

import static java.util.Objects.requireNonNull;

import com.openai.azure.credential.AzureApiKeyCredential;
import com.openai.client.OpenAIClient;
import com.openai.core.ClientOptions;
import com.openai.core.http.Headers;
import com.openai.credential.BearerTokenCredential;
import com.openai.credential.Credential;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityStats;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.HistoryJournal;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.core.RepairStats;
import io.github.affinity4j.core.internal.ChainRegistry;
import io.github.affinity4j.core.internal.Engine;
import io.github.affinity4j.core.internal.TurnInput;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.okhttp.internal.AffinityCookies;
import io.github.affinity4j.okhttp.internal.CookieNameCheck;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.function.Function;
import okhttp3.HttpUrl;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Conversations that survive a load-balanced gateway, on an {@link OpenAIClient} you already
 * have: each {@link Conversation} threads {@code previous_response_id}, the gateway's affinity pin
 * and the journaled history itself, and repairs its chain once if the backend holding it is lost.
 * The client needs no interceptor and no cookie jar: the pin goes out as a per-request
 * {@code Cookie} header and comes back from the raw response's {@code Set-Cookie}.
 *
 * <pre>{@code
 * AffinityConversations conversations = AffinityConversations.builder()
 *     .client(client)                                         // any OpenAIClient
 *     .defaults(ResponseCreateParams.builder().model("gpt-4.1").build())
 *     .build();
 * Conversation chat = conversations.start();
 * Response first = chat.send("Explain photosynthesis in simple terms");
 * Response second = chat.send("Summarize that for a college freshman");  // same backend
 * }</pre>
 *
 * <p>The decisions are the engine's (pins, journaling and repair, in {@code core}),
 * exactly as in {@link AffinityInterceptor}; this class only translates
 * them to SDK calls. Pins live in the {@link AffinityStore}, turns in the {@link HistoryJournal}:
 * share them with other instances (or an interceptor) to share chains.
 *
 * <p><b>On a client that also has an {@link AffinityInterceptor}</b> (such as one built by
 * {@link AffinityOpenAI}) nothing is done twice, by layering: the interceptor leaves a request
 * alone when its {@code Cookie} header already carries an affinity cookie, so the conversation's
 * pin is the only one sent. A chain break the interceptor recognises (a response not found) it
 * repairs below the SDK, and the conversation sees a success. A break it cannot see as one (the
 * pinned backend unavailable: the pin is the conversation's, not the interceptor's) reaches the
 * conversation, which repairs it; the replay starts no chain the interceptor knows, so it passes.
 * An error the interceptor already gave up on (its message says "affinity4j could not repair")
 * is passed on unchanged, never repaired again. Either way a request is repaired once at most.
 * Both journal each turn; give the builder the interceptor's {@link AffinityInterceptor#store()}
 * and {@link AffinityInterceptor#journal()} to keep each pin and turn once, and the same cookie
 * names.
 *
 * <p>Immutable and thread-safe; many conversations may run on one instance at once. The wrapped
 * client is used, never closed.
 */
public final class AffinityConversations {
  private static final Logger logger = LoggerFactory.getLogger(AffinityConversations.class);
  private static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(1);

  private final OpenAIClient client;
  private final HttpUrl responsesUrl;
  private final @Nullable String clientCookies;
  private final ResponseCreateParams defaults;
  private final Engine engine;
  private final Duration backgroundPollInterval;
  private final CookieNameCheck cookieNameCheck =
      new CookieNameCheck(AffinityConversations.class, "AffinityConversations.builder()");
  private final ChainScope scope;

  private AffinityConversations(
      Builder builder, OpenAIClient client, HttpUrl responsesUrl, @Nullable String clientCookies, ChainScope scope) {
    this.client = client;
    this.responsesUrl = responsesUrl;
    this.clientCookies = clientCookies;
    this.scope = scope;
    this.defaults = builder.defaults;
    this.engine = builder.engine.build();
    this.backgroundPollInterval = builder.backgroundPollInterval;
  }

  /**
   * Wraps {@code client} with the defaults: a new Caffeine store and journal, cookie
   * {@code APIM-Backend-Affinity}, {@link RepairPolicy#RETRY_THEN_REPLAY}, no default params (so
   * give {@link #start(ResponseCreateParams)} or {@link Conversation#send(ResponseCreateParams)}
   * the model, unless your endpoint implies it).
   *
   * @throws NullPointerException if {@code client} is null
   * @throws IllegalArgumentException if the client's base URL cannot be read (see
   *     {@link Builder#baseUrl(String)})
   */
  public static AffinityConversations wrap(OpenAIClient client) {
    return builder().client(client).build();
  }

  /** Returns a builder; {@link Builder#client(OpenAIClient)} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts a new conversation with the builder's {@link Builder#defaults defaults}: its first turn
   * carries no pin, so the gateway picks a backend.
   */
  public Conversation start() {
    return new Conversation(this, Conversation.State.start(defaults));
  }

  /**
   * Starts a new conversation whose {@link Conversation#send(String)} starts from {@code defaults}
   * (model, instructions, tools, …) instead of the builder's.
   *
   * @throws NullPointerException if {@code defaults} is null
   * @throws IllegalArgumentException as {@link Builder#defaults(ResponseCreateParams)}
   */
  public Conversation start(ResponseCreateParams defaults) {
    Conversation.checkDefaults(defaults);
    return new Conversation(this, Conversation.State.start(defaults));
  }

  /**
   * Continues the chain that ends at {@code responseId}, made earlier in this instance's scope (the
   * same gateway origin and base path, the same credential or {@link Builder#tenant tenant}) by any
   * conversation or client that shares this instance's store and journal (this one, another
   * instance, an interceptor). Its next turn carries the chain's pin if the store has one, and can
   * be repaired if the journal has the chain's whole history. If the journal knows the chain,
   * {@link Conversation#pendingToolCalls()} holds the function calls of its last turn.
   *
   * <p>A response id is not a secret and grants nothing: a chain made from another origin or with
   * another credential is not found here, and neither is one this scope never saw or has forgotten
   * (expired, evicted, deleted). To continue such a response anyway, send it as
   * {@code previous_response_id} through the client itself: it goes where the gateway sends it.
   *
   * @throws IllegalArgumentException if {@code responseId} is not a valid response id
   * @throws java.util.NoSuchElementException if neither the store nor the journal knows the chain
   *     in this scope
   */
  public Conversation resume(String responseId) {
    if (!ChainKey.isValidId(responseId)) {
      throw new IllegalArgumentException("Not a response id: expected 1 to " + ChainKey.MAX_ID_LENGTH
          + " printable ASCII characters without spaces, like resp_…");
    }
    ChainHistory history = history(responseId);
    if (history != null && history.status() == ChainHistory.Status.MISSING_LINK && history.turns() == 0
        && history.link().filter(history.chain()::equals).isPresent()
        && pinFingerprint(ChainKey.response(responseId)).isEmpty()) {
      throw new NoSuchElementException("affinity4j: no chain " + history.chain() + " in " + scope
          + " (see docs/security.md)");
    }
    List<byte[]> items = history != null && history.isComplete() ? history.itemArrays() : List.of();
    return new Conversation(this, Conversation.State.resumed(defaults, responseId,
        items.isEmpty() ? List.of() : SdkJson.functionCalls(items.get(items.size() - 1))));
  }

  /** Returns a snapshot of the pin counters. */
  public AffinityStats stats() {
    return engine.stats();
  }

  /** Returns a snapshot of the repair counters: breaks, retries, replays, healed, failed. */
  public RepairStats repairStats() {
    return engine.repairStats();
  }

  /** Returns the store holding the chains' pins. */
  public AffinityStore store() {
    return engine.store();
  }

  /** Returns the journal holding the chains' turns. */
  public HistoryJournal journal() {
    return engine.journal();
  }

  /** Shows the settings; no secrets. */
  @Override
  public String toString() {
    return "AffinityConversations[url=" + AffinityCookies.redacted(responsesUrl) + ", engine=" + engine + ']';
  }

  // --- for Conversation and TurnExchange ---

  OpenAIClient client() {
    return client;
  }

  Engine engine() {
    return engine;
  }

  /** How long a background turn waits between polls. */
  Duration backgroundPollInterval() {
    return backgroundPollInterval;
  }

  ChainRegistry registry() {
    return engine.registry();
  }

  /** Says once that the gateway sets cookies, none of the configured name. */
  CookieNameCheck cookieNameCheck() {
    return cookieNameCheck;
  }

  /** The URL the SDK posts responses to, for cookie scope. */
  HttpUrl responsesUrl() {
    return responsesUrl;
  }

  /** The client's own default {@code Cookie} header, or null. */
  @Nullable String clientCookies() {
    return clientCookies;
  }

  /**
   * Returns whom this instance's chains belong to: the client's origin and base path, and its
   * credential or {@link Builder#tenant tenant}. Its pins and turns are kept in the store and
   * journal under keys {@link ChainKey#in in} this scope.
   */
  public ChainScope scope() {
    return scope;
  }

  /** The chain's history, or null if the journal failed (logged). */
  @Nullable ChainHistory history(String responseId) {
    return engine.history(ChainKey.response(responseId).in(scope));
  }

  /** The fingerprint of the live pin of {@code chain} (in this scope), if the store has one. */
  Optional<String> pinFingerprint(ChainKey chain) {
    Optional<AffinityToken> token;
    try {
      token = engine.store().get(chain.in(scope));
    } catch (Exception e) { // not only unchecked: a store written in Kotlin may throw a checked one
      logger.warn("AffinityStore {} threw on get of {}", engine.store().getClass().getName(), chain, e);
      return Optional.empty();
    }
    return token.filter(t -> !t.isExpired(engine.clock().instant())).map(AffinityToken::fingerprint);
  }

  /**
   * Builds {@link AffinityConversations}. Not thread-safe. Defaults as for
   * {@link AffinityConversations#wrap(OpenAIClient)}.
   */
  public static final class Builder {
    private final Engine.Builder engine = Engine.builder();
    private @Nullable OpenAIClient client;
    private ResponseCreateParams defaults = ResponseCreateParams.none();
    private @Nullable String baseUrl;
    private byte @Nullable [] scopeSecret;
    private @Nullable String tenant;
    private Duration backgroundPollInterval = DEFAULT_POLL_INTERVAL;

    private Builder() {}

    /**
     * The key of the HMAC that fingerprints the client's credential into its chains' scope; the
     * same as the {@link AffinityInterceptor.Builder#scopeSecret} of interceptors sharing the store.
     * Default: a fixed, public key (see {@link ChainScope.Builder#secret}).
     *
     * @throws IllegalArgumentException if shorter than 16 bytes
     */
    public Builder scopeSecret(byte[] secret) {
      ChainScope.builder().secret(secret); // checks it
      this.scopeSecret = secret.clone();
      return this;
    }

    /**
     * The tenant this instance's conversations belong to, in place of the client's credential, as
     * part of their scope. Needed when the credential is not in the client's options (a bearer
     * token supplied per request, an Entra ID interceptor) and clients of several tenants share a
     * store. Default: none, the credential in the client's options.
     */
    public Builder tenant(String tenant) {
      this.tenant = requireNonNull(tenant, "tenant");
      return this;
    }

    /** The client to send through (required). It is used as it is, and never closed. */
    public Builder client(OpenAIClient client) {
      this.client = requireNonNull(client, "client");
      return this;
    }

    /**
     * The params a new conversation's {@link Conversation#send(String)} starts from: model,
     * instructions, tools, {@code store: false} for stateless conversations, and so on. Default:
     * none.
     *
     * @throws IllegalArgumentException if they set {@code input} (each turn sends its own),
     *     {@code previous_response_id} or {@code conversation}
     */
    public Builder defaults(ResponseCreateParams defaults) {
      Conversation.checkDefaults(defaults);
      this.defaults = defaults;
      return this;
    }

    /**
     * The store for the chains' pins; share it (with other instances, or an interceptor's
     * {@link AffinityInterceptor#store()}) to share chains. Default: a new
     * {@link io.github.affinity4j.core.CaffeineAffinityStore}.
     */
    public Builder store(AffinityStore store) {
      engine.store(store);
      return this;
    }

    /**
     * The journal of every turn, from which a broken chain is replayed; share it as the store.
     * Default: a new {@link io.github.affinity4j.core.CaffeineHistoryJournal}.
     */
    public Builder journal(HistoryJournal journal) {
      engine.journal(journal);
      return this;
    }

    /**
     * The affinity cookie names the gateway uses (APIM: the backend pool's
     * {@code sessionAffinity.sessionId.name}). Default {@code APIM-Backend-Affinity}.
     *
     * @throws IllegalArgumentException if none is given or one is not a cookie name
     */
    public Builder cookieNames(String... cookieNames) {
      engine.cookieNames(cookieNames);
      return this;
    }

    /** What to do when a chain breaks; default {@link RepairPolicy#RETRY_THEN_REPLAY}. */
    public Builder repairPolicy(RepairPolicy policy) {
      engine.repairPolicy(policy);
      return this;
    }

    /**
     * The pause before {@link RepairPolicy#RETRY_THEN_REPLAY}'s one retry on the same pin; default
     * 500 ms. Async turns wait without holding a thread.
     *
     * @throws IllegalArgumentException if negative or over a minute
     */
    public Builder retryPause(Duration retryPause) {
      engine.retryPause(retryPause);
      return this;
    }

    /**
     * How long a {@code background: true} turn waits between polls of its response, which
     * {@link Conversation#send} repeats until the response is no longer {@code queued} or
     * {@code in_progress}; default 1 s. Async turns wait without holding a thread.
     *
     * @throws IllegalArgumentException if not positive or over an hour
     */
    public Builder backgroundPollInterval(Duration interval) {
      requireNonNull(interval, "interval");
      if (interval.isNegative() || interval.isZero() || interval.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("backgroundPollInterval must be positive and at most an hour");
      }
      this.backgroundPollInterval = interval;
      return this;
    }

    /**
     * The statuses that, answered by the gateway itself (APIM's {@code {"statusCode":…}} shape, not
     * the model's error) to a pinned request, mean its backend is unavailable, so the chain is
     * repaired; default 500, 502, 504 (502, 503 and 504 count in any shape).
     *
     * @throws IllegalArgumentException if a status is not between 400 and 599
     */
    public Builder gatewayFailures(int... statuses) {
      engine.gatewayFailures(statuses);
      return this;
    }

    /** Receives pin and repair events; default {@link AffinityListener#NONE}. */
    public Builder listener(AffinityListener listener) {
      engine.listener(requireNonNull(listener, "listener"));
      return this;
    }

    /** The clock for cookie expiry and repair timing; for tests. Default {@link Clock#systemUTC()}. */
    public Builder clock(Clock clock) {
      engine.clock(clock);
      return this;
    }

    /**
     * The client's base URL, which scopes pins to the gateway's host and path as cookies are
     * scoped. Needed only for an {@link OpenAIClient} implementation whose
     * {@link OpenAIClient#withOptions} does not hand out its options (the SDK's own clients do, and
     * their base URL is read from there by default).
     *
     * @throws IllegalArgumentException if not an http or https URL
     */
    public Builder baseUrl(String baseUrl) {
      if (HttpUrl.parse(requireNonNull(baseUrl, "baseUrl")) == null) {
        throw new IllegalArgumentException("baseUrl must be an http or https URL, like "
            + "https://my-apim.azure-api.net/inference/openai/v1");
      }
      this.baseUrl = baseUrl;
      return this;
    }

    /**
     * Builds the instance.
     *
     * @throws NullPointerException if no client was set
     * @throws IllegalArgumentException if the client's base URL cannot be read and none was set
     */
    public AffinityConversations build() {
      OpenAIClient client = requireNonNull(this.client, "client is required; pass the OpenAIClient to wrap");
      String url = baseUrl;
      String cookies = null;
      ClientOptions options = options(client);
      if (options != null) {
        url = url != null ? url : options.baseUrl();
        cookies = AffinityCookies.join(options.headers().values("Cookie"));
      }
      HttpUrl base = url == null ? null : HttpUrl.parse(url);
      if (base == null) {
        throw new IllegalArgumentException("Cannot read the base URL of " + client.getClass().getName()
            + "; set it with AffinityConversations.Builder.baseUrl(...)");
      }
      HttpUrl responses = base.newBuilder().addPathSegment("responses").build();
      ChainScope.Builder scope = ChainScope.builder()
          .origin(responses.scheme(), responses.host(), responses.port(), TurnInput.basePath(responses.encodedPath()))
          .tenant(tenant);
      if (scopeSecret != null) {
        scope.secret(scopeSecret);
      }
      if (options != null) {
        scope.credentials(credentials(options));
      }
      return new AffinityConversations(this, client, responses, cookies, scope.build());
    }

    /**
     * The credential headers the client's requests carry, as an interceptor sees them: its own
     * headers, else what its credential adds ({@code api-key} for an Azure key, a bearer token
     * asked of its supplier once, here). A supplier that fails gives none.
     */
    private static Function<String, @Nullable String> credentials(ClientOptions options) {
      Headers headers = options.headers();
      Credential credential = options.credential();
      String apiKey = credential instanceof AzureApiKeyCredential azure ? azure.apiKey() : null;
      String bearer = null;
      if (credential instanceof BearerTokenCredential token) {
        try {
          bearer = "Bearer " + token.token();
        } catch (RuntimeException e) {
          logger.debug("Bearer token of the client not read ({}); its scope has no credential",
              e.getClass().getSimpleName());
        }
      }
      String authorization = bearer;
      return name -> {
        String own = headers.values(name).stream().findFirst().orElse(null);
        if (own != null) {
          return own;
        }
        return "api-key".equalsIgnoreCase(name) ? apiKey
            : "Authorization".equalsIgnoreCase(name) ? authorization : null;
      };
    }

    /**
     * The client's options, read through the SDK's public {@code withOptions}: the modifier is
     * handed the client's own options builder. Null if the client does not do that.
     */
    private static @Nullable ClientOptions options(OpenAIClient client) {
      @Nullable ClientOptions[] seen = new ClientOptions[1];
      try {
        client.withOptions(builder -> seen[0] = builder.build());
      } catch (RuntimeException e) {
        logger.debug("Options of {} unreadable ({})", client.getClass().getName(), e.getClass().getSimpleName());
      }
      return seen[0];
    }
  }
}
