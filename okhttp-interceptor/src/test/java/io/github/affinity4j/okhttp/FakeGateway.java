package io.github.affinity4j.okhttp;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import okhttp3.Interceptor;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okio.Buffer;

/**
 * The last application interceptor of a test client: answers every request itself, without a
 * socket, so any URL (https, any host) and any response (headers no server would send, bodies made
 * on the fly) can be put before the interceptors under test. Records each request as it arrived,
 * with its body read into memory unless {@link #consumeBodies} says to only count it.
 */
final class FakeGateway implements Interceptor {

  /** A request as the gateway received it. */
  record Received(Request request, byte[] body) {
    String cookie() {
      return request.header("Cookie");
    }
  }

  final List<Received> received = new CopyOnWriteArrayList<>();
  volatile Function<Request, Response.Builder> answer = request -> new Response.Builder().code(200);
  volatile IOException failure;
  /** When set, request bodies are streamed into this instead of being kept. */
  volatile okio.Sink consumeBodies;

  @Override
  public Response intercept(Chain chain) throws IOException {
    Request request = chain.request();
    byte[] body = null;
    if (request.body() != null) {
      if (consumeBodies != null) {
        okio.BufferedSink sink = okio.Okio.buffer(consumeBodies);
        request.body().writeTo(sink);
        sink.flush();
      } else {
        Buffer buffer = new Buffer();
        request.body().writeTo(buffer);
        body = buffer.readByteArray();
      }
    }
    received.add(new Received(request, body));
    if (failure != null) {
      throw failure;
    }
    Response.Builder builder = answer.apply(request);
    return builder.request(request).protocol(Protocol.HTTP_1_1).message("fake").build();
  }
}
