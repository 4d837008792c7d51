package io.github.affinity4j.core.internal;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.affinity4j.core.AffinityToken;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainKey;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.ChainScope;
import io.github.affinity4j.core.ErrorFixtures;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.testsupport.BadInput;
import io.github.affinity4j.testsupport.FuzzSuite;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bad error responses for {@link ChainBreaks} and the repair decisions built on it
 * ({@link ChainTurn#decide}): seeded mutations of the error fixtures and of real request bodies,
 * any status, pinned or not. Properties: no exception; only 400, 404, 502, 503 and 504 can be a
 * break, and 500 in the gateway's own shape to a pinned request; a break is only about what the request carried (its previous response, its conversation,
 * its item ids, its pin); an id a break names is a valid id; an amended error body is JSON; a failure
 * that continued a chain names it in its note, REPAIR_FAILED with the kind of break for a FAIL.
 */
@Tag("fuzz")
@Timeout(600)
final class ChainBreaksFuzzTest {

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final int[] STATUSES = {200, 201, 400, 401, 403, 404, 408, 409, 429, 500, 502, 503, 504};

  private static final List<byte[]> ERRORS = ErrorFixtures.names().stream()
      .map(name -> ErrorFixtures.load(name).body()).toList();

  @Test
  void mutatedErrors_classify_neverThrowAndBreakOnlyOnWhatTheRequestCarried() {
    FuzzSuite.run("error bodies", 600, 60_000, Duration.ofSeconds(30), (random, index) -> {
      byte[] body = random.nextInt(8) == 0 ? BadInput.text(random, 200).getBytes(UTF_8)
          : BadInput.mutate(random, BadInput.oneOf(random, ERRORS));
      int status = random.nextInt(5) == 0 ? random.nextInt(1000) : STATUSES[random.nextInt(STATUSES.length)];
      check(status, body, request(random), random.nextBoolean(), random);
    });
  }

  @FuzzTest(maxDuration = "10m")
  void jazzerError(FuzzedDataProvider data) {
    int status = data.consumeInt(0, 999);
    boolean pinned = data.consumeBoolean();
    byte[] request = data.consumeBytes(400);
    byte[] body = data.consumeRemainingAsBytes();
    TurnInput input = TurnInput.fromRequestBody(request, 0, request.length)
        .orElseGet(() -> parse(TurnInputFuzzTest.REQUESTS.get(status % TurnInputFuzzTest.REQUESTS.size())));
    check(status, body, input, pinned, new Random(status));
  }

  static void check(int status, byte[] body, TurnInput request, boolean pinned, Random random) {
    Optional<ChainBreak> broke = ChainBreaks.classify(status, body, 0, body.length, request, pinned);
    broke.ifPresent(b -> {
      assertThat(status).isIn(400, 404, 500, 502, 503, 504);
      assertThat(b.id() == null || ChainKey.isValidId(b.id())).isTrue();
      switch (b.kind()) {
        case PREVIOUS_RESPONSE_NOT_FOUND -> assertThat(request.previousResponseId()).isPresent();
        case CONVERSATION_NOT_FOUND -> assertThat(request.conversationId()).isPresent();
        case ITEM_NOT_FOUND -> {
          assertThat(request.itemIds()).isNotEmpty();
          assertThat(b.id() == null || request.itemIds().contains(b.id())).isTrue();
        }
        case INVALID_ENCRYPTED_CONTENT -> assertThat(request.encryptedItems()).isPositive();
        case BACKEND_UNAVAILABLE -> {
          assertThat(status).isIn(500, 502, 503, 504);
          assertThat(pinned).isTrue();
          assertThat(request.chain().isPresent() || !request.itemIds().isEmpty())
              .as("a chain: by id, or by the items a stateless request sends back").isTrue();
        }
      }
      assertThat(b.describe()).isNotBlank();
    });
    if (status >= 502 && status <= 504) {
      assertThat(broke.isPresent())
          .isEqualTo(pinned && (request.chain().isPresent() || !request.itemIds().isEmpty()));
    }

    // The decision a turn makes from it, under each policy, never throws; a FAIL's body is JSON.
    RepairPolicy policy = BadInput.oneOf(random, RepairPolicy.values());
    Engine repairer = Engine.builder().repairPolicy(policy).retryPause(Duration.ZERO).build();
    byte[] sent = request.toString().getBytes(UTF_8); // not JSON: the turn then never repairs
    ChainTurn unreadable = repairer.repairTurn(sent, null, ChainScope.NONE);
    assertThat(unreadable.decide(status, body).action()).isEqualTo(RepairDecision.Action.NONE);
    ChainTurn turn = repairer.repairTurn(requestBytes(request), pinned ? pin() : null, ChainScope.NONE);
    for (int attempt = 0; attempt < 3; attempt++) {
      RepairDecision decision = turn.decide(status, body, random.nextBoolean());
      if (decision.action() == RepairDecision.Action.FAIL) {
        decision.errorBody().ifPresent(amended -> {
          try {
            assertThat(MAPPER.readTree(amended).isObject()).isTrue();
          } catch (java.io.IOException e) {
            throw new AssertionError("amended error body is not JSON", e);
          }
        });
        assertThat(decision.cause()).as("a FAIL repairs a break").isPresent();
        if (turn.chain().isEmpty()) {
          // A stateless request (or one refused its reasoning) breaks without a chain key to name.
          assertThat(decision.note()).as("no chain, no note").isEmpty();
        } else {
          assertThat(decision.note()).as("a FAIL names the chain, if the request continued one")
              .hasValueSatisfying(note -> {
                assertThat(note.reason()).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
                assertThat(note.brokenBy()).isEqualTo(decision.cause().map(ChainBreak::kind));
                assertThat(Optional.of(note.chain())).isEqualTo(turn.chain());
              });
        }
      } else if (decision.action() == RepairDecision.Action.NONE && (status < 200 || status >= 300)) {
        assertThat(decision.note().map(ChainNote::chain)).as("a NONE names the chain, if any").isEqualTo(turn.chain());
        decision.note().ifPresent(note -> assertThat(note.reason()).isNotEqualTo(ChainNote.Reason.REPAIR_FAILED));
      }
      if (decision.action() == RepairDecision.Action.NONE || decision.action() == RepairDecision.Action.FAIL) {
        break;
      }
    }
  }

  private static TurnInput request(Random random) {
    String seed = BadInput.oneOf(random, TurnInputFuzzTest.REQUESTS);
    for (int i = 0; i < 4; i++) {
      byte[] mutated = BadInput.mutate(random, seed.getBytes(UTF_8));
      Optional<TurnInput> input = TurnInput.fromRequestBody(mutated, 0, mutated.length);
      if (input.isPresent()) {
        return input.get();
      }
    }
    return parse(seed);
  }

  private static TurnInput parse(String body) {
    byte[] bytes = body.getBytes(UTF_8);
    return TurnInput.fromRequestBody(bytes, 0, bytes.length).orElseThrow();
  }

  /** A request body that reads as {@code input} does, for a turn. */
  private static byte[] requestBytes(TurnInput input) {
    StringBuilder json = new StringBuilder("{\"input\":").append(new String(input.items(), UTF_8));
    input.previousResponseId().ifPresent(id -> json.append(",\"previous_response_id\":\"").append(id).append('"'));
    input.conversationId().ifPresent(id -> json.append(",\"conversation\":\"").append(id.replace("\\", "\\\\")
        .replace("\"", "\\\"")).append('"'));
    return json.append('}').toString().getBytes(UTF_8);
  }

  private static AffinityToken pin() {
    return AffinityToken.builder().name("APIM-Backend-Affinity").value("pin").domain("apim.example")
        .seenAt(Instant.EPOCH).build();
  }
}
