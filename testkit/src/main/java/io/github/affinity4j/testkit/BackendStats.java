package io.github.affinity4j.testkit;

/**
 * A snapshot of one simulated backend's counters.
 *
 * @param requests requests the gateway forwarded to this backend, including failed ones
 * @param responsesCreated responses this backend created (stored or not)
 * @param notFoundErrors requests this backend rejected because a previous response, conversation
 *     or input item was unknown to it
 */
public record BackendStats(long requests, long responsesCreated, long notFoundErrors) {}
