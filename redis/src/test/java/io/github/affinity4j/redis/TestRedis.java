package io.github.affinity4j.redis;

import java.io.IOException;
import java.util.List;

/**
 * A Redis the tests run against, one node ({@link RedisServer}) or a cluster ({@link RedisCluster}),
 * so that one test class runs on both ({@code @ParameterizedClass} over {@link #DEPLOYMENTS}).
 */
interface TestRedis {

  /** The deployments a parameterized test class runs on. */
  String STANDALONE = "standalone";
  String CLUSTER = "cluster";

  /** A connector builder aimed at this Redis ({@code uri} or {@code cluster} set). */
  RedisConnector.Builder connector();

  /** Sends a one-key command (to the key's master on a cluster); returns the first reply line. */
  String command(String... words) throws IOException;

  /** The keys matching {@code pattern}, on every master. */
  List<String> keys(String pattern) throws IOException;

  /** The address a connector's {@code toString()} shows. */
  String address();

  /** One node for {@code standalone} (started by {@code standalone}), the shared cluster for {@code cluster}. */
  static TestRedis of(String deployment, RedisServer standalone) {
    return deployment.equals(CLUSTER) ? RedisCluster.shared() : standalone;
  }
}
