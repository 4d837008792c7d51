package io.github.affinity4j.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.affinity4j.core.ChainBreak.Kind;
import io.github.affinity4j.core.ChainNote.Reason;
import java.io.IOException;
import java.net.SocketTimeoutException;
import org.junit.jupiter.api.Test;

final class ChainNoteTest {
  private static final ChainKey CHAIN = ChainKey.response("resp_1");

  @Test
  void of_keepsItsValues() {
    ChainNote failed = ChainNote.of(CHAIN, Reason.REPAIR_FAILED, Kind.PREVIOUS_RESPONSE_NOT_FOUND, "no history");
    ChainNote limited = ChainNote.of(CHAIN, Reason.NOT_A_BREAK, null, "");

    assertThat(failed.chain()).isEqualTo(CHAIN);
    assertThat(failed.reason()).isEqualTo(Reason.REPAIR_FAILED);
    assertThat(failed.brokenBy()).contains(Kind.PREVIOUS_RESPONSE_NOT_FOUND);
    assertThat(failed.detail()).isEqualTo("no history");
    assertThat(limited.brokenBy()).isEmpty();
    assertThat(limited.detail()).isEmpty();
    assertThatThrownBy(() -> ChainNote.of(null, Reason.BROKE_OFF, null, "")).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> ChainNote.of(CHAIN, null, null, "")).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> ChainNote.of(CHAIN, Reason.BROKE_OFF, null, null))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void headerValue_isTheReasonAndTheChain() {
    assertThat(ChainNote.of(CHAIN, Reason.REPAIR_FAILED, Kind.BACKEND_UNAVAILABLE, "the replay answered HTTP 503")
        .headerValue()).isEqualTo("REPAIR_FAILED response:resp_1");
    assertThat(ChainNote.of(ChainKey.conversation("conv_1"), Reason.NOT_A_BREAK, null, "HTTP 429").headerValue())
        .isEqualTo("NOT_A_BREAK conversation:conv_1");
    assertThat(ChainNote.HEADER).isEqualTo("Affinity4j-Note");
  }

  @Test
  void reasonIn_readsTheReasonOfAHeaderValue() {
    for (Reason reason : Reason.values()) {
      assertThat(ChainNote.reasonIn(ChainNote.of(CHAIN, reason, null, "").headerValue())).isEqualTo(reason);
    }
    assertThat(ChainNote.reasonIn("BROKE_OFF")).isEqualTo(Reason.BROKE_OFF);
    assertThat(ChainNote.reasonIn(null)).isNull();
    assertThat(ChainNote.reasonIn("")).isNull();
    assertThat(ChainNote.reasonIn("repair_failed response:resp_1")).isNull();
    assertThat(ChainNote.reasonIn("SOMETHING response:resp_1")).isNull();
  }

  @Test
  void isFinal_everyReasonButNotABreak() {
    for (Reason reason : Reason.values()) {
      assertThat(ChainNote.of(CHAIN, reason, null, "").isFinal()).as(reason.name())
          .isEqualTo(reason != Reason.NOT_A_BREAK);
    }
  }

  @Test
  void message_namesTheChainTheReasonAndItsDocsAnchor() {
    for (Reason reason : Reason.values()) {
      ChainNote note = ChainNote.of(CHAIN, reason, reason == Reason.REPAIR_FAILED ? Kind.ITEM_NOT_FOUND : null, "");

      assertThat(note.getMessage()).as(reason.name())
          .contains(CHAIN.toString())
          .contains(reason.name())
          .contains("docs/repair.md#");
    }
    assertThat(ChainNote.of(CHAIN, Reason.REPAIR_FAILED, Kind.ITEM_NOT_FOUND, "").getMessage())
        .contains(Kind.ITEM_NOT_FOUND.name());
  }

  @Test
  void find_noteOnTheFailureACauseOrASuppressed() {
    ChainNote note = ChainNote.of(CHAIN, Reason.BROKE_OFF, null, "");
    IOException onCause = note.attachTo(new IOException("unexpected end of stream"));
    RuntimeException sdk = new RuntimeException("Stream failed", onCause);
    RuntimeException onSuppressed = new RuntimeException("Stream failed");
    onSuppressed.addSuppressed(new IOException("other"));
    onSuppressed.addSuppressed(note);

    assertThat(ChainNote.find(sdk)).containsSame(note);
    assertThat(ChainNote.find(new RuntimeException("wrapped", sdk))).containsSame(note);
    assertThat(ChainNote.find(onSuppressed)).containsSame(note);
    assertThat(ChainNote.find(note)).as("the note itself").containsSame(note);
    assertThat(ChainNote.find(new IOException("timeout", new IOException("reset")))).isEmpty();
    assertThatThrownBy(() -> ChainNote.find(null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void find_messageThatReadsLikeANote_isNoNote() {
    ChainNote note = ChainNote.of(CHAIN, Reason.REPAIR_FAILED, Kind.PREVIOUS_RESPONSE_NOT_FOUND, "no history");
    IOException mimic = new IOException(note.getMessage());

    assertThat(ChainNote.find(mimic)).isEmpty();
    note.attachTo(mimic);
    assertThat(mimic.getSuppressed()).containsExactly(note);
  }

  @Test
  void attachTo_keepsTypeAndMessageAddsTheNoteOnce() {
    SocketTimeoutException failure = new SocketTimeoutException("timeout");
    ChainNote note = ChainNote.of(CHAIN, Reason.NOT_A_BREAK, null, "");

    SocketTimeoutException same = note.attachTo(failure);
    note.attachTo(failure);
    ChainNote.of(CHAIN, Reason.NOT_A_BREAK, null, "another detail").attachTo(failure);

    assertThat(same).isSameAs(failure).hasMessage("timeout");
    assertThat(failure.getSuppressed()).containsExactly(note);
  }

  @Test
  void attachTo_causeHasTheSameNote_noSecondNote() {
    ChainNote first = ChainNote.of(CHAIN, Reason.BROKE_OFF, null, "");
    IOException below = first.attachTo(new IOException("unexpected end"));
    RuntimeException sdk = new RuntimeException("Stream failed", below);
    RuntimeException wrapped = new RuntimeException("call failed", new RuntimeException("Stream failed", below));

    ChainNote.of(CHAIN, Reason.BROKE_OFF, null, "").attachTo(sdk);
    ChainNote.of(CHAIN, Reason.BROKE_OFF, null, "").attachTo(wrapped);

    assertThat(sdk.getSuppressed()).isEmpty();
    assertThat(wrapped.getSuppressed()).isEmpty();
    assertThat(ChainNote.find(sdk)).containsSame(first);
  }

  @Test
  void attachTo_causeHasANoteOfAnotherReasonOrChain_addsItsOwn() {
    IOException below = ChainNote.of(CHAIN, Reason.NOT_A_BREAK, null, "").attachTo(new IOException("reset"));
    RuntimeException sdk = new RuntimeException("call failed", below);
    RuntimeException otherChain = new RuntimeException("call failed", below);
    ChainNote failed = ChainNote.of(CHAIN, Reason.REPAIR_FAILED, Kind.BACKEND_UNAVAILABLE, "");
    ChainNote other = ChainNote.of(ChainKey.response("resp_10"), Reason.NOT_A_BREAK, null, "");

    failed.attachTo(sdk);
    other.attachTo(otherChain);

    assertThat(sdk.getSuppressed()).containsExactly(failed);
    assertThat(otherChain.getSuppressed()).containsExactly(other);
    assertThat(ChainNote.find(sdk)).as("the outer verdict is found first").containsSame(failed);
  }

  @Test
  void attachTo_causeCycle_ends() {
    IOException first = new IOException("first");
    IOException second = new IOException("second", first);
    first.initCause(second);

    assertThat(ChainNote.find(first)).isEmpty();
    ChainNote.of(CHAIN, Reason.NOT_A_BREAK, null, "").attachTo(first);

    assertThat(first.getSuppressed()).hasSize(1);
    assertThat(ChainNote.find(second)).isPresent();
  }

  @Test
  void note_takesNoSuppressedAndHasNoStack() {
    ChainNote note = ChainNote.of(CHAIN, Reason.NOT_A_BREAK, null, "HTTP 429");

    note.addSuppressed(new IOException("x"));

    assertThat(note.getSuppressed()).isEmpty();
    assertThat(note.getStackTrace()).isEmpty();
    assertThat(note.getCause()).isNull();
  }
}
