package io.github.affinity4j.core.internal;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Jackson, for the items inside a turn (read when a replay or a journal needs them) and the bodies
 * the engine builds; the envelope of a request or response is read by {@link JsonScanner}. Stateless
 * and thread-safe.
 */
public final class Json {

  /** Thread-safe once configured; its factory serves the streaming parsers too. */
  public static final ObjectMapper MAPPER = new ObjectMapper();

  public static final JsonFactory FACTORY = MAPPER.getFactory();

  public static final byte[] EMPTY_ARRAY = {'[', ']'};

  private Json() {}
}
