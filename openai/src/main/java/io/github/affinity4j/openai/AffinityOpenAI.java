package io.github.affinity4j.openai;

import com.azure.core.credential.TokenCredential;
import com.openai.azure.AzureOpenAIServiceVersion;
import com.openai.azure.credential.AzureApiKeyCredential;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.credential.BearerTokenCredential;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.okhttp.EntraIdInterceptor;
import io.github.affinity4j.okhttp.internal.AddedHeaders;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import okhttp3.Interceptor;
import okhttp3.Response;
import org.jspecify.annotations.Nullable;

/**
 * The one-line way in: an {@link OpenAIClient} whose every Responses API chain keeps its gateway
 * affinity pin, built on {@link OpenAIOkHttpClient} with an {@link AffinityInterceptor} installed.
 *
 * <pre>{@code
 * OpenAIClient client = AffinityOpenAI.builder()
 *     .baseUrl("https://my-apim.azure-api.net/inference/openai/v1")
 *     .apimSubscriptionKey(System.getenv("APIM_SUBSCRIPTION_KEY"))
 *     .build();
 * }</pre>
 *
 * <p>Settings not offered here are reachable through {@link Builder#customize(Consumer)}, which
 * gets the SDK's own builder last; for example routing diagnostics, which then see each attempt
 * with its pin: {@code .customize(sdk -> sdk.addInterceptor(new RoutingLogInterceptor()))}.
 *
 * <p>Credentials stay out of logs and {@code toString()}s: the APIM subscription key and an Entra
 * ID token are added by OkHttp interceptors below the SDK, so even the SDK's own request log
 * ({@code OPENAI_LOG=debug}, which does not redact {@code Ocp-Apim-Subscription-Key}) never sees
 * them; the SDK redacts the {@code Authorization} and {@code api-key} headers it sets itself.
 */
public final class AffinityOpenAI {
  /** The header APIM reads a subscription key from by default. */
  public static final String SUBSCRIPTION_KEY_HEADER = "Ocp-Apim-Subscription-Key";

  private AffinityOpenAI() {}

  /** A new builder; {@link Builder#baseUrl(String)} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Builds an {@link OpenAIClient} with affinity. Not thread-safe; the client it builds is. */
  public static final class Builder {
    private @Nullable String baseUrl;
    private @Nullable String apiKey;
    private @Nullable String subscriptionKey;
    // The EntraIdInterceptor, typed as an Interceptor so that nothing but azureCredential(...)
    // touches an Azure type: without azure-identity on the classpath this class still works.
    private @Nullable Interceptor entraId;
    private @Nullable AzureOpenAIServiceVersion azureServiceVersion;
    private @Nullable Duration timeout;
    private @Nullable Integer maxRetries;
    private okhttp3.@Nullable OkHttpClient okHttpClient;
    private @Nullable AffinityInterceptor interceptor;
    private final List<Consumer<OpenAIOkHttpClient.Builder>> customizers = new ArrayList<>();

    private Builder() {}

    /** The gateway's base URL, e.g. {@code https://my-apim.azure-api.net/inference/openai/v1}. */
    public Builder baseUrl(String baseUrl) {
      this.baseUrl = Objects.requireNonNull(baseUrl, "baseUrl");
      return this;
    }

    /** An API key, sent as {@code Authorization: Bearer …}. */
    public Builder apiKey(String apiKey) {
      this.apiKey = Objects.requireNonNull(apiKey, "apiKey");
      return this;
    }

    /**
     * An APIM subscription key, sent as {@value AffinityOpenAI#SUBSCRIPTION_KEY_HEADER}. Without an
     * {@link #apiKey(String)} or {@link #azureCredential(TokenCredential)} it is also the SDK's
     * credential, sent as {@code api-key}, the header name APIM's Azure OpenAI import configures;
     * so either gateway setting accepts it. Never logged, by the SDK or by this library.
     */
    public Builder apimSubscriptionKey(String subscriptionKey) {
      this.subscriptionKey = Objects.requireNonNull(subscriptionKey, "subscriptionKey");
      return this;
    }

    /**
     * Authenticates with Microsoft Entra ID: every request carries {@code Authorization: Bearer …}
     * with a token from {@code credential} for scope {@value EntraIdInterceptor#DEFAULT_SCOPE},
     * cached and refreshed as {@link EntraIdInterceptor} describes. Needs
     * {@code com.azure:azure-identity} on the classpath. Not combinable with {@link #apiKey(String)};
     * combines with {@link #apimSubscriptionKey(String)} (then no {@code api-key} header is sent).
     *
     * <pre>{@code
     * AffinityOpenAI.builder().baseUrl(url)
     *     .azureCredential(new DefaultAzureCredentialBuilder().build())
     *     .build();
     * }</pre>
     */
    public Builder azureCredential(TokenCredential credential) {
      if (credential == null) {
        throw new NullPointerException("credential");
      }
      this.entraId = EntraIdInterceptor.builder(credential).build();
      return this;
    }

    /** The Azure OpenAI API version, for gateways that need an {@code api-version} query. */
    public Builder azureServiceVersion(AzureOpenAIServiceVersion azureServiceVersion) {
      this.azureServiceVersion = Objects.requireNonNull(azureServiceVersion, "azureServiceVersion");
      return this;
    }

    /** The whole-request timeout; default the SDK's. */
    public Builder timeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("timeout must be positive, was " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    /** The SDK's retries per request (each attempt carries the same pin); default the SDK's, 2. */
    public Builder maxRetries(int maxRetries) {
      if (maxRetries < 0) {
        throw new IllegalArgumentException("maxRetries must be 0 or more, was " + maxRetries);
      }
      this.maxRetries = maxRetries;
      return this;
    }

    /** An OkHttp client to derive from, to share its connection pool and dispatcher. */
    public Builder okHttpClient(okhttp3.OkHttpClient okHttpClient) {
      this.okHttpClient = Objects.requireNonNull(okHttpClient, "okHttpClient");
      return this;
    }

    /**
     * The interceptor to install; pass one to configure it (store, cookie names, listener) or to
     * read its {@link AffinityInterceptor#stats()}. Default {@code AffinityInterceptor.builder().build()}.
     */
    public Builder interceptor(AffinityInterceptor interceptor) {
      this.interceptor = Objects.requireNonNull(interceptor, "interceptor");
      return this;
    }

    /** Adjusts the SDK's builder after this builder's settings are applied. */
    public Builder customize(Consumer<OpenAIOkHttpClient.Builder> customizer) {
      customizers.add(Objects.requireNonNull(customizer, "customizer"));
      return this;
    }

    /**
     * Builds the client.
     *
     * @throws IllegalStateException if no base URL was set, both an API key and an Azure
     *     credential were, or the SDK rejects the settings (for example, no credential at all)
     */
    public OpenAIClient build() {
      if (baseUrl == null) {
        throw new IllegalStateException(
            "set baseUrl(...), e.g. https://my-apim.azure-api.net/inference/openai/v1");
      }
      if (apiKey != null && entraId != null) {
        throw new IllegalStateException(
            "set apiKey(...) or azureCredential(...), not both: both are sent as Authorization");
      }
      OpenAIOkHttpClient.Builder sdk = OpenAIOkHttpClient.builder().baseUrl(baseUrl);
      if (apiKey != null) {
        sdk.apiKey(apiKey);
      }
      if (entraId != null) {
        // The interceptor sets Authorization below the SDK. The SDK insists on a credential; with
        // its Authorization header removed it accepts this one without ever asking it for a token.
        sdk.credential(BearerTokenCredential.create(() -> {
          throw new IllegalStateException("unused: EntraIdInterceptor sets Authorization");
        }));
        sdk.removeHeaders("Authorization");
        sdk.addInterceptor(entraId);
      }
      if (subscriptionKey != null) {
        // Added below the SDK: its request log (OPENAI_LOG=debug) does not redact this header.
        sdk.addInterceptor(new HeaderInterceptor(SUBSCRIPTION_KEY_HEADER, subscriptionKey));
        if (apiKey == null && entraId == null) {
          sdk.credential(AzureApiKeyCredential.create(subscriptionKey));
        }
      }
      if (azureServiceVersion != null) {
        sdk.azureServiceVersion(azureServiceVersion);
      }
      if (timeout != null) {
        sdk.timeout(timeout);
      }
      if (maxRetries != null) {
        sdk.maxRetries(maxRetries);
      }
      // OkHttp follows redirects below application interceptors, with the headers they added: the
      // pin and the subscription key must not follow a redirect to another origin. With the
      // caller's own OkHttp client the guard does it per hop; otherwise redirects are not followed
      // (a Responses API gateway has no reason to redirect).
      if (okHttpClient != null) {
        sdk.okHttpClient(okHttpClient.newBuilder().addNetworkInterceptor(AffinityInterceptor.redirectGuard()).build());
      } else {
        sdk.followRedirects(false);
      }
      sdk.addInterceptor(interceptor != null ? interceptor : AffinityInterceptor.builder().build());
      customizers.forEach(customizer -> customizer.accept(sdk));
      return sdk.build();
    }
  }

  /** Sets one header on every request; its value, a credential, is never shown. */
  private static final class HeaderInterceptor implements Interceptor {
    private final String name;
    private final String value;

    HeaderInterceptor(String name, String value) {
      this.name = name;
      this.value = value;
    }

    @Override
    public Response intercept(Chain chain) throws IOException {
      return chain.proceed(AddedHeaders.header(chain.request().newBuilder().header(name, value).build(), name));
    }

    @Override
    public String toString() {
      return "HeaderInterceptor[" + name + ": ██]";
    }
  }
}
