package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.testsupport.BadInput;
import io.github.affinity4j.testsupport.FuzzSuite;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Collectors;
import okhttp3.Cookie;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.event.Level;

/**
 * Hostile {@code Set-Cookie} headers for {@link ConversationCookieJar}, as OkHttp hands them over
 * ({@link Cookie#parseAll}), over http and https and several hosts, with a store that sometimes
 * fails, and with small random caps. Properties: the jar never throws, never logs an ERROR, and
 * loads a cookie only for a URL it matches; its pin only if a response validly set that value for
 * a URL it applies to; never more cookies than its caps, one over {@value
 * ConversationCookieJar#MAX_COOKIE_BYTES} bytes, or a {@code Cookie} header over its byte limit.
 */
@Tag("fuzz")
@Timeout(600)
final class ConversationCookieJarFuzzTest {
  private static final String COOKIE = AffinityInterceptorFuzzTest.COOKIE;
  private static final List<String> URLS = List.of("https://apim.example.com/openai/threads/thread_1/runs",
      "http://apim.example.com/openai/threads/thread_1", "https://eu.apim.example.com/openai/v1/x",
      "https://example.com/", "https://evil.example/openai", "https://apim.example.com.evil.example/",
      "https://127.0.0.1/openai", "https://azurewebsites.net/", "https://x.azurewebsites.net/");
  private static final List<String> SET_COOKIES = List.of(
      COOKIE + "=%s; Path=/; Secure", COOKIE + "=%s", COOKIE + "=%s; Domain=example.com",
      COOKIE + "=%s; Domain=evil.example", COOKIE + "=%s; Domain=azurewebsites.net", COOKIE + "=%s; Max-Age=0",
      COOKIE + "=%s; Path=/openai/threads", "other=%s; Path=/; Max-Age=60", "other=%s; Domain=.example.com",
      "x=%s; Expires=Wed, 21 Oct 2099 07:28:00 GMT", "big=%s" + "b".repeat(4_090) + "; Path=/",
      "m%s=" + "m".repeat(3_000) + "; Path=/", "m%s=" + "m".repeat(3_000) + "; Domain=example.com",
      "y=%s; Path=/openai", "z=%s; Domain=example.com; Path=/");

  @Test
  void hostileSetCookies_jar_neverThrowsAndLoadsOnlyWhatApplies() {
    FuzzSuite.run("cookie jar", 1_000, 100_000, Duration.ofSeconds(30), (random, index) -> {
      Random faults = new Random(random.nextLong());
      int perDomain = random.nextInt(5);
      int total = random.nextInt(7);
      int headerBytes = BadInput.oneOf(random, 4_097, 7_000, 10_000);
      ConversationCookieJar jar = ConversationCookieJar.builder().threadId("thread_1")
          .store(new FlakyStore(faults)).maxCookiesPerDomain(perDomain).maxCookies(total)
          .maxCookieHeaderBytes(headerBytes).build();
      List<Cookie> accepted = new ArrayList<>();
      try (LogCapture logs = LogCapture.start(false)) {
        for (int round = 0; round < 4; round++) {
          HttpUrl from = HttpUrl.get(BadInput.oneOf(random, URLS));
          Headers.Builder headers = new Headers.Builder();
          int count = random.nextInt(4);
          for (int i = 0; i < count; i++) {
            String header = String.format(BadInput.oneOf(random, SET_COOKIES), "v" + index + "_" + round + "_" + i);
            headers.addUnsafeNonAscii("Set-Cookie", random.nextInt(3) == 0
                ? BadInput.mutate(random, header).replace('\n', ' ').replace('\r', ' ') : header);
          }
          List<Cookie> parsed = Cookie.parseAll(from, headers.build());
          jar.saveFromResponse(from, parsed);
          for (Cookie cookie : parsed) {
            if (!(cookie.secure() && !from.isHttps())) {
              accepted.add(cookie);
            }
          }
          HttpUrl to = HttpUrl.get(BadInput.oneOf(random, URLS));
          List<Cookie> load = jar.loadForRequest(to);
          List<Cookie> others = load.stream().filter(c -> !c.name().equals(COOKIE)).toList();
          assertThat(others).as("loaded for %s", to).hasSizeLessThanOrEqualTo(total)
              .allSatisfy(c -> assertThat(c.name().length() + c.value().length() + c.domain().length()
                  + c.path().length()).isLessThanOrEqualTo(ConversationCookieJar.MAX_COOKIE_BYTES));
          assertThat(others.stream().collect(Collectors.groupingBy(Cookie::domain, Collectors.counting())))
              .allSatisfy((domain, kept) -> assertThat(kept).isLessThanOrEqualTo(perDomain));
          assertThat(load.stream().map(c -> c.name() + "=" + c.value()).collect(Collectors.joining("; ")))
              .hasSizeLessThanOrEqualTo(headerBytes);
          for (Cookie loaded : load) {
            if (loaded.name().equals(COOKIE)) {
              assertThat(accepted).as("pin %s for %s", loaded.value(), to)
                  .anyMatch(c -> c.value().equals(loaded.value()) && c.matches(to));
            } else {
              assertThat(loaded.matches(to)).as("%s loaded for %s", loaded, to).isTrue();
            }
          }
        }
        List<CapturedLog> errors = logs.events().stream().filter(e -> e.level() == Level.ERROR).toList();
        assertThat(errors).isEmpty();
      }
    });
  }

  /** A Caffeine store that throws now and then, as a remote store does. */
  private static final class FlakyStore implements AffinityStore {
    private final AffinityStore delegate = CaffeineAffinityStore.builder().build();
    private final Random random;

    FlakyStore(Random random) {
      this.random = random;
    }

    private void maybeFail() {
      if (random.nextInt(10) == 0) {
        throw new IllegalStateException("store down");
      }
    }

    @Override
    public Optional<AffinityToken> get(ChainKey key) {
      maybeFail();
      return delegate.get(key);
    }

    @Override
    public void put(ChainKey key, AffinityToken token) {
      maybeFail();
      delegate.put(key, token);
    }

    @Override
    public void remove(ChainKey key) {
      maybeFail();
      delegate.remove(key);
    }

    @Override
    public long estimatedSize() {
      return delegate.estimatedSize();
    }
  }
}
