package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.AffinityListener.ChainRepair;
import io.github.affinity4j.core.AffinityStore;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.CaffeineAffinityStore;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testsupport.LogCapture;
import io.github.affinity4j.testsupport.LogCapture.CapturedLog;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import okhttp3.mockwebserver.SocketPolicy;
import okio.BufferedSink;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.slf4j.event.Level;
import reactor.core.publisher.Mono;

/**
 * Secrets and conversation text against every log line this module can write, at every level.
 * Each SLF4J level from TRACE to ERROR in turn is the routing log's level, while a
 * {@link LogCapture} records every event of every logger at every level (so code behind
 * {@code isTraceEnabled()} runs too). One scenario walks every path: Entra ID, affinity, a stream,
 * async, a repair by replay, a repair that fails (amended error), a connection failure on a pinned
 * chain (the repair's {@code IOException}), a body over the bound, a one-shot body, a failing
 * store, a failing listener, a failing credential. Neither an API key, a subscription key, a
 * bearer token, a caller's cookie, a query secret, an affinity cookie value, nor a word the user
 * or the model said may appear in a log event (message, MDC, stack trace), an exception the
 * caller gets, an amended error, a listener event or the {@code toString()} of any object the
 * caller can reach.
 */
@Tag("security")
@Timeout(120)
final class RoutingLogInterceptorSecurityTest {
  private static final MediaType JSON = MediaType.get("application/json");
  private static final Pattern RESPONSE_ID = Pattern.compile("\"id\":\"(resp_[^\"]+)\"");
  private static final String HISTORY = "zebra-history-";

  /** The notes the caller got: header {@link ChainNote#HEADER} of an error, or on an exception. */
  private final List<String> notes = new CopyOnWriteArrayList<>();

  @ParameterizedTest(name = "routing log at {0}")
  @EnumSource(Level.class)
  void everyLevel_everyPath_noSecretOrConversationTextAnywhere(Level level) throws Exception {
    String bearer = "s3cr3t-bearer-" + level;
    List<String> secrets = new ArrayList<>(List.of(bearer, "s3cr3t-api-key", "s3cr3t-subscription",
        "s3cr3t-session", "s3cr3t-query", HISTORY));
    List<String> seen = new ArrayList<>();
    List<String> events = new CopyOnWriteArrayList<>();
    AffinityListener listener = new AffinityListener() {
      @Override
      public void tokenBound(ChainKey key, AffinityToken token, boolean inherited) {
        events.add(key + " " + token);
        if (inherited) {
          throw new IllegalStateException("listener failed on " + key); // a listener's bug: WARN
        }
      }

      @Override
      public void backendChanged(ChainKey key, AffinityToken previous, AffinityToken current) {
        events.add(key + " " + previous + " " + current);
      }

      @Override
      public void repaired(ChainRepair repair) {
        events.add(repair.toString());
      }

      @Override
      public void repairStarted(ChainKey chain, ChainBreak cause) {
        events.add(chain + " " + cause);
      }

      @Override
      public void repairFailed(ChainKey chain, ChainBreak cause, String reason) {
        events.add(chain + " " + cause + " " + reason);
      }
    };
    AffinityStore store = CaffeineAffinityStore.builder().build();
    AffinityInterceptor affinity = AffinityInterceptor.builder().store(store).listener(listener).build();
    EntraIdInterceptor entra = EntraIdInterceptor.builder(credential(bearer, false)).build();
    RoutingLogInterceptor routing = RoutingLogInterceptor.builder()
        .level(RoutingLogInterceptor.Level.HEADERS).logLevel(level).redactHeader("x-custom").build();
    List<OkHttpClient> clients = new ArrayList<>();
    String log;
    String forgotten;
    long forgetfulFailures;
    List<CapturedLog> captured;
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start();
        MockWebServer dead = new MockWebServer();
        LogCapture logs = LogCapture.start()) {
      dead.start(InetAddress.getByName(hostOf(apim.url())), 0);
      OkHttpClient client = client(clients, new OkHttpClient.Builder()
          .addInterceptor(entra).addInterceptor(affinity).addInterceptor(routing));
      String url = apim.openAiBaseUrl() + "/responses?sig=s3cr3t-query";

      // Affinity, a stream, async; then the chain's backend dies and it is repaired by replay.
      String first = id(call(client, url, turn(1, null), seen));
      String second = id(call(client, url, turn(2, first), seen));
      String third = streamedId(call(client, url, turn(3, second).replace("{", "{\"stream\":true,"), seen));
      String fourth = id(async(client, url, turn(4, third), seen));
      String backend = apim.requestLog().get(apim.requestLog().size() - 1).backend();
      apim.backend(backend).kill();
      String fifth = id(call(client, url, turn(5, fourth), seen));
      apim.backend(backend).revive();

      // A repair that fails: the same pins, but a journal that never saw the chain.
      AffinityInterceptor forgetful = AffinityInterceptor.builder().store(store)
          .journal(CaffeineHistoryJournal.builder().build()).listener(listener).build();
      OkHttpClient forgetfulClient = client(clients, new OkHttpClient.Builder()
          .addInterceptor(entra).addInterceptor(forgetful).addInterceptor(routing));
      String last = apim.requestLog().get(apim.requestLog().size() - 1).backend();
      apim.backend(last).kill();
      seen.add(call(forgetfulClient, url, turn(6, fifth), seen));
      forgotten = "response:" + fifth;
      apim.backend(last).revive();

      // A connection failure on a pinned chain: a chain learned on a server that then dies.
      String deadPin = "s3cr3t-dead-pin-" + level;
      secrets.add(deadPin);
      dead.enqueue(new MockResponse().addHeader("Set-Cookie", "APIM-Backend-Affinity=" + deadPin + "; Path=/")
          .setHeader("Content-Type", "application/json")
          .setBody("{\"id\":\"resp_dead_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}")
          .setSocketPolicy(SocketPolicy.DISCONNECT_AT_END));
      for (int i = 0; i < 4; i++) {
        dead.enqueue(new MockResponse().setSocketPolicy(SocketPolicy.DISCONNECT_AT_START));
      }
      OkHttpClient deadClient = client(clients, new OkHttpClient.Builder().retryOnConnectionFailure(false)
          .addInterceptor(entra).addInterceptor(affinity).addInterceptor(routing));
      String deadUrl = dead.url("/openai/v1/responses?sig=s3cr3t-query").newBuilder()
          .host(hostOf(apim.url())).build().toString();
      call(deadClient, deadUrl, turn(7, null), seen);
      call(deadClient, deadUrl, turn(8, "resp_dead_1"), seen);

      // Bodies the interceptors will not read, a failing store, a failing credential.
      OkHttpClient limited = client(clients, new OkHttpClient.Builder()
          .addInterceptor(AffinityInterceptor.builder().maxBodyBytes(16).build())
          .addInterceptor(RoutingLogInterceptor.builder().level(RoutingLogInterceptor.Level.HEADERS)
              .logLevel(level).maxBodyBytes(16).redactHeader("x-custom").build()));
      call(limited, url, turn(8, fifth), seen);
      call(limited, url, oneShot(turn(9, fifth)), seen);
      OkHttpClient storeFailing = client(clients, new OkHttpClient.Builder()
          .addInterceptor(AffinityInterceptor.builder().store(new FailingStore()).build()).addInterceptor(routing));
      call(storeFailing, url, turn(11, fifth), seen);
      OkHttpClient failing = client(clients, new OkHttpClient.Builder()
          .addInterceptor(EntraIdInterceptor.builder(credential(bearer, true)).build())
          .addInterceptor(affinity).addInterceptor(routing));
      call(failing, url, turn(10, fifth), seen);

      apim.requestLog().stream().map(r -> r.issuedCookie()).filter(c -> c != null).forEach(secrets::add);
      apim.requestLog().stream().map(r -> r.affinityCookie()).filter(c -> c != null).forEach(secrets::add);
      seen.addAll(List.of(affinity.toString(), forgetful.toString(), routing.toString(), entra.toString(),
          store.toString(), affinity.journal().toString(), affinity.stats().toString(),
          affinity.repairStats().toString(), forgetful.repairStats().toString(), apim.toString()));
      seen.addAll(events);
      forgetfulFailures = forgetful.repairStats().repairsFailed();
      captured = logs.events();
      log = logs.text();
    } finally {
      clients.forEach(c -> c.dispatcher().executorService().shutdown());
    }

    // Every path ran: the routing log at its level, repairs that worked and failed, the WARNs.
    assertThat(captured).anyMatch(e -> e.level() == level && e.logger().equals(RoutingLogInterceptor.class.getName())
        && e.message().contains("> Authorization: " + RoutingLogInterceptor.REDACTED));
    assertThat(captured).anyMatch(e -> e.level() == Level.TRACE || e.level() == Level.DEBUG);
    assertThat(log).contains("BACKEND CHANGED").contains("repaired by replay").contains("over the 16 byte limit")
        .contains("AffinityStore").contains("AffinityListener").contains("can be written only once");
    // The repairs that failed reached the caller named: the forgetful one's amended error, and the
    // dead backend's connection failure (its replay's connection failed too) as an IOException.
    assertThat(notes).contains("REPAIR_FAILED " + forgotten, "REPAIR_FAILED response:resp_dead_1");
    assertThat(forgetfulFailures).isEqualTo(1);
    assertThat(affinity.repairStats().repairsFailed()).as("the dead backend's chain").isGreaterThanOrEqualTo(1);
    assertThat(String.join("\n", seen)).as("the failing credential's error reached the caller")
        .contains("AADSTS700016");
    assertThat(secrets).hasSizeGreaterThan(8); // affinity cookies were issued and sent
    seen.add(log);
    seen.addAll(notes);
    for (String text : seen) {
      for (String secret : secrets) {
        assertThat(text).doesNotContain(secret);
      }
    }
  }

  // --- the scenario's pieces ---

  private static String turn(int n, String previous) {
    return "{\"model\":\"m\",\"input\":\"" + HISTORY + n + " the plan is in the garden\""
        + (previous == null ? "" : ",\"previous_response_id\":\"" + previous + "\"") + "}";
  }

  private static RequestBody oneShot(String json) {
    return new RequestBody() {
      @Override
      public MediaType contentType() {
        return JSON;
      }

      @Override
      public boolean isOneShot() {
        return true;
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        sink.writeUtf8(json);
      }
    };
  }

  private static Request request(String url, Object body) {
    return new Request.Builder().url(url)
        .post(body instanceof RequestBody b ? b : RequestBody.create((String) body, JSON))
        .header("api-key", "s3cr3t-api-key")
        .header("Ocp-Apim-Subscription-Key", "s3cr3t-subscription")
        .header("x-custom", "s3cr3t-api-key")
        .header("Cookie", "session=s3cr3t-session")
        .build();
  }

  /**
   * The body, or the exception's every line (toString, causes, suppressed) added to {@code seen};
   * its note (header or exception) added to {@link #notes}.
   */
  private String call(OkHttpClient client, String url, Object body, List<String> seen) {
    try (Response response = client.newCall(request(url, body)).execute()) {
      String text = response.body().string();
      if (!response.isSuccessful()) {
        seen.add(text); // an error body, which a repair may have amended; answers are the caller's own
      }
      notes.addAll(response.headers(ChainNote.HEADER));
      return text;
    } catch (IOException e) {
      seen.add(stack(e));
      ChainNote.find(e).ifPresent(note -> notes.add(note.headerValue()));
      return "";
    }
  }

  private static String async(OkHttpClient client, String url, String body, List<String> seen) throws Exception {
    CompletableFuture<String> result = new CompletableFuture<>();
    client.newCall(request(url, body)).enqueue(new Callback() {
      @Override
      public void onFailure(Call call, IOException e) {
        result.completeExceptionally(e);
      }

      @Override
      public void onResponse(Call call, Response response) throws IOException {
        try (response) {
          result.complete(response.body().string());
        }
      }
    });
    return result.get(30, TimeUnit.SECONDS);
  }

  private static String stack(Throwable e) {
    StringWriter out = new StringWriter();
    e.printStackTrace(new PrintWriter(out));
    return out.toString();
  }

  private static String id(String body) {
    Matcher matcher = RESPONSE_ID.matcher(body);
    assertThat(matcher.find()).as("a response id in %s", body).isTrue();
    return matcher.group(1);
  }

  private static String streamedId(String stream) {
    return id(stream.substring(stream.indexOf("response.completed")));
  }

  private static String hostOf(String url) {
    return okhttp3.HttpUrl.get(url).host();
  }

  private static OkHttpClient client(List<OkHttpClient> clients, OkHttpClient.Builder builder) {
    OkHttpClient client = builder.build();
    clients.add(client);
    return client;
  }

  private static TokenCredential credential(String bearer, boolean failing) {
    return new TokenCredential() {
      @Override
      public Mono<AccessToken> getToken(TokenRequestContext context) {
        return Mono.fromCallable(() -> getTokenSync(context));
      }

      @Override
      public AccessToken getTokenSync(TokenRequestContext context) {
        if (failing) {
          throw new IllegalStateException("AADSTS700016: the directory is down");
        }
        return new AccessToken(bearer, OffsetDateTime.now(ZoneOffset.UTC).plusHours(1));
      }
    };
  }

  /** A store whose every call fails, with a message of its own. */
  private static final class FailingStore implements AffinityStore {
    @Override
    public Optional<AffinityToken> get(ChainKey key) {
      throw new IllegalStateException("store down on get " + key);
    }

    @Override
    public void put(ChainKey key, AffinityToken token) {
      throw new IllegalStateException("store down on put " + key + " " + token);
    }

    @Override
    public void remove(ChainKey key) {
      throw new IllegalStateException("store down on remove " + key);
    }

    @Override
    public long estimatedSize() {
      throw new IllegalStateException("store down on size");
    }
  }
}
