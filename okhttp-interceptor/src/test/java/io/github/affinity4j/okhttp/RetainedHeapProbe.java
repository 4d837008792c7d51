package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainScope;
import java.io.IOException;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The child JVM of {@link StoredHeaderBoundsTest}'s heap check, run with {@code -Xmx256m}, and the
 * traffic both use. It fills {@link AffinityInterceptor}'s store and {@link RoutingLogInterceptor}'s
 * chain cache to their default bounds (100 000 chains) with answers whose region header has 2 000
 * characters, a different one per chain, and whose affinity cookie has a 2 000-character
 * {@code Path} on every other chain. Before the caps each chain kept its region and path (about
 * 300 MiB in all) and this ran out of heap. Prints one result line and exits 0; an
 * {@link OutOfMemoryError} exits non-zero.
 *
 * <p>The answers come from an in-process gateway, the last interceptor of a real
 * {@link OkHttpClient}: what the interceptors keep is the same as over a socket, and 100 000
 * exchanges take seconds instead of minutes. {@link StoredHeaderBoundsTest} sends the same traffic
 * over loopback for 1 000 chains.
 */
final class RetainedHeapProbe {
  static final String RESULT = "retained-heap-probe";
  static final int CHAINS = (int) CaffeineAffinityStore.DEFAULT_MAXIMUM_SIZE;
  static final int HEADER_CHARS = 2_000;
  static final String COOKIE = "APIM-Backend-Affinity";
  static final MediaType JSON = MediaType.get("application/json");

  private RetainedHeapProbe() {}

  public static void main(String[] args) throws IOException {
    CaffeineAffinityStore store = CaffeineAffinityStore.builder().build();
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder().logger(line -> { }).build();
    int[] next = {0};
    Interceptor gateway = chain -> {
      int number = next[0]++;
      return new Response.Builder().request(chain.request()).protocol(Protocol.HTTP_1_1).code(200)
          .message("OK")
          .header("x-ms-region", region(number))
          .header("Set-Cookie", setCookie(number))
          .body(ResponseBody.create(body(number), JSON))
          .build();
    };
    AffinityInterceptor affinity = AffinityInterceptor.builder().store(store).build();
    ChainScope scope = affinity.scopeOf(newTurn("https://gateway.test/openai/v1/responses"));
    OkHttpClient client = new OkHttpClient.Builder()
        .addInterceptor(affinity)
        .addInterceptor(routing)
        .addInterceptor(gateway)
        .build();
    for (int chain = 0; chain < CHAINS; chain++) {
      try (Response response = client.newCall(newTurn("https://gateway.test/openai/v1/responses"))
          .execute()) {
        response.body().string();
      }
    }
    int pinned = 0;
    long storedChars = 0;
    for (int chain = 0; chain < CHAINS; chain++) {
      AffinityToken token = store.get(ChainKey.response(id(chain)).in(scope)).orElse(null);
      if (token != null) {
        pinned++;
        storedChars += storedChars(token);
      }
    }
    long rememberedChars = routing.rememberedStrings().stream().mapToLong(String::length).sum();
    Runtime runtime = Runtime.getRuntime();
    System.gc();
    System.out.println(RESULT + " chains=" + CHAINS + " pinned=" + pinned + " storedChars=" + storedChars
        + " rememberedChars=" + rememberedChars
        + " usedMiB=" + ((runtime.totalMemory() - runtime.freeMemory()) >> 20)
        + " maxMiB=" + (runtime.maxMemory() >> 20));
  }

  /** Characters of the gateway-chosen strings a token holds besides the cookie itself. */
  static long storedChars(AffinityToken token) {
    String region = token.routing().region();
    return token.path().length() + token.domain().length() + (region == null ? 0 : region.length());
  }

  static Request newTurn(String url) {
    return new Request.Builder().url(url)
        .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}", JSON))
        .build();
  }

  static String id(int chain) {
    return "resp_" + chain;
  }

  static String body(int chain) {
    return "{\"id\":\"" + id(chain) + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}";
  }

  /** A 2 000-character region no two chains share, so no interner can fold them. */
  static String region(int chain) {
    String prefix = "region-" + chain + "-";
    return prefix + "r".repeat(HEADER_CHARS - prefix.length());
  }

  /** Sets the affinity cookie {@code backend-<chain>}, with a 2 000-character Path on odd chains. */
  static String setCookie(int chain) {
    String path = "/";
    if (chain % 2 == 1) {
      String prefix = "/openai/" + chain + "/";
      path = prefix + "p".repeat(HEADER_CHARS - prefix.length());
    }
    return COOKIE + "=" + cookieValue(chain) + "; Path=" + path;
  }

  static String cookieValue(int chain) {
    return "backend-" + chain;
  }
}
