package io.github.affinity4j.core;

import io.github.affinity4j.core.internal.ChainTurn;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.SocketTimeoutException;
import org.junit.jupiter.api.Test;

final class ChainNoteTest {
  private static final ChainKey CHAIN = ChainKey.response("resp_1");

  @Test
  void attachTo_keepsTypeAndMessageAddsTheNoteOnce() {
    SocketTimeoutException failure = new SocketTimeoutException("timeout");
    ChainNote note = new ChainNote(CHAIN, "not repaired: why");

    SocketTimeoutException same = note.attachTo(failure);
    note.attachTo(failure);
    new ChainNote(CHAIN, "not repaired: another reason").attachTo(failure);

    assertThat(same).isSameAs(failure).hasMessage("timeout");
    assertThat(failure.getSuppressed()).containsExactly(note);
  }

  @Test
  void attachTo_causeAlreadyNamedBelow_notAddedAgain() {
    IOException below = new IOException("unexpected end of stream");
    new ChainNote(CHAIN, "broke off").attachTo(below);
    RuntimeException sdk = new RuntimeException("Stream failed", below);
    RuntimeException repairFailed = new RuntimeException("x", new IOException(ChainTurn.REPAIR_FAILED_PREFIX
        + " chain response:resp_1 after a break: the replay's connection failed"));
    RuntimeException amended = new RuntimeException("429: limited (" + ChainNote.PREFIX + "response:resp_1 not repaired)");

    new ChainNote(CHAIN, "not repaired").attachTo(sdk);
    new ChainNote(CHAIN, "not repaired").attachTo(repairFailed);
    new ChainNote(CHAIN, "not repaired").attachTo(amended);

    assertThat(sdk.getSuppressed()).isEmpty();
    assertThat(repairFailed.getSuppressed()).isEmpty();
    assertThat(amended.getSuppressed()).isEmpty();
  }

  @Test
  void attachTo_anotherChainNamed_addsItsOwn() {
    IOException failure = new IOException("429: limited (" + ChainNote.PREFIX + "response:resp_10 not repaired)");

    new ChainNote(CHAIN, "not repaired").attachTo(failure);

    assertThat(failure.getSuppressed()).singleElement().extracting(t -> ((ChainNote) t).chain()).isEqualTo(CHAIN);
  }

  @Test
  void attachTo_causeCycle_ends() {
    IOException first = new IOException("first");
    IOException second = new IOException("second", first);
    first.initCause(second);

    new ChainNote(CHAIN, "not repaired").attachTo(first);

    assertThat(first.getSuppressed()).hasSize(1);
  }

  @Test
  void note_takesNoSuppressedAndHasNoStack() {
    ChainNote note = new ChainNote(CHAIN, "not repaired");

    note.addSuppressed(new IOException("x"));

    assertThat(note.getSuppressed()).isEmpty();
    assertThat(note.getStackTrace()).isEmpty();
    assertThat(note).hasToString("io.github.affinity4j.core.ChainNote: affinity4j: turn on chain response:resp_1 not repaired");
  }
}
