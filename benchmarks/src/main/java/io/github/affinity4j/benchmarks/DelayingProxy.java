package io.github.affinity4j.benchmarks;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * A loopback TCP proxy to Redis for the {@code redis} benchmark: forwards requests at once and holds
 * every chunk of Redis' replies for a fixed delay, in order, so that the time a caller spends in a
 * call tells how many replies it waited for. Not thread-safe to build; closing it closes every
 * connection.
 */
final class DelayingProxy implements AutoCloseable {
  private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  DelayingProxy(String host, int port, long delayNanos) throws IOException {
    daemon(() -> {
      while (!server.isClosed()) {
        Socket client = server.accept();
        Socket redis = new Socket(host, port);
        client.setTcpNoDelay(true);
        redis.setTcpNoDelay(true);
        sockets.addAll(List.of(client, redis));
        daemon(() -> client.getInputStream().transferTo(redis.getOutputStream()));
        BlockingQueue<Object[]> replies = new LinkedBlockingQueue<>();
        daemon(() -> {
          byte[] buffer = new byte[64 << 10];
          for (int n; (n = redis.getInputStream().read(buffer)) >= 0; ) {
            replies.add(new Object[] {System.nanoTime() + delayNanos, Arrays.copyOf(buffer, n)});
          }
        });
        daemon(() -> {
          while (true) {
            Object[] reply = take(replies);
            LockSupport.parkNanos((long) reply[0] - System.nanoTime());
            client.getOutputStream().write((byte[]) reply[1]);
          }
        });
      }
    });
  }

  private static Object[] take(BlockingQueue<Object[]> queue) throws IOException {
    try {
      return queue.take();
    } catch (InterruptedException e) {
      throw new InterruptedIOException();
    }
  }

  private interface IoTask {
    void run() throws IOException;
  }

  private static void daemon(IoTask task) {
    Thread thread = new Thread(() -> {
      try {
        task.run();
      } catch (IOException e) {
        // the proxy or a connection closed: this direction ends
      }
    }, "bench-delaying-proxy");
    thread.setDaemon(true);
    thread.start();
  }

  int port() {
    return server.getLocalPort();
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket socket : sockets) {
      socket.close();
    }
  }
}
