package io.github.affinity4j.examples;

import io.github.affinity4j.okhttp.RoutingLogInterceptor;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Replaces known secrets (API key, subscription key, header values) with {@code [redacted]}, the
 * routing log's marker, in text that came from elsewhere, such as an error message a gateway
 * wrote. The commands never print a secret themselves; this is the second line of defence for text
 * they do not control. Immutable and thread-safe.
 */
final class Redactor {
  /** What a secret shows as. */
  static final String MASK = RoutingLogInterceptor.REDACTED;
  /** Shorter values are not masked: they would mangle ordinary words and are no real secret. */
  static final int MIN_SECRET_LENGTH = 4;

  private final List<String> secrets;

  /**
   * @param secrets the values to mask; nulls, and values shorter than {@link #MIN_SECRET_LENGTH},
   *     are skipped
   */
  Redactor(List<? extends @Nullable String> secrets) {
    List<String> kept = new ArrayList<>();
    for (String secret : secrets) {
      if (secret != null && secret.length() >= MIN_SECRET_LENGTH && !kept.contains(secret)) {
        kept.add(secret);
      }
    }
    // Longest first, so that a secret containing another is masked whole.
    kept.sort(Comparator.comparingInt(String::length).reversed());
    this.secrets = List.copyOf(kept);
  }

  /** A redactor that masks nothing. */
  static Redactor none() {
    return new Redactor(List.of());
  }

  /** Returns {@code text} with every known secret masked; null stays null. */
  @Nullable String apply(@Nullable String text) {
    if (text == null) {
      return null;
    }
    String result = text;
    for (String secret : secrets) {
      result = result.replace(secret, MASK);
    }
    return result;
  }
}
