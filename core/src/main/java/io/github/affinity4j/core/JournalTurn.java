package io.github.affinity4j.core;

import static java.util.Objects.requireNonNull;

import io.github.affinity4j.core.internal.ItemSource;
import io.github.affinity4j.core.internal.Names;
import io.github.affinity4j.core.internal.TurnInput;
import io.github.affinity4j.core.internal.TurnOutput;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * One turn of a chain, as a {@link HistoryJournal} records it: the response id, the link to the
 * turn before it, the input items sent and the output items returned, each as one JSON array in
 * bytes.
 *
 * <pre>{@code
 * JournalTurn turn = JournalTurn.builder()
 *     .responseId("resp_2")
 *     .previousResponseId("resp_1")            // the logical parent; none for a new chain
 *     .input(inputItems)                       // the request's input, a JSON array
 *     .output(outputItems)                     // the response's output, a JSON array
 *     .build();
 * journal.record(turn);
 * }</pre>
 *
 * <p>A turn belongs to the {@link ChainScope} of the request that made it: its ids, links and
 * conversation are looked up in that scope only.
 *
 * <p>The link is the <em>logical</em> parent: the turn that a replay continued, not what the request
 * that created this response sent. A turn made in a conversation names the conversation and no
 * previous response; the journal links it to the conversation's latest turn. Immutable and
 * thread-safe; {@link #toString()} shows ids and sizes, never items.
 */
public final class JournalTurn {

  private final ChainScope scope;
  private final String responseId;
  private final @Nullable String previousResponseId;
  private final @Nullable String conversationId;
  // The items as arrays of their own (a turn built from arrays), or where they are in the bytes
  // received (a turn the engine recorded): one or the other.
  private final byte @Nullable [] input;
  private final byte @Nullable [] output;
  private final @Nullable ItemSource inputSource;
  private final @Nullable ItemSource outputSource;

  private JournalTurn(ChainScope scope, String responseId, @Nullable String previousResponseId,
      @Nullable String conversationId, byte @Nullable [] input, byte @Nullable [] output,
      @Nullable ItemSource inputSource, @Nullable ItemSource outputSource) {
    this.scope = scope;
    this.responseId = responseId;
    this.previousResponseId = previousResponseId;
    this.conversationId = conversationId;
    this.input = input;
    this.output = output;
    this.inputSource = inputSource;
    this.outputSource = outputSource;
  }

  /** Returns a builder; {@code responseId}, {@code input} and {@code output} are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** A turn from arrays the engine made itself, so not copied. */
  public static JournalTurn of(ChainScope scope, String responseId, @Nullable String previousResponseId,
      @Nullable String conversationId,
      byte[] input, byte[] output) {
    return new JournalTurn(scope, responseId, previousResponseId, conversationId, requireNonNull(input, "input"),
        requireNonNull(output, "output"), null, null);
  }

  /**
   * A turn as the engine received it: its items stay in the request and response bytes, and are
   * read out only when {@link #input()} or {@link #output()} asks for them (a journal that stores
   * them apart, a replay). Not copied. For the engine; a journal treats it as any other turn.
   */
  public static JournalTurn received(ChainScope scope, String responseId, @Nullable String previousResponseId,
      @Nullable String conversationId, ItemSource input, ItemSource output) {
    return new JournalTurn(scope, responseId, previousResponseId, conversationId, null, null,
        requireNonNull(input, "input"), requireNonNull(output, "output"));
  }

  /** Returns whom the turn belongs to; {@link ChainScope#NONE} unless set. */
  public ChainScope scope() {
    return scope;
  }

  /** Returns the key of the response this turn created, in its scope. */
  public ChainKey key() {
    return ChainKey.response(responseId).in(scope);
  }

  /** Returns the id of the response this turn created. */
  public String responseId() {
    return responseId;
  }

  /** Returns the logical parent's response id; empty for the first turn of a chain. */
  public Optional<String> previousResponseId() {
    return Optional.ofNullable(previousResponseId);
  }

  /** Returns the conversation the turn was made in, if any. */
  public Optional<String> conversationId() {
    return Optional.ofNullable(conversationId);
  }

  /** Returns the input items, a JSON array: a fresh copy on each call (read out of a turn {@link #received}). */
  public byte[] input() {
    return input != null ? input.clone() : requireNonNull(inputSource).read();
  }

  /** Returns the output items, a JSON array: a fresh copy on each call (read out of a turn {@link #received}). */
  public byte[] output() {
    return output != null ? output.clone() : requireNonNull(outputSource).read();
  }

  /** Returns the size of the items, input and output together, in bytes. */
  public long bytes() {
    return input != null && output != null ? (long) input.length + output.length
        : requireNonNull(inputSource).size() + requireNonNull(outputSource).size();
  }

  /** How many bytes keeping this turn holds in memory: for a turn received, the bodies its items are in. */
  long retainedBytes() {
    return input != null && output != null ? (long) input.length + output.length
        : requireNonNull(inputSource).retained() + requireNonNull(outputSource).retained();
  }

  /** Whether the items are still in the bytes received, to be read when asked for. */
  boolean isReceived() {
    return input == null;
  }

  /** The items without copying (a turn built from arrays); null for a turn {@link #received}. */
  byte @Nullable [] inputBytes() {
    return input;
  }

  byte @Nullable [] outputBytes() {
    return output;
  }

  @Override
  public String toString() {
    return "JournalTurn[responseId=" + responseId + ", previousResponseId=" + previousResponseId
        + ", conversationId=" + conversationId + ", bytes=" + bytes() + ']';
  }

  /** Builds a {@link JournalTurn}. Not thread-safe. */
  public static final class Builder {
    private ChainScope scope = ChainScope.NONE;
    private @Nullable String responseId;
    private @Nullable String previousResponseId;
    private @Nullable String conversationId;
    private byte @Nullable [] input;
    private byte @Nullable [] output;

    private Builder() {}

    /** Sets whom the turn belongs to; default {@link ChainScope#NONE}. */
    public Builder scope(ChainScope scope) {
      this.scope = requireNonNull(scope, "scope");
      return this;
    }

    /**
     * Sets the id of the response the turn created (required).
     *
     * @throws IllegalArgumentException if it is not a valid id ({@link ChainKey#isValidId})
     */
    public Builder responseId(String responseId) {
      this.responseId = validId(responseId, "responseId");
      return this;
    }

    /**
     * Sets the logical parent's response id; null (the default) for the first turn of a chain.
     *
     * @throws IllegalArgumentException if it is not null and not a valid id
     */
    public Builder previousResponseId(@Nullable String previousResponseId) {
      this.previousResponseId = previousResponseId == null ? null : validId(previousResponseId,
          "previousResponseId");
      return this;
    }

    /**
     * Sets the conversation the turn was made in; null (the default) if none.
     *
     * @throws IllegalArgumentException if it is not null and not a valid id
     */
    public Builder conversationId(@Nullable String conversationId) {
      this.conversationId = conversationId == null ? null : validId(conversationId, "conversationId");
      return this;
    }

    /** Sets the input items, a JSON array (required); copied. */
    public Builder input(byte[] input) {
      this.input = requireNonNull(input, "input").clone();
      return this;
    }

    /** Sets the output items, a JSON array (required); copied. */
    public Builder output(byte[] output) {
      this.output = requireNonNull(output, "output").clone();
      return this;
    }

    /**
     * Builds the turn.
     *
     * @throws NullPointerException if {@code responseId}, {@code input} or {@code output} was not set
     */
    public JournalTurn build() {
      requireNonNull(responseId, "responseId is required; set the id of the response the turn created");
      requireNonNull(input, "input is required; set the turn's input items, [] if none");
      requireNonNull(output, "output is required; set the turn's output items, [] if none");
      return new JournalTurn(scope, responseId, previousResponseId, conversationId, input, output, null, null);
    }

    private static String validId(String id, String what) {
      if (!ChainKey.isValidId(id)) {
        throw new IllegalArgumentException(what + " must be 1 to " + ChainKey.MAX_ID_LENGTH
            + " printable ASCII characters without spaces, got " + Names.describe(id));
      }
      return id;
    }
  }
}
