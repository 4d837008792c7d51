package io.github.affinity4j.redis;

import io.lettuce.core.KeyScanCursor;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * The {@code SCAN} walks of the store's and the journal's statistics and {@code clear()}: one page
 * of up to 1,000 keys of the whole database per round trip, never on a request path. Stateless;
 * thread-safe as the commands it is given.
 */
final class KeyScan {

  private static final int PAGE = 1000;

  private KeyScan() {}

  /** Counts the keys matching {@code pattern}. */
  static long count(RedisClusterCommands<String, byte[]> commands, String pattern) {
    return sum(commands, pattern, List::size);
  }

  /** Unlinks the keys matching {@code pattern}, page by page as found; returns how many. */
  static long unlink(RedisClusterCommands<String, byte[]> commands, String pattern) {
    return sum(commands, pattern,
        keys -> keys.isEmpty() ? 0 : commands.unlink(keys.toArray(new String[0])));
  }

  /** Walks the keys matching {@code pattern} and adds up what {@code perPage} makes of each page. */
  private static long sum(RedisClusterCommands<String, byte[]> commands, String pattern,
      ToLongFunction<List<String>> perPage) {
    ScanArgs args = ScanArgs.Builder.matches(pattern).limit(PAGE);
    KeyScanCursor<String> cursor = commands.scan(args);
    long sum = perPage.applyAsLong(cursor.getKeys());
    while (!cursor.isFinished()) {
      cursor = commands.scan(cursor, args);
      sum += perPage.applyAsLong(cursor.getKeys());
    }
    return sum;
  }
}
