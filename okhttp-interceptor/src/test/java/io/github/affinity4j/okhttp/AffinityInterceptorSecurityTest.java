package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.ChainKey;
import java.time.Duration;
import java.util.List;
import okhttp3.Cookie;
import okhttp3.Headers;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Where a pin may go. A response sets the affinity cookie; the next turn of its chain goes to
 * another URL; the pin goes with it only where RFC 6265 lets a browser send that cookie. A response
 * cannot make {@link AffinityInterceptor} or {@link ConversationCookieJar} send a cookie to another
 * domain ({@code Domain=evil.example}, a public suffix, a look-alike host), a {@code Secure} pin
 * never travels over plain http, and one set over plain http is never kept. The interceptor runs on
 * a real client before a {@link FakeGateway}, so https and any host name can be used.
 */
@Tag("security")
@Timeout(60)
final class AffinityInterceptorSecurityTest {
  private static final String COOKIE = "APIM-Backend-Affinity";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final String PIN = "s3cr3t-pin-value";

  /** from | Set-Cookie attributes | to | is the pin sent */
  private static final String TABLE = """
      https://apim.example.com/openai/v1/responses   | Path=/                           | https://apim.example.com/openai/v1/responses        | true
      https://apim.example.com/openai/v1/responses   | Path=/                           | https://eu.apim.example.com/openai/v1/responses     | false
      https://apim.example.com/openai/v1/responses   | Path=/                           | https://evil.example/openai/v1/responses            | false
      https://apim.example.com/openai/v1/responses   | Path=/                           | https://apim.example.com.evil.example/v1/responses  | false
      https://apim.example.com/openai/v1/responses   | Domain=evil.example              | https://evil.example/openai/v1/responses            | false
      https://apim.example.com/openai/v1/responses   | Domain=evil.example              | https://apim.example.com/openai/v1/responses        | false
      # A pin belongs to the origin it was learned from (ChainScope): even a cookie whose Domain covers
      # another host is not sent there, since that host may be another tenant's gateway.
      https://apim.example.com/openai/v1/responses   | Domain=example.com               | https://other.example.com/openai/v1/responses       | false
      https://apim.example.com/openai/v1/responses   | Domain=example.com               | https://example.com.evil.example/openai/v1/responses| false
      https://apim.example.com/openai/v1/responses   | Domain=example.com               | https://notexample.com/openai/v1/responses          | false
      https://apim.example.com/openai/v1/responses   | Domain=.apim.example.com         | https://eu.apim.example.com/openai/v1/responses     | false
      https://apim.example.com/openai/v1/responses   | Domain=.apim.example.com         | https://apim.example.com/openai/v1/responses        | true
      https://apim.example.com/openai/v1/responses   | Domain=com                       | https://evil.com/openai/v1/responses                | false
      https://apim.example.com/openai/v1/responses   | Domain=com                       | https://apim.example.com/openai/v1/responses        | false
      https://apim.example.co.uk/openai/v1/responses | Domain=co.uk                     | https://evil.co.uk/openai/v1/responses              | false
      https://my.azurewebsites.net/v1/responses      | Domain=azurewebsites.net         | https://evil.azurewebsites.net/v1/responses         | false
      # azure-api.net is not on the Public Suffix List, so like example.com it may be a cookie's domain
      # (RFC 6265); the pin still stays with the host that set it.
      https://my.azure-api.net/openai/v1/responses   | Domain=azure-api.net             | https://other.azure-api.net/openai/v1/responses     | false
      https://my.azure-api.net/openai/v1/responses   | Domain=azure-api.net             | https://my.azure-api.net/openai/v1/responses        | true
      https://apim.example.com/openai/v1/responses   | Path=/                           | https://apim.example.com:8443/openai/v1/responses   | false
      https://127.0.0.1/openai/v1/responses          | Path=/                           | https://127.0.0.2/openai/v1/responses               | false
      https://127.0.0.1/openai/v1/responses          | Domain=0.0.1                     | https://10.0.0.1/openai/v1/responses                | false
      https://apim.example.com/openai/v1/responses   | Path=/; Secure                   | https://apim.example.com/openai/v1/responses        | true
      https://apim.example.com/openai/v1/responses   | Path=/; Secure                   | http://apim.example.com/openai/v1/responses         | false
      http://apim.example.com/openai/v1/responses    | Path=/; Secure                   | https://apim.example.com/openai/v1/responses        | false
      http://apim.example.com/openai/v1/responses    | Path=/                           | http://apim.example.com/openai/v1/responses         | true
      https://apim.example.com/openai/v1/responses   | Path=/openai                     | https://apim.example.com/openai/v1/responses        | true
      https://apim.example.com/openai/v1/responses   | Path=/openai                     | https://apim.example.com/other/v1/responses         | false
      https://apim.example.com/openai/v1/responses   | Path=/openai                     | https://apim.example.com/openaix/v1/responses       | false
      https://apim.example.com/openai/v1/responses   | Max-Age=0                        | https://apim.example.com/openai/v1/responses        | false
      """;

  @ParameterizedTest(name = "{0} sets {1}; to {2}: {3}")
  @CsvSource(delimiter = '|', textBlock = TABLE)
  void responseSetsCookie_interceptor_sendsThePinOnlyWhereTheCookieApplies(String from, String attributes,
      String to, boolean sent) throws Exception {
    FakeGateway gateway = new FakeGateway();
    OkHttpClient client = new OkHttpClient.Builder()
        .addInterceptor(AffinityInterceptor.builder().retryPause(Duration.ZERO).build())
        .addInterceptor(gateway).build();
    gateway.answer = request -> new Response.Builder().code(200)
        .header("Set-Cookie", COOKIE + "=" + PIN + "; " + attributes)
        .body(ResponseBody.create("{\"id\":\"resp_1\",\"object\":\"response\",\"output\":[]}", JSON));

    post(client, from, "{\"input\":\"Hi\"}");
    gateway.answer = request -> new Response.Builder().code(200)
        .body(ResponseBody.create("{\"id\":\"resp_2\",\"object\":\"response\",\"output\":[]}", JSON));
    post(client, to, "{\"input\":\"Go on\",\"previous_response_id\":\"resp_1\"}");

    String cookie = gateway.received.get(1).cookie();
    if (sent) {
      assertThat(cookie).isEqualTo(COOKIE + "=" + PIN);
    } else {
      assertThat(cookie).as("Cookie header sent to %s", to).isNull();
    }
    client.dispatcher().executorService().shutdown();
  }

  @ParameterizedTest(name = "{0} sets {1}; to {2}: {3}")
  @CsvSource(delimiter = '|', textBlock = TABLE)
  void responseSetsCookie_jar_loadsThePinOnlyWhereTheCookieApplies(String from, String attributes,
      String to, boolean sent) {
    ConversationCookieJar jar = ConversationCookieJar.builder().threadId("thread_1")
        .store(CaffeineAffinityStore.builder().build()).build();
    HttpUrl origin = HttpUrl.get(from);

    jar.saveFromResponse(origin, Cookie.parseAll(origin,
        Headers.of("Set-Cookie", COOKIE + "=" + PIN + "; " + attributes)));
    List<Cookie> loaded = jar.loadForRequest(HttpUrl.get(to));

    assertThat(loaded.stream().anyMatch(c -> c.value().equals(PIN))).isEqualTo(sent);
    assertThat(jar.scope()).isEqualTo(ChainKey.thread("thread_1"));
  }

  private static void post(OkHttpClient client, String url, String json) throws Exception {
    try (Response response = client.newCall(new Request.Builder().url(url)
        .post(RequestBody.create(json, JSON)).build()).execute()) {
      response.body().string();
    }
  }
}
