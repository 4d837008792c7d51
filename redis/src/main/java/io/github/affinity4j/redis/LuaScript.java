package io.github.affinity4j.redis;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.api.sync.RedisClusterCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A Lua script shipped as a resource of this package, run by its SHA-1 ({@code EVALSHA}) in one
 * round trip; the first run on a server that does not have it yet (a new or restarted Redis) sends
 * the text once ({@code EVAL}, which also caches it).
 */
final class LuaScript {

  private static final String[] NO_KEYS = new String[0];

  private final String name;
  private final String text;
  private final String sha;

  private LuaScript(String name, String text) {
    this.name = name;
    this.text = text;
    this.sha = sha1(text);
  }

  static LuaScript load(String resource) {
    try (InputStream in = LuaScript.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("affinity4j-redis is missing its resource " + resource);
      }
      return new LuaScript(resource, new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("Cannot read " + resource, e);
    }
  }

  <T> T run(RedisClusterCommands<String, byte[]> commands, ScriptOutputType type, String[] keys, byte[]... args) {
    try {
      return commands.evalsha(sha, type, keys, args);
    } catch (RedisNoScriptException e) {
      return commands.eval(text, type, keys, args);
    }
  }

  /**
   * Sends the script by its SHA-1 without waiting, for a pipeline; {@link #load} it first on that
   * connection, since a NOSCRIPT reply cannot be answered with the text there.
   */
  <T> RedisFuture<T> send(RedisClusterAsyncCommands<String, byte[]> commands, ScriptOutputType type, byte[]... args) {
    return send(commands, type, NO_KEYS, args);
  }

  /** As {@link #send(RedisClusterAsyncCommands, ScriptOutputType, byte[]...)}, with keys. */
  <T> RedisFuture<T> send(RedisClusterAsyncCommands<String, byte[]> commands, ScriptOutputType type, String[] keys,
      byte[]... args) {
    return commands.evalsha(sha, type, keys, args);
  }

  /** One call of this script, to run now or to send in a pipeline. */
  Call call(ScriptOutputType type, String[] keys, byte[]... args) {
    return new Call(this, type, keys, args);
  }

  /** One call of this script, without keys. */
  Call call(ScriptOutputType type, byte[]... args) {
    return call(type, NO_KEYS, args);
  }

  /** Makes sure the server has the script ({@code SCRIPT LOAD}), e.g. before a pipeline of {@link #send}. */
  void load(RedisClusterCommands<String, byte[]> commands) {
    commands.scriptLoad(text);
  }

  @Override
  public String toString() {
    return "LuaScript[" + name + ", sha=" + sha + ']';
  }

  /**
   * A call of a script with its keys and arguments, described once and then run ({@link #run}) or
   * pipelined ({@link #send}). It holds the caller's arrays, not copies. Thread-safe while they
   * do not change.
   */
  static final class Call {
    private final LuaScript script;
    private final ScriptOutputType type;
    private final String[] keys;
    private final byte[][] args;

    private Call(LuaScript script, ScriptOutputType type, String[] keys, byte[][] args) {
      this.script = script;
      this.type = type;
      this.keys = keys;
      this.args = args;
    }

    <T> T run(RedisClusterCommands<String, byte[]> commands) {
      return script.run(commands, type, keys, args);
    }

    <T> RedisFuture<T> send(RedisClusterAsyncCommands<String, byte[]> commands) {
      return script.send(commands, type, keys, args);
    }

    /**
     * Sends the call by the script's SHA-1 without waiting; if the server answers that it has no
     * such script (restarted empty, or a replica promoted), sends it again with the text, from the
     * reply's thread without blocking it. Calls re-sent so stay in the order of their first replies.
     */
    <T> CompletableFuture<T> sendLoading(RedisClusterAsyncCommands<String, byte[]> commands) {
      return this.<T>send(commands).toCompletableFuture().exceptionallyCompose(failure -> {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause() : failure;
        return cause instanceof RedisNoScriptException ? this.<T>sendText(commands).toCompletableFuture()
            : CompletableFuture.failedFuture(cause);
      });
    }

    /**
     * Sends the call with the script's text ({@code EVAL}), for a pipeline to a cluster: its masters
     * change (a promoted replica has no scripts yet), and a script loaded on every node first
     * would wait for a node that is down.
     */
    <T> RedisFuture<T> sendText(RedisClusterAsyncCommands<String, byte[]> commands) {
      return commands.eval(script.text, type, keys, args);
    }

    /** The arguments, not a copy: a history read sets where its next page starts in them. */
    byte[][] args() {
      return args;
    }
  }

  private static String sha1(String text) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8));
      StringBuilder hex = new StringBuilder(40);
      for (byte b : digest) {
        hex.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
      }
      return hex.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("SHA-1 is missing from this JVM", e);
    }
  }
}
