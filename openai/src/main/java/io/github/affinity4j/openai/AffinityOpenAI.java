package io.github.affinity4j.openai;

import com.openai.azure.AzureOpenAIServiceVersion;
import com.openai.azure.credential.AzureApiKeyCredential;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

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
 * gets the SDK's own builder last.
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
    private String baseUrl;
    private String apiKey;
    private String subscriptionKey;
    private AzureOpenAIServiceVersion azureServiceVersion;
    private Duration timeout;
    private Integer maxRetries;
    private okhttp3.OkHttpClient okHttpClient;
    private AffinityInterceptor interceptor;
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
     * {@link #apiKey(String)} it is also the SDK's credential, sent as {@code api-key}, the header
     * name APIM's Azure OpenAI import configures; so either gateway setting accepts it.
     */
    public Builder apimSubscriptionKey(String subscriptionKey) {
      this.subscriptionKey = Objects.requireNonNull(subscriptionKey, "subscriptionKey");
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
     * @throws IllegalStateException if no base URL was set, or the SDK rejects the settings (for
     *     example, no credential at all)
     */
    public OpenAIClient build() {
      if (baseUrl == null) {
        throw new IllegalStateException(
            "set baseUrl(...), e.g. https://my-apim.azure-api.net/inference/openai/v1");
      }
      OpenAIOkHttpClient.Builder sdk = OpenAIOkHttpClient.builder().baseUrl(baseUrl);
      if (apiKey != null) {
        sdk.apiKey(apiKey);
      }
      if (subscriptionKey != null) {
        sdk.putHeader(SUBSCRIPTION_KEY_HEADER, subscriptionKey);
        if (apiKey == null) {
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
      if (okHttpClient != null) {
        sdk.okHttpClient(okHttpClient);
      }
      sdk.addInterceptor(interceptor != null ? interceptor : AffinityInterceptor.builder().build());
      customizers.forEach(customizer -> customizer.accept(sdk));
      return sdk.build();
    }
  }
}
