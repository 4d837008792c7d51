package io.github.affinity4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.github.affinity4j.okhttp.RoutingLogInterceptor;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(60)
final class ProbeCommandTest {
  private static final Pattern SUMMARY = Pattern.compile(
      "probe: conversations=(\\d+) survived=(\\d+) turns_ok=(\\d+) turns_failed=(\\d+) "
          + "repairs=(\\d+) backends=(.*)");
  private static final Pattern TURN = Pattern.compile(
      "conversation=(\\d+) turn=(\\d+) status=(\\S+) region=(\"[^\"]*\"|\\S+) request_id=(\\S+) "
          + "apim_request_id=(\\S+) pin=(\\S+)(?: pin_set=(\\S+))? repaired=(yes|no)"
          + "(?: items_replayed=\\d+)? latency_ms=(\\d+)(?: error=(\\S+) detail=.*)?");

  private ApimSimulator apim;

  @AfterEach
  void stop() {
    if (apim != null) {
      apim.close();
    }
  }

  @Test
  void probe_roundRobinPoolWithAffinity4j_everyConversationSurvivesSpread_exit0() {
    apim = ApimSimulator.builder().backends(3).start();

    CommandOutput result = probe("--conversations", "6", "--turns", "4");

    assertThat(result.exitCode()).isZero();
    assertThat(summary(result)).isEqualTo(
        "probe: conversations=6 survived=6 turns_ok=24 turns_failed=0 repairs=0 "
            + "backends=East US:8,Sweden Central:8,West US:8");
    List<Matcher> turns = turns(result);
    assertThat(turns).hasSize(24).allSatisfy(turn -> {
      assertThat(turn.group(3)).isEqualTo("200");
      assertThat(turn.group(5)).isNotEqualTo("-");   // x-request-id
      assertThat(turn.group(6)).isNotEqualTo("-");   // apim-request-id
      assertThat(turn.group(9)).isEqualTo("no");
    });
    for (int c = 1; c <= 6; c++) {
      List<Matcher> conversation = conversation(turns, c);
      // Turn 1 carries no pin and gets one; every later turn carries that one, to the same region.
      assertThat(conversation.get(0).group(7)).isEqualTo("-");
      String pin = conversation.get(0).group(8);
      assertThat(pin).matches("[0-9a-f]{8}");
      assertThat(conversation).extracting(turn -> turn.group(4)).containsOnly(conversation.get(0).group(4));
      assertThat(conversation.subList(1, 4)).extracting(turn -> turn.group(7)).containsOnly(pin);
    }
    assertThat(apim.requestLog()).hasSize(24);
  }

  @Test
  void probe_noAffinity4jOnRoundRobinPool_summaryShowsBrokenConversations_exit1() {
    apim = ApimSimulator.builder().backends(3).start();

    CommandOutput result = probe("--no-affinity4j", "--conversations", "6", "--turns", "4");

    assertThat(result.exitCode()).isEqualTo(1);
    Matcher summary = SUMMARY.matcher(summary(result));
    assertThat(summary.matches()).isTrue();
    assertThat(summary.group(2)).isEqualTo("0");                       // survived
    assertThat(summary.group(3)).isEqualTo("6");                       // turns_ok: the first turns
    assertThat(summary.group(4)).isEqualTo("6");                       // turns_failed: every turn 2
    assertThat(summary.group(5)).isEqualTo("0");                       // repairs
    List<Matcher> failed = turns(result).stream().filter(turn -> turn.group(11) != null).toList();
    assertThat(failed).hasSize(6).allSatisfy(turn -> {
      assertThat(turn.group(2)).isEqualTo("2");
      assertThat(turn.group(3)).isEqualTo("400");
      assertThat(turn.group(11)).isEqualTo("previous_response_not_found");
    });
    assertThat(result.out()).contains("# conversation 1 broke at turn 2: turns 3-4 not sent");
  }

  @Test
  void probe_stream_streamsEveryTurnAndEveryConversationSurvives() {
    apim = ApimSimulator.builder().backends(3).recordRequestBodies(true).start();

    CommandOutput result = probe("--stream", "--conversations", "3", "--turns", "3");

    assertThat(result.exitCode()).isZero();
    assertThat(summary(result)).isEqualTo(
        "probe: conversations=3 survived=3 turns_ok=9 turns_failed=0 repairs=0 "
            + "backends=East US:3,Sweden Central:3,West US:3");
    assertThat(apim.requestLog()).hasSize(9)
        .allSatisfy(request -> assertThat(request.body()).contains("\"stream\":true"));
  }

  @Test
  void probe_gatewayWithoutAffinity_affinity4jRepairsEveryBreak_linesSayRepaired() {
    apim = ApimSimulator.builder().backends(3).sessionAffinity(false).start();

    CommandOutput result = probe("--conversations", "2", "--turns", "3");

    assertThat(result.exitCode()).isZero();
    Matcher summary = SUMMARY.matcher(summary(result));
    assertThat(summary.matches()).isTrue();
    assertThat(summary.group(2)).isEqualTo("2");
    long repairedLines = turns(result).stream().filter(turn -> turn.group(9).equals("yes")).count();
    assertThat(repairedLines).isPositive();
    assertThat(summary.group(5)).isEqualTo(String.valueOf(repairedLines));
    assertThat(result.out()).contains("repaired=yes items_replayed=");
  }

  @Test
  void probe_cookieName_pinsWithThePoolsCookie() {
    apim = ApimSimulator.builder().backends(3).cookieName("SessionId").start();

    CommandOutput named = probe("--cookie-name", "SessionId", "--conversations", "3", "--turns", "3");
    CommandOutput unnamed = probe("--conversations", "2", "--turns", "2");

    // With the pool's cookie name every turn is pinned; with the default name nothing is, and
    // every continued turn breaks (repaired by replay).
    assertThat(named.exitCode()).isZero();
    assertThat(summary(named)).contains(" repairs=0 ");
    assertThat(turns(named)).filteredOn(turn -> turn.group(2).equals("2"))
        .allSatisfy(turn -> assertThat(turn.group(7)).matches("[0-9a-f]{8}"));
    assertThat(summary(unnamed)).doesNotContain(" repairs=0 ");
    assertThat(turns(unnamed)).allSatisfy(turn -> assertThat(turn.group(7)).isEqualTo("-"));
  }

  @Test
  void probe_poolNamesItsCookieOtherwise_listsTheNamesSeenAndSaysNoneIsConfigured(@TempDir Path dir)
      throws IOException {
    apim = ApimSimulator.builder().backends(3).cookieName("SessionId").start();
    Path report = dir.resolve("probe.html");

    CommandOutput result = probe("--conversations", "2", "--turns", "2", "--report", report.toString());

    assertThat(cookieNames(result)).containsExactly("SessionId");
    assertThat(result.linesStartingWith("# " + ProbeCommand.NOT_CONFIGURED)).singleElement()
        .satisfies(line -> assertThat(line).contains(ProbeCommand.DEFAULT_COOKIE_NAME, "--cookie-name SessionId"));
    assertThat(Files.readString(report)).contains(ProbeCommand.COOKIES_SEEN + "SessionId",
        ProbeCommand.NOT_CONFIGURED);
    List<String> values = apim.requestLog().stream().map(LoggedRequest::issuedCookie)
        .filter(Objects::nonNull).toList();
    assertThat(values).isNotEmpty();
    for (String text : List.of(result.out(), result.err(), Files.readString(report))) {
      assertThat(text).doesNotContain(values.toArray(String[]::new));
    }
  }

  @Test
  void probe_poolUsesTheConfiguredName_listsItAndSaysNothingMore() {
    apim = ApimSimulator.builder().backends(3).cookieName("SessionId").start();

    CommandOutput named = probe("--cookie-name", "SessionId", "--conversations", "2", "--turns", "2");
    CommandOutput plain = probe("--no-affinity4j", "--cookie-name", "SessionId", "--conversations", "1",
        "--turns", "1");

    for (CommandOutput result : List.of(named, plain)) {
      assertThat(cookieNames(result)).containsExactly("SessionId");
      assertThat(result.linesStartingWith("# " + ProbeCommand.NOT_CONFIGURED)).isEmpty();
    }
  }

  @Test
  void probe_report_writesSelfContainedHtmlWithCharts(@TempDir Path dir) throws IOException {
    apim = ApimSimulator.builder().backends(3).start();
    Path report = dir.resolve("reports/probe.html");

    CommandOutput result = probe("--conversations", "3", "--turns", "3", "--report", report.toString());

    assertThat(result.exitCode()).isZero();
    assertThat(result.out()).contains("# report written to " + report.toAbsolutePath());
    String html = Files.readString(report);
    assertThat(html).startsWith("<!DOCTYPE html>")
        .contains("<svg", "Turns answered per region", "Latency per turn", "East US", "West US",
            "Sweden Central", "<circle", summary(result))
        .doesNotContain("<script", "src=", "<link", "url(", "@import");
    // The last line is still the summary.
    assertThat(result.lines().get(result.lines().size() - 1)).startsWith("probe: conversations=3 ");
  }

  @Test
  void probe_secrets_neverPrintedNorInDebugLogs_butSentToTheGateway(@TempDir Path dir) throws IOException {
    String subscriptionKey = "s3cr3t-subscription-key";
    String headerSecret = "s3cr3t-header-value";
    String loggingBefore = System.getProperty(DebugLogging.PROPERTY);
    try (RecordingGateway gateway = new RecordingGateway()) {
      Path report = dir.resolve("probe.html");
      CommandOutput result;
      ByteArrayOutputStream debugLog = new ByteArrayOutputStream();
      PrintStream stderr = System.err;
      System.setErr(new PrintStream(debugLog, true, StandardCharsets.UTF_8));
      try {
        result = CommandOutput.run("probe",
            "--base-url", gateway.url() + "?subscription-key=" + subscriptionKey,
            "--subscription-key", subscriptionKey, "--header", "X-Tenant-Token: " + headerSecret,
            "--conversations", "1", "--turns", "2", "--debug", "--report", report.toString());
      } finally {
        System.setErr(stderr);
      }

      assertThat(result.exitCode()).isZero();
      // --debug set the property for the run only.
      assertThat(System.getProperty(DebugLogging.PROPERTY)).isEqualTo(loggingBefore);
      // Sent: the subscription key (also as api-key, there being no API key) and the header.
      assertThat(gateway.requests).hasSize(2).allSatisfy(headers -> {
        assertThat(headers.get(":query")).isEqualTo("subscription-key=" + subscriptionKey);
        assertThat(headers.get("ocp-apim-subscription-key")).isEqualTo(subscriptionKey);
        assertThat(headers.get("api-key")).isEqualTo(subscriptionKey);
        assertThat(headers.get("x-tenant-token")).isEqualTo(headerSecret);
      });
      assertThat(gateway.requests.get(1).get("cookie"))
          .isEqualTo("APIM-Backend-Affinity=" + RecordingGateway.COOKIE);
      // Never shown: not in the output, the report, the SDK's debug log or ours.
      String log = debugLog.toString(StandardCharsets.UTF_8);
      assertThat(log).contains("--> POST");                       // the SDK's own log was on
      // So was ours (this is the first use of RoutingLogInterceptor in the JVM: slf4j-simple sets a
      // logger's level when the logger is made), with the extra header and the key redacted.
      assertThat(log)
          .contains("DEBUG io.github.affinity4j.okhttp.RoutingLogInterceptor - POST /openai/v1/responses 200")
          .contains("> X-Tenant-Token: " + RoutingLogInterceptor.REDACTED,
              "> Ocp-Apim-Subscription-Key: " + RoutingLogInterceptor.REDACTED);
      assertThat(result.out()).contains("headers=X-Tenant-Token", "auth=subscription-key");
      for (String text : List.of(result.out(), result.err(), log, Files.readString(report))) {
        assertThat(text).doesNotContain(subscriptionKey, headerSecret, RecordingGateway.COOKIE);
      }
    }
  }

  @Test
  void probe_unreachableGateway_turnFailsWithTheCause_exit1() throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }

    CommandOutput result = CommandOutput.run("probe", "--base-url", "http://127.0.0.1:" + port + "/openai/v1",
        "--api-key", "test", "--conversations", "1", "--turns", "2");

    assertThat(result.exitCode()).isEqualTo(1);
    assertThat(summary(result)).isEqualTo(
        "probe: conversations=1 survived=0 turns_ok=0 turns_failed=1 repairs=0 backends=");
    assertThat(turns(result)).singleElement().satisfies(turn -> {
      assertThat(turn.group(3)).isEqualTo("-");
      assertThat(turn.group(11)).isEqualTo("ConnectException");
    });
  }

  @Test
  void probe_usageErrors_exit2WithoutEchoingSecrets() {
    String url = "http://127.0.0.1:1/openai/v1";

    CommandOutput noCredential = CommandOutput.run("probe", "--base-url", url);
    CommandOutput bothBearers = CommandOutput.run("probe", "--base-url", url, "--api-key", "k-123", "--entra");
    CommandOutput badHeader = CommandOutput.run("probe", "--base-url", url, "--api-key", "k-123",
        "--header", "no-colon-s3cr3t");
    CommandOutput badUrl = CommandOutput.run("probe", "--base-url", "my-apim", "--api-key", "k-123");
    CommandOutput noTurns = CommandOutput.run("probe", "--base-url", url, "--api-key", "k-123", "--turns", "0");

    for (CommandOutput result : List.of(noCredential, bothBearers, badHeader, badUrl, noTurns)) {
      assertThat(result.exitCode()).isEqualTo(2);
      assertThat(result.out()).doesNotContain("probe: conversations=");
    }
    assertThat(noCredential.err()).contains("give --api-key, --subscription-key or --entra");
    assertThat(bothBearers.err()).contains("not both");
    assertThat(badHeader.err()).contains("'Name: value'").doesNotContain("s3cr3t");
    assertThat(badUrl.err()).contains("--base-url must be an http or https URL");
    assertThat(noTurns.err()).contains("--turns must be 1 or more");
  }

  // --- helpers ---

  private CommandOutput probe(String... options) {
    List<String> args = new ArrayList<>(
        List.of("probe", "--base-url", apim.openAiBaseUrl(), "--api-key", "test"));
    args.addAll(List.of(options));
    return CommandOutput.run(args.toArray(String[]::new));
  }

  /** The one summary line, which is the last line. */
  private static String summary(CommandOutput result) {
    List<String> summaries = result.linesStartingWith("probe:");
    assertThat(summaries).hasSize(1);
    assertThat(result.lines().get(result.lines().size() - 1)).isEqualTo(summaries.get(0));
    return summaries.get(0);
  }

  /** The cookie names of the one {@code # cookies set by the gateway: } line. */
  private static List<String> cookieNames(CommandOutput result) {
    String prefix = "# " + ProbeCommand.COOKIES_SEEN;
    List<String> lines = result.linesStartingWith(prefix);
    assertThat(lines).hasSize(1);
    return List.of(lines.get(0).substring(prefix.length()).split(","));
  }

  private static List<Matcher> turns(CommandOutput result) {
    List<Matcher> turns = new ArrayList<>();
    for (String line : result.linesStartingWith("conversation=")) {
      Matcher matcher = TURN.matcher(line);
      assertThat(matcher.matches()).as(line).isTrue();
      turns.add(matcher);
    }
    return turns;
  }

  private static List<Matcher> conversation(List<Matcher> turns, int conversation) {
    return turns.stream().filter(turn -> turn.group(1).equals(String.valueOf(conversation))).toList();
  }

  /**
   * A gateway that records each request's headers and answers every {@code POST /responses} with
   * a canned response and an affinity cookie.
   */
  private static final class RecordingGateway implements AutoCloseable {
    static final String COOKIE = "s3cr3t-affinity-cookie-value";
    final List<Map<String, String>> requests = Collections.synchronizedList(new ArrayList<>());
    private final HttpServer server;
    private final AtomicInteger ids = new AtomicInteger();

    RecordingGateway() throws IOException {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
      server.createContext("/", exchange -> {
        Map<String, String> headers = new java.util.TreeMap<>();
        exchange.getRequestHeaders().forEach((name, values) ->
            headers.put(name.toLowerCase(java.util.Locale.ROOT), String.join(",", values)));
        headers.put(":query", exchange.getRequestURI().getRawQuery());
        requests.add(headers);
        exchange.getRequestBody().readAllBytes();
        int id = ids.incrementAndGet();
        byte[] body = ("{\"id\":\"resp_" + id + "\",\"object\":\"response\",\"created_at\":1,"
            + "\"status\":\"completed\",\"model\":\"gpt-4.1\",\"output\":[{\"type\":\"message\","
            + "\"id\":\"msg_" + id + "\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":"
            + "[{\"type\":\"output_text\",\"text\":\"OK\",\"annotations\":[]}]}],"
            + "\"parallel_tool_calls\":true,\"tool_choice\":\"auto\",\"tools\":[]}")
            .getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.getResponseHeaders().set("x-ms-region", "Test Region");
        if (Objects.requireNonNullElse(headers.get("cookie"), "").isEmpty()) {
          exchange.getResponseHeaders().add("Set-Cookie", "APIM-Backend-Affinity=" + COOKIE + "; Path=/");
        }
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      });
      server.start();
    }

    String url() {
      return "http://127.0.0.1:" + server.getAddress().getPort() + "/openai/v1";
    }

    @Override
    public void close() {
      server.stop(0);
    }
  }
}
