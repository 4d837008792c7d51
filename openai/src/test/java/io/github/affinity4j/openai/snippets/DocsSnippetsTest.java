package io.github.affinity4j.openai.snippets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.errors.BadRequestException;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.core.ChainBreak;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.AffinityConversations;
import io.github.affinity4j.openai.Conversation;
import io.github.affinity4j.testkit.ApimSimulator;
import io.github.affinity4j.testkit.LoggedRequest;
import io.github.affinity4j.testkit.SimulatedAnswer;
import io.github.affinity4j.testsupport.DocSnippets;
import io.github.affinity4j.testsupport.LogCapture;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.Request;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import reactor.core.publisher.Mono;

/**
 * Runs the snippets of the README and docs that need the SDK wrapper or {@code AffinityOpenAI}
 * (each a whole source file of this package, imports included) against the simulator, and checks
 * that each page shows its snippet word for word ({@link DocSnippets}).
 */
@Timeout(60)
final class DocsSnippetsTest {

  @ParameterizedTest
  @CsvSource({
      "README.md, quickstart-openai, QuickStart",
      "README.md, quickstart-conversations, Chats",
      "docs/simulator.md, junit, ChatServiceTest",
      "docs/azure.md, entra-id, AzureClients",
      "docs/security.md, identity, Tenants",
      "docs/repair.md, repair, Repairs",
  })
  void page_showsTheSourceTheTestsRun(String page, String snippet, String className) {
    assertThat(DocSnippets.inPage(DocSnippets.page(page), snippet))
        .isEqualTo(DocSnippets.inSource(source(className), snippet));
  }

  @Test
  void quickStartOpenAI_twoTurnsOnAPool_secondSeesTheFirstOnItsBackend() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      QuickStart quickStart = new QuickStart(apim.openAiBaseUrl(), "test-subscription-key");
      String text;
      try {
        text = quickStart.twoTurns();
      } finally {
        quickStart.close();
      }

      SimulatedAnswer answer = SimulatedAnswer.parse(text);
      assertThat(answer.userMessages()).isEqualTo(2);
      assertThat(answer.lastUserMessage()).isEqualTo("Summarize that for a college freshman");
      assertThat(apim.requestLog()).extracting(LoggedRequest::backend).containsExactly("backend-1", "backend-1");
      assertThat(apim.requestLog().get(1).hasAffinityCookie()).isTrue();
    }
  }

  @Test
  void quickStartConversations_plainClient_secondTurnPinnedWithTheWholeContext() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(3).start()) {
      OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(apim.openAiBaseUrl()).apiKey("test-key").build();
      try {
        Response second = new Chats(client).twoTurns();

        assertThat(SimulatedAnswer.parse(QuickStart.text(second)).userMessages()).isEqualTo(2);
        assertThat(apim.requestLog()).extracting(LoggedRequest::hasAffinityCookie).containsExactly(false, true);
      } finally {
        client.close();
      }
    }
  }

  @Test
  void entraId_tokenFromTheCredential_forCognitiveServices_turnAnswered() {
    List<String> scopesAsked = new CopyOnWriteArrayList<>();
    TokenCredential credential = new TokenCredential() {
      @Override
      public Mono<AccessToken> getToken(TokenRequestContext context) {
        return Mono.fromSupplier(() -> getTokenSync(context));
      }

      @Override
      public AccessToken getTokenSync(TokenRequestContext context) {
        scopesAsked.addAll(context.getScopes());
        return new AccessToken("entra-token", OffsetDateTime.now().plusHours(1));
      }
    };
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      OpenAIClient client = AzureClients.entraId(apim.openAiBaseUrl(), credential, "test-subscription-key");
      try {
        Response response = client.responses().create(
            ResponseCreateParams.builder().model("gpt-4.1").input("Hello").build());

        assertThat(SimulatedAnswer.parse(QuickStart.text(response)).userMessages()).isEqualTo(1);
        assertThat(scopesAsked).containsExactly("https://cognitiveservices.azure.com/.default");
      } finally {
        client.close();
      }
    }
  }

  @Test
  void identity_tenantsOfOneKey_keepApart() {
    AffinityInterceptor interceptor = Tenants.interceptor("a secret of at least 16 bytes".getBytes(StandardCharsets.UTF_8));
    Request a = new Request.Builder().url("https://apim.example/openai/v1/responses")
        .header("api-key", "one-key").header("X-Tenant", "a").build();
    Request b = a.newBuilder().header("X-Tenant", "b").build();
    assertThat(interceptor.scopeOf(a)).isEqualTo(interceptor.scopeOf(a.newBuilder().build()))
        .isNotEqualTo(interceptor.scopeOf(b));

    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(apim.openAiBaseUrl()).apiKey("test-key").build();
      try {
        AffinityConversations tenant42 = Tenants.conversations(client, "tenant-42");
        AffinityConversations tenant43 = Tenants.conversations(client, "tenant-43");
        Response first = tenant42.start(ResponseCreateParams.builder().model("gpt-4.1").build()).send("Hello");

        assertThat(tenant42.scope()).isNotEqualTo(tenant43.scope());
        assertThat(tenant42.resume(first.id()).lastResponseId()).contains(first.id());
      } finally {
        client.close();
      }
    }
  }

  @Test
  void repair_backendLost_interceptorRepairsAndListenerLogs_failPolicyErrorCarriesTheNote() {
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      AffinityInterceptor affinity = Repairs.interceptor();
      OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(apim.openAiBaseUrl()).apiKey("test-key")
          .addInterceptor(affinity).maxRetries(0).build();
      try {
        Response first = client.responses().create(ResponseCreateParams.builder().model("gpt-4.1").input("Hello").build());
        apim.backend(SimulatedAnswer.parse(QuickStart.text(first)).backend()).kill();
        LogCapture log = LogCapture.during(() -> client.responses().create(ResponseCreateParams.builder()
            .model("gpt-4.1").input("Still there?").previousResponseId(first.id()).build()));

        assertThat(affinity.repairStats().replays()).isEqualTo(1);
        assertThat(log.events()).filteredOn(event -> event.logger().equals(Repairs.class.getName()))
            .extracting(LogCapture.CapturedLog::message)
            .containsExactly("response:" + first.id() + " repaired: 2 items replayed");
      } finally {
        client.close();
      }
    }
    try (ApimSimulator apim = ApimSimulator.builder().backends(2).start()) {
      OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(apim.openAiBaseUrl()).apiKey("test-key").build();
      try {
        Conversation chat = AffinityConversations.builder().client(client).repairPolicy(RepairPolicy.FAIL).build()
            .start(ResponseCreateParams.builder().model("gpt-4.1").build());
        Response first = Repairs.send(chat, "Hello");
        apim.backend(SimulatedAnswer.parse(QuickStart.text(first)).backend()).kill();
        BadRequestException error;
        LogCapture log;
        try (LogCapture capture = LogCapture.start()) {
          log = capture;
          error = catchThrowableOfType(BadRequestException.class, () -> Repairs.send(chat, "Still there?"));
        }

        assertThat(ChainNote.find(error)).hasValueSatisfying(note -> {
          assertThat(note.reason()).isEqualTo(ChainNote.Reason.REPAIR_FAILED);
          assertThat(note.brokenBy()).contains(ChainBreak.Kind.PREVIOUS_RESPONSE_NOT_FOUND);
        });
        assertThat(log.events()).filteredOn(event -> event.logger().equals(Repairs.class.getName()))
            .extracting(LogCapture.CapturedLog::message)
            .containsExactly("chain response:" + first.id() + " not repaired: REPAIR_FAILED after PREVIOUS_RESPONSE_NOT_FOUND");
      } finally {
        client.close();
      }
    }
  }

  private static java.nio.file.Path source(String className) {
    return DocSnippets.testSource(DocsSnippetsTest.class).resolveSibling(className + ".java");
  }
}
