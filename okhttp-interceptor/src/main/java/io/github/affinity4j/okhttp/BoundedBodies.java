package io.github.affinity4j.okhttp;

import io.github.affinity4j.okhttp.internal.AffinityCookies;
import java.io.IOException;
import java.net.ProtocolException;
import java.util.Locale;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.ForwardingSink;
import okio.ForwardingSource;
import okio.GzipSink;
import okio.GzipSource;
import okio.Okio;
import okio.Sink;
import okio.Source;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;

/**
 * Reads a request body, or the start of a response body, into memory, never more than a limit and
 * never at the cost of the bytes the server or the caller gets; and tells a response that streams
 * from one that does not.
 *
 * <p>A request body is read only when reading it cannot change what is sent: it is neither one-shot
 * nor duplex (so {@code writeTo} may run again), and it declares its length, within the limit. A
 * body of unknown length may well be a stream, and many stream bodies do not say they are
 * one-shot; reading one would consume what the server should get. The OpenAI SDK's JSON bodies
 * declare their length and are repeatable, so they are read. A body that then writes more than it
 * declared is sent as written, whole; one that writes past the limit fails the call before anything
 * is sent, as OkHttp fails a body that writes more than its length, rather than send part of it.
 *
 * <p>A response body is peeked, never consumed: the caller reads every byte as the server sent
 * them. A gzip body (a caller that sets {@code Accept-Encoding} itself gets one undecoded) is
 * decoded for the peek; other encodings are not read.
 */
final class BoundedBodies {
  private static final String EVENT_STREAM = "text/event-stream";
  private static final byte[] NOTHING = new byte[0];

  private BoundedBodies() {}

  /**
   * Why {@code body} is not read within {@code limit}, as words to end "the request body …"; null
   * when {@link #read} may read it.
   *
   * @throws IOException if the body fails to tell its length
   */
  static @Nullable String unreadable(RequestBody body, long limit) throws IOException {
    if (body.isOneShot() || body.isDuplex()) {
      return "can be written only once";
    }
    long length = body.contentLength();
    if (length < 0) {
      return "declares no length (a stream, which reading would consume); declare its "
          + "contentLength() to have it read";
    }
    if (length > limit) {
      return "is over the " + limit + " byte limit";
    }
    return null;
  }

  /**
   * The body's bytes, all of them, or null when {@link #unreadable} says it is not to be read. Send
   * these bytes in its place: they are what the body wrote, which may differ from the length it
   * declared.
   *
   * @throws ProtocolException if the body wrote more than {@code limit} bytes although it declared
   *     no more: what was read is not all of it, and what is left may be gone
   * @throws IOException if writing the body fails, including with a runtime exception (the call
   *     fails, as it would when OkHttp writes the body)
   */
  static byte @Nullable [] read(RequestBody body, long limit) throws IOException {
    if (unreadable(body, limit) != null) {
      return null;
    }
    long declared = body.contentLength();
    Buffer buffer = new Buffer();
    LimitedSink limited = new LimitedSink(buffer, limit);
    BufferedSink sink = Okio.buffer(limited);
    try {
      body.writeTo(sink);
      if (sink.isOpen()) { // a writeTo that closed its sink has flushed it
        sink.flush();
      }
    } catch (IOException | RuntimeException e) {
      buffer.clear();
      if (limited.reached) {
        ProtocolException overrun = new ProtocolException("request body declared " + declared
            + " bytes but wrote more than the " + limit + " byte limit; not sent rather than sent in part");
        overrun.initCause(e);
        throw overrun;
      }
      if (e instanceof IOException io) {
        throw io;
      }
      throw new IOException("request body's writeTo threw " + e.getClass().getName(), e);
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
   * The first {@code limit} bytes of a response body as its {@code Content-Encoding} decodes them,
   * read ahead without consuming anything: the caller still reads the body as sent, compressed or
   * not. Empty when there is no body, and when it cannot be decoded (an encoding other than gzip,
   * a gzip event stream, which a peek would wait on, or bytes that are not gzip); in those cases,
   * when {@code warnTo} is not null, one WARN there says that affinity is off for this response
   * and how to have it on.
   *
   * @throws IOException if reading ahead fails on the network (a body that does not decode is not
   *     a failure of the call: the caller gets it as sent)
   */
  static byte[] peekDecoded(Response response, long limit, @Nullable Logger warnTo) throws IOException {
    ResponseBody body = response.body();
    if (body == null) {
      return NOTHING;
    }
    String encoding = encoding(response);
    if (encoding == null) {
      return peek(body, limit);
    }
    if (isEventStream(response)) {
      undecodable(response, warnTo, "an event stream in Content-Encoding " + encoding
          + " (a stream is read as it passes, and only when not encoded)");
      return NOTHING;
    }
    if (!encoding.equals("gzip")) {
      undecodable(response, warnTo, "in Content-Encoding " + encoding + " (only gzip is decoded)");
      return NOTHING;
    }
    if (body.source().exhausted()) { // an empty body, as some errors have: nothing to decode
      return NOTHING;
    }
    WatchedSource network = new WatchedSource(body.source().peek());
    BufferedSource decoded = Okio.buffer(new GzipSource(network));
    try {
      decoded.request(limit);
      return decoded.readByteArray(Math.min(limit, decoded.getBuffer().size()));
    } catch (IOException | RuntimeException e) {
      if (network.failed) {
        throw e;
      }
      undecodable(response, warnTo, "in Content-Encoding gzip but is not valid gzip ("
          + e.getClass().getSimpleName() + ")");
      return NOTHING;
    }
  }

  /**
   * {@code decoded}, encoded as the body of {@code response} was, for a body made in its place:
   * gzip for gzip (the only encoding {@link #peekDecoded} decodes), else as it is.
   */
  static byte[] encodedLike(Response response, byte[] decoded) {
    if (!"gzip".equals(encoding(response))) {
      return decoded;
    }
    Buffer encoded = new Buffer();
    try (BufferedSink gzip = Okio.buffer(new GzipSink(encoded))) {
      gzip.write(decoded);
    } catch (IOException e) {
      throw new AssertionError("gzip into memory failed", e); // a Buffer does not fail
    }
    return encoded.readByteArray();
  }

  /**
   * The body the caller reads in place of {@code body}: {@code source}, which reads through it,
   * with its type and length. Its type is asked of {@code body} only when the caller asks: parsing
   * it costs a regular expression.
   */
  static ResponseBody readingThrough(ResponseBody body, Source source) {
    BufferedSource buffered = Okio.buffer(source);
    return new ResponseBody() {
      @Override
      public @Nullable MediaType contentType() {
        return body.contentType();
      }

      @Override
      public long contentLength() {
        return body.contentLength();
      }

      @Override
      public BufferedSource source() {
        return buffered;
      }
    };
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

  /** Whether the body is sent as it is ({@code identity}, or no {@code Content-Encoding}). */
  static boolean isIdentityEncoded(Response response) {
    return encoding(response) == null;
  }

  /**
   * The response's content coding, lower case: null for none or {@code identity}, {@code gzip} for
   * gzip alone ({@code x-gzip} is its old name), else all the codings as sent, comma-separated (a
   * body encoded twice is not decoded).
   */
  private static @Nullable String encoding(Response response) {
    String only = null;
    StringBuilder all = null;
    for (String header : response.headers("Content-Encoding")) {
      for (String coding : header.split(",")) {
        String name = coding.strip().toLowerCase(Locale.ROOT);
        if (name.isEmpty() || name.equals("identity")) {
          continue;
        }
        if (name.equals("x-gzip")) {
          name = "gzip";
        }
        if (only == null) {
          only = name;
        } else {
          all = (all == null ? new StringBuilder(only) : all).append(", ").append(name);
        }
      }
    }
    return all != null ? all.toString() : only;
  }

  private static void undecodable(Response response, @Nullable Logger warnTo, String why) {
    if (warnTo == null) {
      return;
    }
    Request request = response.request();
    // Cut and cleaned: the coding is the gateway's text, and may be long or hold control bytes.
    String said = why.length() > 200 ? why.substring(0, 200) + "…" : why;
    warnTo.warn("Affinity off for the response to {} {}: its HTTP {} body is {}, so affinity4j "
        + "cannot read it (no id bound, no turn journaled, no chain break recognised); to fix, do "
        + "not set Accept-Encoding, and OkHttp negotiates gzip and decodes it", request.method(),
        AffinityCookies.redacted(request.url()), response.code(), said.replaceAll("\\p{Cntrl}", "?"));
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

  /**
   * Remembers whether reading the network failed, to tell a broken connection (the call's failure)
   * from a body that does not decode (the caller's to read as sent).
   */
  private static final class WatchedSource extends ForwardingSource {
    boolean failed;

    WatchedSource(Source delegate) {
      super(delegate);
    }

    @Override
    public long read(Buffer sink, long byteCount) throws IOException {
      try {
        return super.read(sink, byteCount);
      } catch (IOException | RuntimeException e) {
        failed = true;
        throw e;
      }
    }
  }
}
