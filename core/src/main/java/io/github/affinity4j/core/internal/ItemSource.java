package io.github.affinity4j.core.internal;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * Where a turn's items are in the bytes of a request or response as received: the {@code input}
 * array of a request, its {@code input} string (which the API reads as one user message), or the
 * {@code output} array of a response. The reading of the body found them ({@link JsonScanner}
 * skips over them, which checks they are JSON); they are read out of those bytes only when asked for
 * ({@link #read}): by a replay, or by a journal that stores them apart. Recording a turn so costs
 * neither a copy of its items nor a reading of each item.
 *
 * <pre>{@code
 * ItemSource input = turnInput.itemSource();   // no copy
 * byte[] items = input.read();                 // [{"type":"message",…}]: read out now
 * }</pre>
 *
 * <p>Holds the bytes it was given, which nobody modifies (the engine's own copy of a body). Immutable
 * and thread-safe. Not API.
 */
public final class ItemSource {

  private enum Kind { ARRAY, STRING }

  /** The items of a request without {@code input}: none. */
  static final ItemSource NONE = new ItemSource(Json.EMPTY_ARRAY, 0, Json.EMPTY_ARRAY.length, Kind.ARRAY);

  // How the API reads a string input: [{"type":"message","role":"user","content":text}].
  private static final byte[] USER_MESSAGE_START =
      "[{\"type\":\"message\",\"role\":\"user\",\"content\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] USER_MESSAGE_END = {'}', ']'};
  private static final int USER_MESSAGE_WRAPPER = USER_MESSAGE_START.length + USER_MESSAGE_END.length;

  private final byte[] bytes;
  private final int from;
  private final int to;
  private final Kind kind;

  private ItemSource(byte[] bytes, int from, int to, Kind kind) {
    Objects.checkFromToIndex(from, to, bytes.length);
    this.bytes = bytes;
    this.from = from;
    this.to = to;
    this.kind = kind;
  }

  /** A JSON array, as sent, from its {@code [} to just after its {@code ]}. */
  static ItemSource array(byte[] bytes, int from, int to) {
    return new ItemSource(bytes, from, to, Kind.ARRAY);
  }

  /**
   * A string {@code input}, from its opening quote to just after its closing one: read as
   * {@code [{"type":"message","role":"user","content":…}]}, the string copied as sent.
   */
  static ItemSource string(byte[] bytes, int from, int to) {
    return new ItemSource(bytes, from, to, Kind.STRING);
  }

  /** Returns the size of the items in bytes, as {@link #read} gives them. */
  public long size() {
    return (long) to - from + (kind == Kind.STRING ? USER_MESSAGE_WRAPPER : 0);
  }

  /** Returns how many bytes holding this source keeps in memory: the whole body it is in. */
  public long retained() {
    return bytes.length;
  }

  /** Reads the items out: a JSON array, a fresh copy on each call. */
  public byte[] read() {
    if (kind == Kind.ARRAY) {
      return Arrays.copyOfRange(bytes, from, to);
    }
    byte[] items = new byte[USER_MESSAGE_WRAPPER + to - from];
    System.arraycopy(USER_MESSAGE_START, 0, items, 0, USER_MESSAGE_START.length);
    System.arraycopy(bytes, from, items, USER_MESSAGE_START.length, to - from);
    System.arraycopy(USER_MESSAGE_END, 0, items, items.length - USER_MESSAGE_END.length, USER_MESSAGE_END.length);
    return items;
  }

  /** {@link #read}, without a copy when this source is a whole array made for it; never modify it. */
  byte[] readOwned() {
    return kind == Kind.ARRAY && from == 0 && to == bytes.length ? bytes : read();
  }

  /** Shows the kind and size, never the items. */
  @Override
  public String toString() {
    return "ItemSource[" + kind + ", bytes=" + size() + ']';
  }
}
