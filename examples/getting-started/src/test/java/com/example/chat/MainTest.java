package com.example.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.util.List;
import org.junit.jupiter.api.Test;

class MainTest {
  @Test
  void twoTurns_roundRobinPoolOfThree_secondTurnPinnedWithTheWholeConversation() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      String answer = Main.twoTurns(apim.openAiBaseUrl(), "test-subscription-key");

      SimulatedAnswer parsed = SimulatedAnswer.parse(answer);
      assertEquals(2, parsed.userMessages());                  // the first turn was in context
      assertEquals("Summarize that for a college freshman", parsed.lastUserMessage());
      List<LoggedRequest> log = apim.requestLog();
      assertEquals(2, log.size());
      assertTrue(log.get(1).hasAffinityCookie());             // the pin went along
      assertEquals(log.get(0).backend(), log.get(1).backend());
    }
  }

  @Test
  void twoConversations_eachStartsUnpinned_theGatewaySpreadsThem() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      String first = Main.twoTurns(apim.openAiBaseUrl(), "test-subscription-key");
      String second = Main.twoTurns(apim.openAiBaseUrl(), "test-subscription-key");

      assertEquals("backend-1", SimulatedAnswer.parse(first).backend());
      assertEquals("backend-2", SimulatedAnswer.parse(second).backend());
      assertEquals(2, SimulatedAnswer.parse(second).userMessages());   // its own conversation only
    }
  }
}
