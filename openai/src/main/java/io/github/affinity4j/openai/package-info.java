/**
 * The OpenAI Java SDK adapter: {@link io.github.affinity4j.openai.AffinityOpenAI} (an
 * {@code OpenAIClient} that keeps every chain's gateway pin) and
 * {@link io.github.affinity4j.openai.AffinityConversations} (one conversation per
 * {@link io.github.affinity4j.openai.Conversation}, with chain repair).
 *
 * <p>Nothing here is null unless marked {@code @Nullable} (JSpecify), checked by NullAway at
 * build time.
 */
@NullMarked
package io.github.affinity4j.openai;

import org.jspecify.annotations.NullMarked;
