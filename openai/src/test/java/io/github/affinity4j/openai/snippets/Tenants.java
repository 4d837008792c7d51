package io.github.affinity4j.openai.snippets;

// snippet: identity
import com.openai.client.OpenAIClient;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityConversations;

final class Tenants {
  static AffinityInterceptor interceptor(byte[] scopeSecret) {
    return AffinityInterceptor.builder()
        .tenant(request -> request.header("X-Tenant"))   // one key shared by several tenants
        .scopeSecret(scopeSecret)                         // the same on every instance sharing a store
        .build();
  }

  static AffinityConversations conversations(OpenAIClient client, String tenant) {
    return AffinityConversations.builder().client(client).tenant(tenant).build();
  }
}
// snippet: end
