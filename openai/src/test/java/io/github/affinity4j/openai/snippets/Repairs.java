package io.github.affinity4j.openai.snippets;

// snippet: repair
import com.openai.errors.OpenAIException;
import com.openai.models.responses.Response;
import io.github.affinity4j.core.AffinityListener;
import io.github.affinity4j.core.CaffeineHistoryJournal;
import io.github.affinity4j.core.ChainNote;
import io.github.affinity4j.core.RepairPolicy;
import io.github.affinity4j.okhttp.AffinityInterceptor;
import io.github.affinity4j.openai.Conversation;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

final class Repairs {
  private static final Logger logger = LoggerFactory.getLogger(Repairs.class);

  static AffinityInterceptor interceptor() {
    return AffinityInterceptor.builder()
        .journal(CaffeineHistoryJournal.builder().maximumBytes(256L << 20).build())
        .repairPolicy(RepairPolicy.RETRY_THEN_REPLAY)   // the default
        .retryPause(Duration.ofMillis(500))
        .listener(new AffinityListener() {
          @Override
          public void repaired(ChainRepair repair) {
            logger.info("{} repaired: {} items replayed", repair.chain(), repair.itemsReplayed());
          }
        })
        .build();
  }

  static Response send(Conversation chat, String text) {
    try {
      return chat.send(text);
    } catch (OpenAIException e) {                      // the SDK's exception, as without affinity4j
      ChainNote.find(e).ifPresent(note -> logger.warn("chain {} not repaired: {} after {}",
          note.chain(), note.reason(), note.brokenBy().map(Enum::name).orElse("-")));
      throw e;
    }
  }
}
// snippet: end
