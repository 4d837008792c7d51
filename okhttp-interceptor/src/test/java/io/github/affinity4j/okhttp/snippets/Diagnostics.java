package io.github.affinity4j.okhttp.snippets;

// snippet: routing-log
import io.github.affinity4j.okhttp.RoutingLogInterceptor;
import okhttp3.OkHttpClient;

final class Diagnostics {
  static OkHttpClient withRoutingLog() {
    return new OkHttpClient.Builder()
        .addInterceptor(new RoutingLogInterceptor())   // level BASIC, to SLF4J at INFO
        .build();
  }

  static OkHttpClient withHeaders() {
    return new OkHttpClient.Builder()
        .addInterceptor(RoutingLogInterceptor.builder()
            .level(RoutingLogInterceptor.Level.HEADERS)    // the headers too, secrets redacted
            .logLevel(org.slf4j.event.Level.DEBUG)
            .redactHeader("X-Internal-Token")              // beside the built-in ones
            .build())
        .build();
  }
}
// snippet: end
