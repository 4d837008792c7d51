package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.testsupport.LogCapture;
import java.io.IOException;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.RecordedRequest;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.event.Level;

/**
 * Issue 14, row 2: the pin goes only to the URL a request is finally sent to. A gateway answers a
 * pinned turn with a 307 to another origin (another port; https to plain http); OkHttp follows it
 * below the application interceptors, with their headers.
 */
@Timeout(30)
final class RedirectGuardTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final String PIN = "s3cr3t-pin";

  private final MockWebServer gateway = new MockWebServer();
  private final MockWebServer elsewhere = new MockWebServer();
  private HandshakeCertificates clientTrust;

  @BeforeEach
  void start() throws IOException {
    String host = InetAddress.getLoopbackAddress().getHostName();
    HeldCertificate certificate = new HeldCertificate.Builder().addSubjectAlternativeName(host).build();
    HandshakeCertificates serverCertificates = new HandshakeCertificates.Builder()
        .heldCertificate(certificate).build();
    clientTrust = new HandshakeCertificates.Builder().addTrustedCertificate(certificate.certificate()).build();
    gateway.useHttps(serverCertificates.sslSocketFactory(), false);
    gateway.start(InetAddress.getLoopbackAddress(), 0);
    elsewhere.start(InetAddress.getLoopbackAddress(), 0);
  }

  @AfterEach
  void stop() throws IOException {
    gateway.shutdown();
    elsewhere.shutdown();
  }

  @Test
  void pinnedTurn_redirectedFromHttpsToAnotherOriginOverHttp_guardLeavesThePinBehind() throws Exception {
    OkHttpClient client = client().addNetworkInterceptor(AffinityInterceptor.redirectGuard()).build();

    RecordedRequest redirected = pinThenRedirect(client);

    assertThat(redirected.getHeader("Cookie")).isNull();
    assertThat(redirected.getHeader("X-Caller")).isEqualTo("kept"); // the caller's own headers go on
    assertThat(redirected.getBody().readUtf8()).contains("resp_1");
  }

  @Test
  void pinnedTurn_redirectedWithinTheSameOrigin_pinStays() throws Exception {
    OkHttpClient client = client().addNetworkInterceptor(AffinityInterceptor.redirectGuard()).build();
    gateway.enqueue(created("resp_1").addHeader("Set-Cookie", "APIM-Backend-Affinity=" + PIN + "; Path=/; Secure"));
    gateway.enqueue(new MockResponse().setResponseCode(307).setHeader("Location", "/moved/v1/responses"));
    gateway.enqueue(created("resp_2"));

    post(client, gateway.url("/openai/v1/responses").toString(), null);
    post(client, gateway.url("/openai/v1/responses").toString(), "resp_1");

    gateway.takeRequest();
    assertThat(gateway.takeRequest().getHeader("Cookie")).isEqualTo("APIM-Backend-Affinity=" + PIN);
    assertThat(gateway.takeRequest().getHeader("Cookie")).isEqualTo("APIM-Backend-Affinity=" + PIN);
  }

  @Test
  void pinnedTurn_redirectedWithinTheOriginWithoutTheGuard_noWarn() throws Exception {
    OkHttpClient client = client().build();
    gateway.enqueue(created("resp_1").addHeader("Set-Cookie", "APIM-Backend-Affinity=" + PIN + "; Path=/; Secure"));
    gateway.enqueue(new MockResponse().setResponseCode(307).setHeader("Location", "/moved/v1/responses"));
    gateway.enqueue(created("resp_2"));

    try (LogCapture logs = LogCapture.start()) {
      post(client, gateway.url("/openai/v1/responses").toString(), null);
      post(client, gateway.url("/openai/v1/responses").toString(), "resp_1");

      assertThat(logs.events()).filteredOn(e -> e.level() == Level.WARN).isEmpty();
    }
  }

  @Test
  void pinnedTurn_redirectedWithoutTheGuard_oneWarnSaysToInstallIt() throws Exception {
    OkHttpClient client = client().build();

    try (LogCapture logs = LogCapture.start()) {
      pinThenRedirect(client);
      pinThenRedirect(client);

      assertThat(logs.events()).filteredOn(e -> e.level() == Level.WARN
          && e.logger().equals(AffinityInterceptor.class.getName())).hasSize(1);
      assertThat(logs.text()).doesNotContain(PIN);
    }
  }

  /** A first turn that sets a Secure pin over https, then a pinned turn answered by a 307 to plain http. */
  private RecordedRequest pinThenRedirect(OkHttpClient client) throws Exception {
    String target = elsewhere.url("/other/v1/responses").toString();
    gateway.enqueue(created("resp_1").addHeader("Set-Cookie", "APIM-Backend-Affinity=" + PIN + "; Path=/; Secure"));
    gateway.enqueue(new MockResponse().setResponseCode(307).setHeader("Location", target));
    elsewhere.enqueue(created("resp_2"));

    post(client, gateway.url("/openai/v1/responses").toString(), null);
    post(client, gateway.url("/openai/v1/responses").toString(), "resp_1");

    gateway.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest pinned = gateway.takeRequest(5, TimeUnit.SECONDS);
    assertThat(pinned.getHeader("Cookie")).isEqualTo("APIM-Backend-Affinity=" + PIN);
    return elsewhere.takeRequest(5, TimeUnit.SECONDS);
  }

  private OkHttpClient.Builder client() {
    return new OkHttpClient.Builder()
        .sslSocketFactory(clientTrust.sslSocketFactory(), clientTrust.trustManager())
        .addInterceptor(chain -> chain.proceed(chain.request().newBuilder().header("X-Caller", "kept").build()))
        .addInterceptor(AffinityInterceptor.builder().build());
  }

  private static MockResponse created(String id) {
    return new MockResponse().setHeader("Content-Type", "application/json")
        .setBody("{\"id\":\"" + id + "\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}");
  }

  private static void post(OkHttpClient client, String url, String previous) throws IOException {
    String json = "{\"model\":\"m\",\"input\":\"hi\""
        + (previous == null ? "" : ",\"previous_response_id\":\"" + previous + "\"") + "}";
    try (Response response = client.newCall(new Request.Builder().url(url)
        .post(RequestBody.create(json, JSON)).build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
      response.body().string();
    }
  }
}
