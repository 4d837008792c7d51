package io.github.affinity4j.reliability;

import com.openai.client.OpenAIClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import io.github.affinity4j.openai.Conversation;
import io.github.affinity4j.testkit.SimulatedAnswer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Many conversations taking sync turns in rotation on a few threads: a thread takes the next
 * conversation, runs one turn, and puts it back, so every conversation lives through the whole run
 * (its pins age, and are evicted from a small store, while the others talk). For the concurrency
 * suites; the chaos suite has its own, richer, runner.
 */
final class Rotation {
  private Rotation() {}

  /** One conversation: sends a turn and knows the response it would continue. Used by one thread at a time. */
  interface Chat {
    Response send(String text);

    /** The response the next turn continues; null before the first success. */
    String lastResponseId();
  }

  /** A conversation through an {@link io.github.affinity4j.okhttp.AffinityInterceptor} client; the caller threads ids. */
  static Chat throughClient(OpenAIClient client) {
    return new Chat() {
      private String last;

      @Override
      public Response send(String text) {
        ResponseCreateParams.Builder params = ResponseCreateParams.builder().model(ChaosRun.MODEL).input(text);
        if (last != null) {
          params.previousResponseId(last);
        }
        Response response = client.responses().create(params.build());
        last = response.id();
        return response;
      }

      @Override
      public String lastResponseId() {
        return last;
      }
    };
  }

  /** A {@link Conversation}. */
  static Chat through(Conversation conversation) {
    return new Chat() {
      @Override
      public Response send(String text) {
        return conversation.send(text);
      }

      @Override
      public String lastResponseId() {
        return conversation.lastResponseId().orElse(null);
      }
    };
  }

  /**
   * One turn.
   *
   * @param conversation the conversation's number
   * @param turn 1 for its first
   * @param previousResponseId the response it continued, null for a new chain
   * @param expectedUserMessages the successes before it, plus one
   * @param response the response, or null
   * @param failure what the caller caught, or null
   */
  record Result(int conversation, int turn, String previousResponseId, int expectedUserMessages, Response response,
      Throwable failure) {
    boolean succeeded() {
      return failure == null;
    }

    /** Null if the answer saw the whole conversation and answered this turn; else what is wrong. */
    String contextProblem() {
      SimulatedAnswer answer = SimulatedAnswer.parse(ChaosRun.textOf(response));
      if (answer.userMessages() != expectedUserMessages) {
        return "conversation " + conversation + " turn " + turn + ": the model saw " + answer.userMessages()
            + " user messages of " + expectedUserMessages;
      }
      if (!answer.lastUserMessage().equals(ChaosRun.marker(conversation, turn))) {
        return "conversation " + conversation + " turn " + turn + ": answered " + answer.lastUserMessage();
      }
      return null;
    }
  }

  /**
   * Runs {@code turns} turns of every chat on {@code threads} threads, calling
   * {@code afterTurn} with the number of turns done after each.
   *
   * @throws AssertionError if the run does not finish within ten minutes or the harness fails
   */
  static List<Result> run(List<Chat> chats, int turns, int threads, LongConsumer afterTurn)
      throws InterruptedException {
    return run(chats, turns, threads, afterTurn, Duration.ofMinutes(10));
  }

  /**
   * As {@link #run(List, int, int, LongConsumer)}, failing (with the threads' stacks) if the run
   * takes longer than {@code deadline}.
   */
  static List<Result> run(List<Chat> chats, int turns, int threads, LongConsumer afterTurn, Duration deadline)
      throws InterruptedException {
    int[] successes = new int[chats.size()];
    int[] taken = new int[chats.size()];
    LinkedBlockingQueue<Integer> ready = new LinkedBlockingQueue<>();
    for (int i = 0; i < chats.size(); i++) {
      ready.add(i);
    }
    Queue<Result> results = new ConcurrentLinkedQueue<>();
    Queue<Throwable> harness = new ConcurrentLinkedQueue<>();
    AtomicLong done = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    for (int t = 0; t < threads; t++) {
      pool.execute(() -> {
        try {
          for (Integer i; (i = ready.poll()) != null; ) {
            // The queue hands a conversation to one thread at a time; its arrays' slots with it.
            Chat chat = chats.get(i);
            int turn = ++taken[i];
            String previous = chat.lastResponseId();
            Response response = null;
            Throwable failure = null;
            try {
              response = chat.send(ChaosRun.marker(i, turn));
              successes[i]++;
            } catch (Exception e) { // checked ones too: the library must not let any reach here
              failure = ChaosRun.unwrap(e);
            }
            results.add(new Result(i, turn, previous, successes[i] + (failure == null ? 0 : 1), response, failure));
            afterTurn.accept(done.incrementAndGet());
            if (taken[i] < turns) {
              ready.add(i);
            }
          }
        } catch (Throwable e) {
          harness.add(e);
        }
      });
    }
    pool.shutdown();
    if (!pool.awaitTermination(deadline.toMillis(), TimeUnit.MILLISECONDS)) {
      String stacks = stackDump();
      pool.shutdownNow();
      throw new AssertionError("the rotation did not finish in " + deadline + " (" + done.get() + " of "
          + (long) chats.size() * turns + " turns done); threads:\n" + stacks);
    }
    if (!harness.isEmpty()) {
      AssertionError error = new AssertionError("the rotation failed");
      harness.forEach(error::addSuppressed);
      throw error;
    }
    return new ArrayList<>(results);
  }

  static String stackDump() {
    StringBuilder dump = new StringBuilder();
    Thread.getAllStackTraces().forEach((thread, stack) -> {
      dump.append(thread.getName()).append(' ').append(thread.getState()).append('\n');
      for (StackTraceElement frame : stack) {
        dump.append("    at ").append(frame).append('\n');
      }
    });
    return dump.toString();
  }

  /** The conversation that received each response a caller saw succeed. */
  static Map<String, Integer> owners(List<Result> results) {
    Map<String, Integer> owners = new HashMap<>();
    results.stream().filter(Result::succeeded).forEach(r -> owners.put(r.response().id(), r.conversation()));
    return owners;
  }

  /** Context problems of the successful turns. */
  static List<String> contextProblems(List<Result> results) {
    return results.stream().filter(Result::succeeded).map(Result::contextProblem)
        .filter(problem -> problem != null).toList();
  }
}
