package io.github.affinity4j.testkit;

import java.util.Objects;

/**
 * One backend of a simulated APIM pool: a name, the region it reports in {@code x-ms-region}, its
 * priority group and its weight.
 *
 * <p>As in APIM backend pools, a lower {@code priority} value is served first: backends of
 * priority 2 serve only while every backend of priority 1 is unavailable. Within a priority group,
 * requests are spread in proportion to {@code weight}; equal weights give plain round-robin.
 *
 * <pre>{@code
 * ApimSimulator.builder()
 *     .backend(BackendSpec.of("east", "East US").weight(3))
 *     .backend(BackendSpec.of("west", "West US").weight(1))
 *     .backend(BackendSpec.of("spare", "Sweden Central").priority(2))
 *     .start();
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 *
 * @param name unique name of the backend in its pool, used in logs, answers and {@link ApimSimulator#backend(String)}
 * @param region the region display name the backend reports in {@code x-ms-region}
 * @param priority priority group, 1 (highest) or more
 * @param weight relative share of traffic within the priority group, 1 or more
 */
public record BackendSpec(String name, String region, int priority, int weight) {

  /** Validates the fields. */
  public BackendSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(region, "region");
    if (name.isBlank() || !name.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      throw new IllegalArgumentException(
          "backend name must be non-blank printable ASCII without spaces, was '" + name + "'");
    }
    if (priority < 1) {
      throw new IllegalArgumentException("priority must be 1 (highest) or more, was " + priority);
    }
    if (weight < 1 || weight > 1000) {
      throw new IllegalArgumentException("weight must be between 1 and 1000, was " + weight);
    }
  }

  /** A backend of priority 1 and weight 1. */
  public static BackendSpec of(String name, String region) {
    return new BackendSpec(name, region, 1, 1);
  }

  /** This backend in another priority group. */
  public BackendSpec priority(int priority) {
    return new BackendSpec(name, region, priority, weight);
  }

  /** This backend with another weight. */
  public BackendSpec weight(int weight) {
    return new BackendSpec(name, region, priority, weight);
  }
}
