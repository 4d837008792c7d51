package io.github.affinity4j.examples;

import com.azure.identity.DefaultAzureCredentialBuilder;
import com.openai.azure.credential.AzureApiKeyCredential;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.credential.BearerTokenCredential;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.okhttp.EntraIdInterceptor;
import io.github.affinity4j.openai.AffinityOpenAI;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.SimulatedBackend;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code probe}: runs a few multi-turn conversations against a real gateway, or an embedded
 * {@link ApimSimulator} ({@code --simulator}), and tells whether they survive, which regions served
 * them, and what affinity4j had to repair.
 *
 * <pre>
 * java -jar affinity4j-examples.jar probe \
 *     --base-url https://my-apim.azure-api.net/inference/openai/v1 \
 *     --subscription-key "$APIM_SUBSCRIPTION_KEY" --model gpt-4.1-mini \
 *     --conversations 10 --turns 5 --report probe.html
 * java -jar affinity4j-examples.jar probe --simulator --conversations 6 --turns 3
 * java -jar affinity4j-examples.jar probe --simulator --kill-backend 2 --no-affinity4j
 * </pre>
 *
 * <p>With {@code --simulator} the probe starts a seeded simulator on loopback ({@code --backends},
 * default 3, round-robin, cookie affinity), needs no key, and with {@code --kill-backend N} kills
 * backend N once every conversation has had {@code --kill-after-turn} turns (default 1), then runs
 * the remaining turns: the conversations it held are repaired by affinity4j, and lost without it.
 *
 * <p>Prints one line per turn ({@code conversation=1 turn=2 status=200 region="West US"
 * request_id=… apim_request_id=… pin=1a2b3c4d repaired=no latency_ms=412}, where {@code pin} is
 * the affinity cookie the request carried and {@code pin_set}, when present, the one the answer
 * set; a failed turn adds {@code error} and {@code detail}), comment lines starting with
 * {@code #} (among them {@code # cookies set by the gateway: SessionId}, the names, never the
 * values, of the cookies the answers set, and a line saying so when none of them is the configured
 * affinity cookie), and ends with exactly one summary line, {@code probe: conversations=N survived=S
 * turns_ok=K turns_failed=F repairs=R backends=<region:count,...>}, where {@code backends} counts
 * the turns each region answered.
 * Conversations run one after another, each turn continuing the previous one with
 * {@code previous_response_id}; a conversation stops at its first failed turn. Exit code 0 if
 * every conversation survived, 1 if one did not, 2 for a usage error. Keys, header values, cookie
 * values and tokens are never printed: pins show as the 8-hex-digit fingerprint affinity4j logs.
 *
 * <p>Output goes to the {@link PrintStream} given at construction; {@code --debug} logs go to
 * standard error. Not thread-safe; one run at a time.
 */
@Command(name = "probe", sortOptions = false, usageHelpAutoWidth = true,
    description = {
        "Runs multi-turn Responses API conversations against a gateway (or, with --simulator, an "
            + "embedded APIM simulator) and reports whether they survive, the regions that served "
            + "them, and the repairs affinity4j made.",
        "Exit code 0 if every conversation survived, 1 if not, 2 for a usage error."})
final class ProbeCommand implements Callable<Integer> {
  static final String DEFAULT_COOKIE_NAME = "APIM-Backend-Affinity";
  static final String DEFAULT_MODEL = "gpt-4.1";
  /** Begins the comment line listing the names of the cookies the answers set. */
  static final String COOKIES_SEEN = "cookies set by the gateway: ";
  /** Begins the comment line saying none of those is a configured affinity cookie. */
  static final String NOT_CONFIGURED = "none of them is the configured affinity cookie ";
  private static final Pattern TOKEN = Pattern.compile("[!#$%&'*+.^_`|~0-9A-Za-z-]+");

  /** Injected by picocli when the command line is built; null before. */
  @Spec
  private @Nullable CommandSpec spec;

  @Option(names = "--base-url", paramLabel = "URL", order = 1,
      description = "The gateway's OpenAI base URL, e.g. "
          + "https://my-apim.azure-api.net/inference/openai/v1 (or --simulator).")
  private @Nullable String baseUrl;

  @Option(names = "--api-key", arity = "0..1", interactive = true, prompt = "API key: ",
      paramLabel = "KEY", order = 2,
      description = "API key, sent as Authorization: Bearer. Without a value it is asked for, "
          + "unechoed.")
  private @Nullable String apiKey;

  @Option(names = "--subscription-key", arity = "0..1", interactive = true,
      prompt = "APIM subscription key: ", paramLabel = "KEY", order = 3,
      description = "APIM subscription key, sent as Ocp-Apim-Subscription-Key (and as api-key "
          + "without --api-key or --entra). Without a value it is asked for, unechoed.")
  private @Nullable String subscriptionKey;

  @Option(names = "--entra", order = 4,
      description = "Authenticate with Microsoft Entra ID (DefaultAzureCredential: environment, "
          + "managed identity, Azure CLI, ...), scope " + EntraIdInterceptor.DEFAULT_SCOPE + ".")
  private boolean entra;

  @Option(names = "--header", paramLabel = "'Name: value'", order = 5,
      description = "An extra request header; repeatable. Values are never printed.")
  private @Nullable List<String> headers;

  @Option(names = "--model", defaultValue = DEFAULT_MODEL, paramLabel = "MODEL", order = 6,
      description = "Model or deployment name; default ${DEFAULT-VALUE}.")
  private String model = DEFAULT_MODEL;

  @Option(names = "--conversations", defaultValue = "6", paramLabel = "N", order = 7,
      description = "Conversations to run, one after another; default ${DEFAULT-VALUE}.")
  private int conversations;

  @Option(names = "--turns", defaultValue = "5", paramLabel = "T", order = 8,
      description = "Turns per conversation; default ${DEFAULT-VALUE}.")
  private int turns;

  @Option(names = "--stream", order = 9, description = "Stream every turn (server-sent events).")
  private boolean stream;

  @Option(names = "--cookie-name", paramLabel = "NAME", order = 10,
      description = "The pool's affinity cookie name; repeatable; default " + DEFAULT_COOKIE_NAME
          + ".")
  private @Nullable List<String> cookieNames;

  @Option(names = "--no-affinity4j", order = 11,
      description = "Use the plain OpenAI SDK, without affinity4j, for comparison.")
  private boolean noAffinity4j;

  @Option(names = "--report", paramLabel = "FILE.html", order = 12,
      description = "Also write a self-contained HTML report with the per-region distribution "
          + "and per-turn latency charts.")
  private @Nullable Path report;

  @Option(names = "--debug", order = 13,
      description = "DEBUG logging on standard error: affinity4j's, the routing log's (headers "
          + "redacted) and the SDK's own.")
  private boolean debug;

  @Option(names = {"-h", "--help"}, usageHelp = true, order = 30, description = "Show this help.")
  private boolean help;

  @Mixin
  private ProbeSimulator simulator = new ProbeSimulator();

  private final PrintStream out;

  ProbeCommand(PrintStream out) {
    this.out = out;
  }

  @Override
  public Integer call() {
    HttpUrl given = validate();
    if (given != null) {
      return probe(given, null);
    }
    try (ApimSimulator apim = simulator.start()) {
      return probe(HttpUrl.get(apim.openAiBaseUrl()), apim);
    }
  }

  /** Probes {@code url}: the gateway given, or the embedded {@code apim}. */
  private int probe(HttpUrl url, @Nullable ApimSimulator apim) {
    List<Map.Entry<String, String>> extraHeaders = parseHeaders();
    Set<String> cookies = cookieNames == null || cookieNames.isEmpty()
        ? Set.of(DEFAULT_COOKIE_NAME) : new LinkedHashSet<>(cookieNames);
    // The base URL's query (some gateways take a subscription-key there) is added below the SDK,
    // which would print it in its debug log; user info is never sent.
    List<Map.Entry<String, String>> query = new ArrayList<>();
    for (int i = 0; i < url.querySize(); i++) {
      query.add(new AbstractMap.SimpleImmutableEntry<>(url.queryParameterName(i),
          url.queryParameterValue(i)));
    }
    HttpUrl sdkUrl = url.newBuilder().query(null).fragment(null).username("").password("").build();
    List<@Nullable String> secrets = new ArrayList<>(List.of(url.password()));
    secrets.add(apiKey);
    secrets.add(subscriptionKey);
    extraHeaders.forEach(header -> secrets.add(header.getValue()));
    query.forEach(parameter -> secrets.add(parameter.getValue()));
    Redactor redactor = new Redactor(secrets);

    String target = ProbeLines.display(url) + (query.isEmpty() ? "" : "?" + String.join("&",
        query.stream().map(parameter -> parameter.getKey() + "=" + Redactor.MASK).toList()));
    List<String> settings = List.of(
        "model=" + model,
        "conversations=" + conversations,
        "turns=" + turns,
        "stream=" + (stream ? "on" : "off"),
        "affinity4j=" + (noAffinity4j ? "off" : "on"),
        "cookie=" + String.join(",", cookies),
        "auth=" + auth(),
        "headers=" + (extraHeaders.isEmpty() ? "-"
            : String.join(",", extraHeaders.stream().map(Map.Entry::getKey).toList())));
    emit(redactor, "# affinity4j probe of " + target);
    emit(redactor, "# " + String.join(" ", settings));
    SimulatedBackend victim = null;
    if (apim != null) {
      simulator.describe(apim).forEach(line -> emit(redactor, "# " + line));
      victim = simulator.victim(apim);
    }

    List<TurnRecord> records;
    TurnRecorder recorder = new TurnRecorder(cookies);
    try (DebugLogging logging = DebugLogging.on(debug)) {
      OkHttpClient base = new OkHttpClient.Builder()
          .addInterceptor(new ExtrasInterceptor(baseHeaders(extraHeaders), query))
          .build();
      OpenAIClient client = client(sdkUrl, base, recorder, cookies, extraHeaders, logging);
      try {
        records = conversations(new TurnRunner(client, recorder, model, stream, redactor), redactor,
            victim);
      } finally {
        client.close();
        // The SDK does not close a client it was given.
        base.dispatcher().executorService().shutdown();
        base.connectionPool().evictAll();
      }
    }

    List<String> cookieNotes = cookieNotes(recorder.cookieNamesSeen(), cookies);
    cookieNotes.forEach(note -> emit(redactor, "# " + note));
    int survived = survived(records, turns);
    String summary = ProbeLines.summary(conversations, survived, records);
    int exit = survived == conversations ? 0 : 1;
    if (report != null) {
      try {
        new ProbeReport(target, settings, cookieNotes, records, summary, exit == 0, turns).write(report);
        emit(redactor, "# report written to " + report.toAbsolutePath());
      } catch (IOException | RuntimeException e) {
        emit(redactor, "# report NOT written to " + report.toAbsolutePath() + ": " + e);
        exit = 1;
      }
    }
    emit(redactor, summary);
    return exit;
  }

  /**
   * Runs the conversations one after another, printing each turn; with a {@code victim}, turns up
   * to {@link ProbeSimulator#killAfterTurn()} of every conversation, then the victim is killed, then
   * the remaining turns of every conversation. A conversation stops at its first failed turn: its
   * chain cannot be continued. Returns the records by conversation and turn.
   */
  private List<TurnRecord> conversations(TurnRunner runner, Redactor redactor,
      @Nullable SimulatedBackend victim) {
    List<TurnRecord> records = new ArrayList<>();
    @Nullable String[] previous = new @Nullable String[conversations + 1];
    boolean[] broken = new boolean[conversations + 1];
    int split = victim == null ? turns : simulator.killAfterTurn();
    for (int c = 1; c <= conversations; c++) {
      turns(runner, redactor, records, previous, broken, c, 1, split);
    }
    if (victim != null) {
      victim.kill();
      emit(redactor, "# simulator: " + victim.name() + " killed");
      for (int c = 1; c <= conversations; c++) {
        turns(runner, redactor, records, previous, broken, c, split + 1, turns);
      }
    }
    records.sort(Comparator.comparingInt(TurnRecord::conversation).thenComparingInt(TurnRecord::turn));
    return records;
  }

  /** Turns {@code from} to {@code to} of conversation {@code c}, unless it broke. */
  private void turns(TurnRunner runner, Redactor redactor, List<TurnRecord> records,
      @Nullable String[] previous, boolean[] broken, int c, int from, int to) {
    for (int t = from; t <= to && !broken[c]; t++) {
      TurnRecord record = runner.run(c, t, prompt(c, t), previous[c]);
      records.add(record);
      emit(redactor, ProbeLines.line(record));
      previous[c] = record.responseId();
      if (!record.ok()) {
        broken[c] = true;
        if (t < turns) {
          emit(redactor, "# conversation " + c + " broke at turn " + t + ": "
              + (t + 1 == turns ? "turn " + turns : "turns " + (t + 1) + "-" + turns) + " not sent");
        }
      }
    }
  }

  /**
   * What the probe says of the cookies the answers set: their names (never values), and, when none
   * of them is a configured affinity cookie, a line that says so and gives the option to use.
   */
  static List<String> cookieNotes(List<String> seen, Set<String> configured) {
    List<String> notes = new ArrayList<>();
    notes.add(COOKIES_SEEN + (seen.isEmpty() ? "none" : String.join(",", seen)));
    if (seen.stream().noneMatch(configured::contains)) {
      String names = String.join(",", configured);
      notes.add(seen.isEmpty()
          ? "no answer set the configured affinity cookie " + names
              + ": is session affinity on in the backend pool?"
          : NOT_CONFIGURED + names + "; if " + seen.get(0) + " is the pool's affinity cookie, run with"
              + " --cookie-name " + seen.get(0) + " (in code: cookieNames(\"" + seen.get(0) + "\"))");
    }
    return notes;
  }

  /** Conversations whose every turn, up to {@code turns}, succeeded. */
  static int survived(List<TurnRecord> records, int turns) {
    Map<Integer, Long> ok = new TreeMap<>();
    records.stream().filter(TurnRecord::ok).forEach(r -> ok.merge(r.conversation(), 1L, Long::sum));
    return (int) ok.values().stream().filter(n -> n == turns).count();
  }

  /** Checks the options; returns the gateway's URL, or null with {@code --simulator}. */
  private @Nullable HttpUrl validate() {
    if (conversations < 1 || turns < 1) {
      throw usage("--conversations and --turns must be 1 or more");
    }
    simulator.validate(turns, this::usage);
    HttpUrl url = null;
    if (simulator.enabled()) {
      if (baseUrl != null) {
        throw usage("give --base-url or --simulator, not both");
      }
      if (apiKey == null && subscriptionKey == null && !entra) {
        apiKey = ProbeSimulator.API_KEY; // the simulator checks no key
      }
    } else {
      if (baseUrl == null) {
        throw usage("give --base-url URL, or --simulator to probe an embedded APIM simulator");
      }
      url = HttpUrl.parse(baseUrl);
      if (url == null) {
        throw usage("--base-url must be an http or https URL, e.g. "
            + "https://my-apim.azure-api.net/inference/openai/v1");
      }
    }
    if (apiKey == null && subscriptionKey == null && !entra) {
      throw usage("give --api-key, --subscription-key or --entra (for a gateway without "
          + "authentication, any --api-key)");
    }
    if (apiKey != null && entra) {
      throw usage("give --api-key or --entra, not both: both are sent as Authorization");
    }
    if ((apiKey != null && apiKey.isBlank()) || (subscriptionKey != null && subscriptionKey.isBlank())) {
      throw usage("--api-key and --subscription-key must not be empty");
    }
    if (cookieNames != null) {
      for (String name : cookieNames) {
        if (!TOKEN.matcher(name).matches()) {
          throw usage("--cookie-name must be a cookie name (letters, digits, !#$%&'*+-.^_`|~), was '"
              + name + "'");
        }
      }
    }
    return url;
  }

  private List<Map.Entry<String, String>> parseHeaders() {
    List<Map.Entry<String, String>> parsed = new ArrayList<>();
    if (headers == null) {
      return parsed;
    }
    for (String header : headers) {
      int colon = header.indexOf(':');
      String name = colon < 0 ? "" : header.substring(0, colon).trim();
      if (!TOKEN.matcher(name).matches()) {
        // The value may be a secret: show the name part only.
        throw usage("--header must look like 'Name: value'; got one whose name is '"
            + (colon < 0 ? "(no colon)" : name) + "'");
      }
      String value = header.substring(colon + 1).trim();
      if (value.chars().anyMatch(ch -> ch < 0x20 && ch != '\t' || ch == 0x7f)) {
        throw usage("--header " + name + " has a control character in its value");
      }
      parsed.add(new AbstractMap.SimpleImmutableEntry<>(name, value));
    }
    return parsed;
  }

  private ParameterException usage(String message) {
    CommandSpec spec = Objects.requireNonNull(this.spec, "picocli injects the @Spec");
    return new ParameterException(spec.commandLine(), message);
  }

  /** The headers the base OkHttp client sets: --header, and for the plain SDK the subscription key. */
  private List<Map.Entry<String, String>> baseHeaders(List<Map.Entry<String, String>> extra) {
    List<Map.Entry<String, String>> all = new ArrayList<>(extra);
    if (noAffinity4j && subscriptionKey != null) {
      all.add(new AbstractMap.SimpleImmutableEntry<>(AffinityOpenAI.SUBSCRIPTION_KEY_HEADER,
          subscriptionKey));
    }
    return all;
  }

  private OpenAIClient client(HttpUrl url, OkHttpClient base, TurnRecorder recorder,
      Set<String> cookies, List<Map.Entry<String, String>> extraHeaders, DebugLogging logging) {
    List<String> redact = extraHeaders.stream().map(Map.Entry::getKey).toList();
    if (noAffinity4j) {
      // The SDK as users have it, with the same credentials AffinityOpenAI would send.
      OpenAIOkHttpClient.Builder sdk = OpenAIOkHttpClient.builder()
          .baseUrl(url.toString())
          .okHttpClient(base);
      if (apiKey != null) {
        sdk.apiKey(apiKey);
      }
      if (entra) {
        sdk.credential(BearerTokenCredential.create(() -> {
          throw new IllegalStateException("unused: EntraIdInterceptor sets Authorization");
        }));
        sdk.removeHeaders("Authorization");
        sdk.addInterceptor(EntraIdInterceptor.builder(new DefaultAzureCredentialBuilder().build()).build());
      }
      if (subscriptionKey != null && apiKey == null && !entra) {
        sdk.credential(AzureApiKeyCredential.create(subscriptionKey));
      }
      logging.apply(sdk, cookies, redact);
      sdk.addInterceptor(recorder.interceptor());
      return sdk.build();
    }
    AffinityInterceptor affinity = AffinityInterceptor.builder()
        .cookieNames(cookies.toArray(String[]::new))
        .listener(recorder.listener())
        .build();
    AffinityOpenAI.Builder builder = AffinityOpenAI.builder()
        .baseUrl(url.toString())
        .okHttpClient(base)
        .interceptor(affinity);
    if (apiKey != null) {
      builder.apiKey(apiKey);
    }
    if (subscriptionKey != null) {
      builder.apimSubscriptionKey(subscriptionKey);
    }
    if (entra) {
      builder.azureCredential(new DefaultAzureCredentialBuilder().build());
    }
    builder.customize(sdk -> {
      logging.apply(sdk, cookies, redact);
      sdk.addInterceptor(recorder.interceptor());
    });
    return builder.build();
  }

  private String auth() {
    List<String> kinds = new ArrayList<>();
    if (apiKey != null) {
      kinds.add("api-key");
    }
    if (entra) {
      kinds.add("entra");
    }
    if (subscriptionKey != null) {
      kinds.add("subscription-key");
    }
    return String.join(",", kinds);
  }

  private String prompt(int conversation, int turn) {
    return "affinity4j probe: conversation " + conversation + ", turn " + turn + " of " + turns
        + ". Reply with one short sentence.";
  }

  private void emit(Redactor redactor, String line) {
    out.println(redactor.apply(line));
  }
}
