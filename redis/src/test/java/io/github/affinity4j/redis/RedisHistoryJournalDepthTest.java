package io.github.affinity4j.redis;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.affinity4j.core.ChainHistory;
import io.github.affinity4j.core.ChainHistory.Status;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.JournalTurn;
import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 14, row 5: a chain of 100,000 turns (about 3.3 MiB, inside the bounds) on a real Redis.
 * Recording a turn must touch a bounded number of keys, not every ancestor; reading its history must
 * be bounded per call; and no read of it may take Redis away from the other chains. Counted with
 * Redis' own {@code INFO commandstats}, not timed.
 */
@RequiresRedisServer
@Timeout(120)
final class RedisHistoryJournalDepthTest {

  private static final int TURNS = RedisHistoryJournal.MAX_TURNS;

  private static RedisServer server;

  @BeforeAll
  static void startServer() {
    server = RedisServer.launch();
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void chainOf100000Turns_recordTouchesBoundedKeysHistoryReadInBoundedPagesRedisStaysAvailable()
      throws Exception {
    AtomicInteger unavailable = new AtomicInteger();
    try (RedisConnector connector = RedisConnector.builder().uri(server.uri()).keyPrefix("depth:")
        .listener(new RedisListener() {
          @Override
          public void unavailable(String operation, RuntimeException cause) {
            unavailable.incrementAndGet();
          }
        }).build()) {
      RedisHistoryJournal journal = RedisHistoryJournal.builder().connector(connector).build();
      long bytes = pipelineRecords(journal, TURNS - 1);

      // The last turn of the chain, and one at depth 1 of another, recorded through the journal.
      server.call("CONFIG", "SET", "slowlog-log-slower-than", "0");
      server.call("SLOWLOG", "RESET");
      // A record returns before Redis replies: the counts are taken once it did.
      Map<String, Long> deep = commandsRunBy(() -> {
        journal.record(turn(TURNS - 1));
        connector.awaitWrites(Duration.ofSeconds(10));
      });
      long deepMicros = slowestScriptMicros();
      Map<String, Long> shallow = commandsRunBy(() -> {
        journal.record(JournalTurn.builder().responseId("other_1")
            .previousResponseId("resp_0").input(bytes("[]")).output(bytes("[]")).build());
        connector.awaitWrites(Duration.ofSeconds(10));
      });
      System.out.printf("Recording turn %d ran %s in %d us; a turn at depth 1 ran %s in %d us%n", TURNS,
          deep, deepMicros, shallow, slowestScriptMicros());
      assertThat(deep.get("evalsha")).as("one script").isEqualTo(1);
      // Keys touched: the turn's, its parent's, their root pointers, its segment, and the segments its
      // chain runs through (one per 10,000 turns here), not its 99,999 ancestors.
      int segments = TURNS / RedisHistoryJournal.SEGMENT_TURNS;
      assertThat(deep.get("pexpire")).as("expiries restarted at depth %d", TURNS - 1).isEqualTo(2 + segments);
      assertThat(total(deep)).as("commands run by the script at depth %d", TURNS - 1).isLessThanOrEqualTo(9 + segments);
      assertThat(total(shallow)).as("commands run by the script at depth 1").isLessThanOrEqualTo(9 + segments);

      Map<String, Long> read = new HashMap<>();
      ChainHistory[] history = new ChainHistory[1];
      read.putAll(commandsRunBy(() -> history[0] = journal.history(ChainKey.response("resp_" + (TURNS - 1)))));
      System.out.printf("Reading its history ran %s; slowest page %d us%n", read, slowestScriptMicros());
      assertThat(history[0].status()).isEqualTo(Status.COMPLETE);
      assertThat(history[0].turns()).isEqualTo(TURNS);
      assertThat(history[0].bytes()).isEqualTo(bytes + itemBytes(TURNS - 1));
      assertThat(history[0].itemArrays().get(0)).asString(StandardCharsets.UTF_8).isEqualTo("[\"question 0\"]");
      long pages = read.get("evalsha");
      assertThat(pages).as("pages of at most %d links", RedisHistoryJournal.PAGE_LINKS)
          .isBetween((long) TURNS / RedisHistoryJournal.PAGE_LINKS, (long) TURNS / RedisHistoryJournal.PAGE_LINKS + 1);
      assertThat(read.get("hget")).as("one read per link").isEqualTo(TURNS);

      // One turn more: past the bound, known from that turn alone.
      journal.record(turn(TURNS));
      assertThat(connector.awaitWrites(Duration.ofSeconds(10))).isTrue(); // its script is not counted below
      Map<String, Long> tooLarge = commandsRunBy(() -> history[0] = journal.history(ChainKey.response("resp_" + TURNS)));
      assertThat(history[0].status()).isEqualTo(Status.TOO_LARGE);
      assertThat(history[0].link()).contains(ChainKey.response("resp_" + TURNS));
      // Its root pointer and its own key, each read and kept: no walk for a chain that cannot be replayed.
      assertThat(total(tooLarge)).as("no walk for a chain that cannot be replayed").isLessThanOrEqualTo(4);

      assertThat(connector.isAvailable()).isTrue();
      assertThat(unavailable).as("no read of the chain made Redis unavailable").hasValue(0);
      assertThat(connector.fallbacks()).isZero();
    }
  }

  /** Records turns 0 to count - 1 with the journal's own script and arguments, pipelined. */
  private static long pipelineRecords(RedisHistoryJournal journal, int count) throws Exception {
    RedisClient client = RedisClient.create(server.uri());
    long bytes = 0;
    long started = System.nanoTime();
    try (StatefulRedisConnection<String, byte[]> connection = client.connect(RedisConnector.CODEC)) {
      LuaScript record = JournalScripts.RECORD;
      record.load(connection.sync());
      connection.setAutoFlushCommands(false);
      List<RedisFuture<?>> batch = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        batch.add(record.send(connection.async(), ScriptOutputType.MULTI, journal.scripts().record(new PendingWrite.Turn(turn(i)), "").args()));
        bytes += itemBytes(i);
        if (batch.size() == 2_000 || i == count - 1) {
          connection.flushCommands();
          assertThat(LettuceFutures.awaitAll(Duration.ofSeconds(30), batch.toArray(new RedisFuture<?>[0]))).isTrue();
          for (RedisFuture<?> future : batch) {
            assertThat(((List<?>) future.get()).get(0)).as("no marker within the bounds").isEqualTo(0L);
          }
          batch.clear();
        }
      }
    } finally {
      client.shutdown();
    }
    System.out.printf("Recorded %d turns (%d bytes of items) pipelined in %d ms%n", count, bytes,
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    return bytes;
  }

  /** The calls per command (lower case) that Redis ran for {@code action}, scripts' commands included. */
  private static Map<String, Long> commandsRunBy(Runnable action) throws Exception {
    server.call("CONFIG", "RESETSTAT");
    action.run();
    String stats = (String) server.call("INFO", "commandstats");
    Map<String, Long> calls = new HashMap<>();
    Matcher matcher = Pattern.compile("cmdstat_([a-z|]+):calls=(\\d+)").matcher(stats);
    while (matcher.find()) {
      calls.put(matcher.group(1), Long.parseLong(matcher.group(2)));
    }
    calls.remove("config|resetstat");
    return calls;
  }

  /** The commands run inside scripts: all but the scripts themselves. */
  private static long total(Map<String, Long> calls) {
    return calls.entrySet().stream().filter(e -> !e.getKey().equals("evalsha") && !e.getKey().equals("eval"))
        .mapToLong(Map.Entry::getValue).sum();
  }

  /** The longest a script ran since the last call, from SLOWLOG: printed, never asserted. */
  private static long slowestScriptMicros() throws Exception {
    long slowest = 0;
    for (Object entry : (List<?>) server.call("SLOWLOG", "GET", "-1")) {
      List<?> fields = (List<?>) entry;
      if (String.valueOf(((List<?>) fields.get(3)).get(0)).equalsIgnoreCase("evalsha")) {
        slowest = Math.max(slowest, (Long) fields.get(2));
      }
    }
    server.call("SLOWLOG", "RESET");
    return slowest;
  }

  private static JournalTurn turn(int i) {
    return JournalTurn.builder().responseId("resp_" + i).previousResponseId(i == 0 ? null : "resp_" + (i - 1))
        .input(bytes("[\"question " + i + "\"]")).output(bytes("[\"answer " + i + "\"]")).build();
  }

  private static long itemBytes(int i) {
    return ("[\"question " + i + "\"]").length() + ("[\"answer " + i + "\"]").length();
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }
}
