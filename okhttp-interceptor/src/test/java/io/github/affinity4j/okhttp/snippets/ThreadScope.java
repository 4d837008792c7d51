package io.github.affinity4j.okhttp.snippets;

// snippet: cookie-jar
import io.github.affinity4j.okhttp.ConversationCookieJar;
import okhttp3.OkHttpClient;

final class ThreadScope {
  static OkHttpClient forThread(OkHttpClient shared, String threadId) {
    return shared.newBuilder()                     // shares the connection pool and dispatcher
        .cookieJar(ConversationCookieJar.builder().threadId(threadId).build())
        .build();
  }
}
// snippet: end
