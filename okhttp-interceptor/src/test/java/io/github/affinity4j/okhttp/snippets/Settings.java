package io.github.affinity4j.okhttp.snippets;

// snippet: interceptor-settings
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

final class Settings {
  private static final Logger logger = LoggerFactory.getLogger(Settings.class);

  static AffinityInterceptor interceptor() {
    return AffinityInterceptor.builder()
        .cookieNames("APIM-Backend-Affinity", "SessionId")   // as your backend pools name it
        .store(CaffeineAffinityStore.builder().maximumSize(200_000).build())
        .listener(new AffinityListener() {
          @Override
          public void backendChanged(ChainKey chain, AffinityToken before, AffinityToken after) {
            logger.info("{} moved from {} to {}", chain, before, after);   // tokens print as fingerprints
          }
        })
        .build();
  }
}
// snippet: end
