package io.github.affinity4j.redis;

import static java.util.Objects.requireNonNull;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.SslOptions;
import io.lettuce.core.SslVerifyMode;
import io.lettuce.core.StaticCredentialsProvider;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link RedisConnector.Builder} was given, turned into Lettuce's URIs and client options:
 * the same credentials, TLS, timeouts and reconnect behaviour for one Redis and for every node of a
 * cluster. Holds the password until the connector is built; never shown.
 */
record LettuceSettings(@Nullable String username, char @Nullable [] password, @Nullable Boolean tls,
    boolean verifyPeer, @Nullable Path trustedCertificates, @Nullable Integer database, String clientName,
    Duration connectTimeout, Duration commandTimeout, Duration retryInterval) {

  // How often a cluster's topology is read even when nothing suggests it changed.
  private static final Duration TOPOLOGY_REFRESH_PERIOD = Duration.ofMinutes(1);

  /**
   * Parses a URI as Lettuce does, for a builder's check.
   *
   * @throws IllegalArgumentException if it is not a Redis URI; the message never quotes it
   */
  static RedisURI parse(String uri) {
    try {
      return RedisURI.create(uri);
    } catch (RuntimeException e) {
      // Lettuce's message may echo the URI, password included.
      throw new IllegalArgumentException("Not a Redis URI (" + e.getClass().getSimpleName()
          + "); use e.g. redis://localhost:6379 or rediss://host:6380 for TLS");
    }
  }

  /** Checks one seed of a cluster: a {@code redis://} or {@code rediss://} URI of one node. */
  static void checkSeed(String seed) {
    RedisURI parsed = parse(seed);
    if (parsed.getSocket() != null || !parsed.getSentinels().isEmpty()) {
      throw new IllegalArgumentException("A cluster seed is a redis:// or rediss:// URI of one node, got "
          + (parsed.getSocket() != null ? "a socket" : "a Sentinel") + " URI");
    }
  }

  /** Each seed of a cluster with these settings; database 0, the only one a cluster has. */
  List<RedisURI> seedUris(List<String> seeds) {
    List<RedisURI> uris = new ArrayList<>(seeds.size());
    for (String seed : seeds) {
      RedisURI uri = redisUri(seed);
      uri.setDatabase(0);
      uris.add(uri);
    }
    return uris;
  }

  /** The URI with these settings; a password set here overrides one in the URI. */
  RedisURI redisUri(String text) {
    RedisURI uri = RedisURI.create(text);
    if (tls != null) {
      uri.setSsl(tls);
    }
    uri.setVerifyPeer(verifyPeer ? SslVerifyMode.FULL : SslVerifyMode.NONE);
    if (database != null) {
      uri.setDatabase(database);
    }
    uri.setClientName(clientName);
    uri.setTimeout(commandTimeout);
    if (password != null || username != null) {
      String user = username;
      char[] secret = password == null ? null : Arrays.copyOf(password, password.length);
      if (uri.getCredentialsProvider() instanceof StaticCredentialsProvider given) {
        RedisCredentials inUri = given.resolveCredentialsNow();
        user = user != null ? user : inUri.getUsername();
        secret = secret != null ? secret : inUri.getPassword();
      }
      uri.setCredentialsProvider(new StaticCredentialsProvider(user, secret));
    }
    return uri;
  }

  ClientOptions clientOptions() {
    return common(ClientOptions.builder()).build();
  }

  ClusterClientOptions clusterOptions() {
    ClusterClientOptions.Builder options = ClusterClientOptions.builder();
    common(options);
    // A cluster opens its connection to a master when a command first needs it (at start, after a
    // failover): rejecting commands until it is open would fail that first command. Queued
    // instead, a command waits at most the command timeout, and one to a lost master times out.
    options.disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS);
    return options.topologyRefreshOptions(ClusterTopologyRefreshOptions.builder()
            // Lettuce 7 reads the topology again on every adaptive trigger (a redirect, a node
            // that stays unreachable, a slot no node serves) by default: here at most once per
            // retryInterval instead of every 5 s, and every minute in any case.
            .adaptiveRefreshTriggersTimeout(retryInterval)
            .refreshTriggersReconnectAttempts(3)
            .enablePeriodicRefresh(TOPOLOGY_REFRESH_PERIOD)
            .build())
        .build();
  }

  private <B extends ClientOptions.Builder> B common(B options) {
    options.autoReconnect(true)
        // Fail at once while disconnected: a queued command would hold a request for the timeout.
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .socketOptions(SocketOptions.builder().connectTimeout(connectTimeout).keepAlive(true).build())
        .timeoutOptions(TimeoutOptions.enabled(commandTimeout));
    if (trustedCertificates != null) {
      options.sslOptions(SslOptions.builder().jdkSslProvider().trustManager(trustedCertificates.toFile()).build());
    }
    return options;
  }

  @Override
  public String toString() {
    return "LettuceSettings[clientName=" + clientName + ", tls=" + tls + ']';
  }

  /** Checks what a connector is aimed at, as {@link RedisConnector.Builder#build()} documents. */
  static void checkTarget(@Nullable String uriText, @Nullable List<String> seeds, @Nullable Integer database,
    String keyPrefix) {
    if (uriText != null && seeds != null) {
      throw new IllegalStateException("uri and cluster were both set; set uri for one Redis (or Sentinel),"
          + " cluster for a Redis Cluster");
    }
    if (seeds == null) {
      requireNonNull(uriText, "uri is required; e.g. redis://localhost:6379, or cluster(...) for a Redis Cluster");
    } else if (database != null && database != 0) {
      throw new IllegalStateException("database was set to " + database + ", but a Redis Cluster has only 0");
    }
    if (seeds != null && (keyPrefix.indexOf('{') >= 0 || keyPrefix.indexOf('}') >= 0)) {
      // A brace in the prefix would move the hash tag that keeps a chain's keys in one slot.
      throw new IllegalStateException("keyPrefix must not hold { or } on a cluster, got " + keyPrefix);
    }
  }

  static Duration positive(Duration value, String name, String example) {
    requireNonNull(value, name);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive, got " + value + "; e.g. " + example);
    }
    return value;
  }
}
