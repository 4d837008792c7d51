package io.github.affinity4j.okhttp;

import java.io.IOException;
import okhttp3.MediaType;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.ForwardingSink;
import okio.Okio;
import okio.Sink;

/**
 * Reads a request body, or the start of a response body, into memory, never more than a limit;
 * and tells a response that streams from one that does not.
 */
final class BoundedBodies {
  private static final String EVENT_STREAM = "text/event-stream";

  private BoundedBodies() {}

  /**
   * The body's bytes, or null when it must not or cannot be read within {@code limit}: one-shot and
   * duplex bodies (reading would consume them), and bodies over the limit, whether their declared
   * length says so or the copy runs past it (a length may be unknown, or wrong).
   *
   * @throws IOException if writing the body fails for another reason
   */
  static byte[] read(RequestBody body, long limit) throws IOException {
    if (body.isOneShot() || body.isDuplex() || body.contentLength() > limit) {
      return null;
    }
    Buffer buffer = new Buffer();
    LimitedSink limited = new LimitedSink(buffer, limit);
    BufferedSink sink = Okio.buffer(limited);
    try {
      body.writeTo(sink);
      if (sink.isOpen()) { // a writeTo that closed its sink has flushed it
        sink.flush();
      }
    } catch (IOException e) {
      if (!limited.reached) {
        throw e;
      }
      buffer.clear();
      return null;
    }
    return buffer.readByteArray();
  }

  /**
   * The first {@code limit} bytes of a response body (all of it if shorter), read ahead without
   * consuming them: the caller still reads the whole body. What {@code Response.peekBody} does,
   * without its parse of the Content-Type, which costs a regular expression per call.
   *
   * @throws IOException if reading ahead fails
   */
  static byte[] peek(ResponseBody body, long limit) throws IOException {
    BufferedSource peek = body.source().peek();
    peek.request(limit);
    return peek.readByteArray(Math.min(limit, peek.getBuffer().size()));
  }

  /**
   * Whether a response is a server-sent event stream ({@code text/event-stream}). Reads the header,
   * not {@code ResponseBody.contentType()}, which parses it with a regular expression on every
   * call; a response made by an interceptor below may carry its type only on the body.
   */
  static boolean isEventStream(Response response) {
    String type = response.header("Content-Type");
    if (type == null) {
      MediaType bodyType = response.body() == null ? null : response.body().contentType();
      if (bodyType == null) {
        return false;
      }
      type = bodyType.toString();
    }
    type = type.strip();
    int length = EVENT_STREAM.length();
    return type.regionMatches(true, 0, EVENT_STREAM, 0, length)
        && (type.length() == length || type.charAt(length) == ';' || type.charAt(length) == ' ');
  }

  /**
   * Accepts at most {@code limit} bytes, then throws. The flag, not the exception type, tells the
   * caller why: a {@code writeTo} may wrap the exception in one of its own.
   */
  private static final class LimitedSink extends ForwardingSink {
    private final long limit;
    private long written;
    boolean reached;

    LimitedSink(Sink delegate, long limit) {
      super(delegate);
      this.limit = limit;
    }

    @Override
    public void write(Buffer source, long byteCount) throws IOException {
      if (written + byteCount > limit) {
        reached = true;
        throw new IOException("request body over the " + limit + " byte limit");
      }
      written += byteCount;
      super.write(source, byteCount);
    }
  }
}
