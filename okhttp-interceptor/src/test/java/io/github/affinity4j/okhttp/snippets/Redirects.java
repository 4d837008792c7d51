package io.github.affinity4j.okhttp.snippets;

// snippet: redirects
import io.github.affinity4j.okhttp.AffinityInterceptor;
import okhttp3.OkHttpClient;

final class Redirects {
  static OkHttpClient guarded() {
    return new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().build())
        .addNetworkInterceptor(AffinityInterceptor.redirectGuard())   // sees every hop's real URL
        .build();
  }
}
// snippet: end
