package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.internal.SseResponseIdScanner;
import java.io.IOException;
import java.util.function.Consumer;
import okio.Buffer;
import okio.BufferedSource;
import okio.ForwardingSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Passes a stream through unchanged and reports its response id as {@code response.created} goes
 * by; for the routing log. Teed, never buffered. Not thread-safe: one reader, as any okio source.
 */
final class RoutingSseTee extends ForwardingSource {
  // Named after the interceptor: that is the logger users configure for the routing log.
  private static final Logger logger = LoggerFactory.getLogger(RoutingLogInterceptor.class);

  private final SseResponseIdScanner scanner = new SseResponseIdScanner();
  private final Consumer<ChainKey> created;
  private final Buffer copy = new Buffer();
  private boolean finished;

  /** Tees {@code delegate}, giving {@code created} the chain key it creates, if it does. */
  RoutingSseTee(BufferedSource delegate, Consumer<ChainKey> created) {
    super(delegate);
    this.created = created;
  }

  @Override
  public long read(Buffer sink, long byteCount) throws IOException {
    long read = super.read(sink, byteCount);
    if (finished || read == -1) {
      finished = true;
      return read;
    }
    try {
      sink.copyTo(copy, sink.size() - read, read);
      byte[] chunk = copy.readByteArray();
      scanner.feed(chunk, 0, chunk.length).ifPresent(created);
      finished = scanner.isDone();
    } catch (RuntimeException e) {
      finished = true;
      logger.error("Routing log: response id of a stream not recorded: unexpected failure", e);
    }
    return read;
  }
}
