package io.github.affinity4j.redis;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Skips a test class, with a message that says what to install, when no {@code redis-server} can
 * be found, except under CI ({@code CI=true}), where the class runs and fails: a CI that skips
 * these tests would prove nothing.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresRedisServer.Condition.class)
@interface RequiresRedisServer {

  /** The condition behind the annotation. */
  final class Condition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
      String missing = RedisServer.missing();
      if (missing == null || "true".equalsIgnoreCase(System.getenv("CI"))) {
        return ConditionEvaluationResult.enabled("redis-server found, or CI");
      }
      return ConditionEvaluationResult.disabled(missing);
    }
  }
}
