package io.github.affinity4j.openai.snippets;

// snippet: quickstart-conversations
import com.openai.client.OpenAIClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.Conversation;

final class Chats {
  private final AffinityConversations conversations;

  Chats(OpenAIClient client) {                       // any client: no interceptor, no cookie jar
    this.conversations = AffinityConversations.wrap(client);   // once per client
  }

  Response twoTurns() {
    Conversation chat = conversations.start(ResponseCreateParams.builder().model("gpt-4.1").build());
    chat.send("Explain photosynthesis in simple terms");
    return chat.send("Summarize that for a college freshman");    // same backend, by the chat's pin
  }
}
// snippet: end
