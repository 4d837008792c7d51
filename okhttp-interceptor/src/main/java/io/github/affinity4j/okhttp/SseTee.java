package io.github.affinity4j.okhttp;

import io.github.affinity4j.core.internal.StreamWatch;
import java.io.IOException;
import java.util.function.UnaryOperator;
import okio.Buffer;
import okio.BufferedSource;
import okio.ForwardingSource;

/**
 * Passes a stream through unchanged, showing its bytes to a {@link StreamWatch} as the caller reads
 * them: for the {@link AffinityInterceptor} (bind and journal) and the {@link RoutingLogInterceptor}
 * (the response id). Teed, never buffered. Not thread-safe: one reader, as any okio source.
 */
final class SseTee extends ForwardingSource {
  private final StreamWatch watch;
  private final UnaryOperator<IOException> failed;
  // Reads the bytes just read where they are, in the caller's buffer: no copy, no array per read.
  private final Buffer.UnsafeCursor cursor = new Buffer.UnsafeCursor();

  /**
   * Tees {@code delegate} into {@code watch}; a read that fails passes through {@code failed}
   * (which may name the chain) on its way to the caller.
   */
  SseTee(BufferedSource delegate, StreamWatch watch, UnaryOperator<IOException> failed) {
    super(delegate);
    this.watch = watch;
    this.failed = failed;
  }

  @Override
  public long read(Buffer sink, long byteCount) throws IOException {
    long read;
    try {
      read = super.read(sink, byteCount);
    } catch (IOException e) {
      throw failed.apply(e);
    }
    if (watch.isDone()) {
      return read;
    }
    if (read == -1) {
      watch.end();
      return read;
    }
    try (Buffer.UnsafeCursor segments = sink.readUnsafe(cursor)) {
      for (int size = segments.seek(sink.size() - read); size != -1; size = segments.next()) {
        watch.feed(segments.data, segments.start, size); // the watch copies what it keeps
      }
    }
    return read;
  }
}
