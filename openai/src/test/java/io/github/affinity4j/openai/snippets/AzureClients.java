package io.github.affinity4j.openai.snippets;

// snippet: entra-id
import com.azure.core.credential.TokenCredential;
import com.openai.client.OpenAIClient;
import io.github.affinity4j.openai.AffinityOpenAI;

final class AzureClients {
  // credential: new DefaultAzureCredentialBuilder().build() (com.azure.identity), or any TokenCredential
  static OpenAIClient entraId(String baseUrl, TokenCredential credential, String subscriptionKey) {
    return AffinityOpenAI.builder()
        .baseUrl(baseUrl)                         // https://my-apim.azure-api.net/inference/openai/v1
        .azureCredential(credential)              // bearer tokens from Entra ID, refreshed before expiry
        .apimSubscriptionKey(subscriptionKey)     // if the API also requires a subscription key
        .build();
  }
}
// snippet: end
