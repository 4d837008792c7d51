package io.github.affinity4j.benchmarks;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Issue 7, point 1: the time of one synchronous Responses API turn (about 2 KiB of request and 2
 * KiB of response, as JSON or as an SSE stream) against a {@link LoopbackResponses} server, through
 * bare OkHttp and through OkHttp with each interceptor. The affinity turn is pinned: it continues
 * a chain bound in {@link #setUp}, so it reads the body, looks the pin up, adds the cookie, reads
 * (or tees) the response for its id, binds and journals the turn. The routing log runs with
 * slf4j-nop, so BASIC measures its "logger disabled" check, as in a service that does not enable it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class OverheadBenchmark {

  /** Which client makes the turn: a {@link LoopbackResponses.Client} name. */
  @Param({"BARE", "AFFINITY", "AFFINITY_PIN_ONLY", "LOG_NONE", "LOG_BASIC"})
  public String client;

  /** Whether the turn streams its answer. */
  @Param({"false", "true"})
  public boolean stream;

  private LoopbackResponses server;
  private OkHttpClient okhttp;
  private Request turn;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    server = new LoopbackResponses();
    okhttp = LoopbackResponses.Client.valueOf(client).build(new OkHttpClient());
    server.seed(okhttp);
    turn = server.turn(stream);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    okhttp.dispatcher().executorService().shutdown();
    okhttp.connectionPool().evictAll();
    server.close();
  }

  /** One turn: send the request, read the whole answer. */
  @Benchmark
  public int pinnedTurn() throws IOException {
    return LoopbackResponses.call(okhttp, turn);
  }
}
