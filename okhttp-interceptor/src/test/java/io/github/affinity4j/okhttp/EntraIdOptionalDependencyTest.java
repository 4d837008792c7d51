package io.github.affinity4j.okhttp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.net.InetAddress;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.mockwebserver.MockResponse;
import okhttp3.mockwebserver.MockWebServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * azure-identity is optional for this module, and the OpenAI SDK is no dependency at all: only
 * {@link EntraIdInterceptor} may refer to Azure types, and nothing refers to the SDK. (The build's
 * enforcer rule {@code no-openai-sdk} keeps the SDK off a consumer's classpath; these tests check
 * the classes themselves.)
 */
@Timeout(60)
final class EntraIdOptionalDependencyTest {
  private static final String PACKAGE = "io/github/affinity4j/okhttp/";

  @Test
  void compiledClasses_onlyEntraIdInterceptorRefersToAzureAndNoneToTheOpenAiSdk() throws Exception {
    Path classes = Path.of(RoutingLogInterceptor.class.getProtectionDomain().getCodeSource()
        .getLocation().toURI());
    Map<String, String> constantPools = new TreeMap<>();
    try (Stream<Path> files = Files.walk(classes)) {
      files.filter(file -> file.toString().endsWith(".class")).forEach(file -> {
        try {
          // Type names sit in the constant pool as modified UTF-8, readable as Latin-1.
          constantPools.put(classes.relativize(file).toString().replace(File.separatorChar, '/'),
              new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }

    assertThat(constantPools).containsKeys(PACKAGE + "AffinityInterceptor.class",
        PACKAGE + "RoutingLogInterceptor.class", PACKAGE + "ConversationCookieJar.class",
        PACKAGE + "EntraIdInterceptor.class");
    // The control: the scan does see a reference where there is one.
    assertThat(constantPools.get(PACKAGE + "EntraIdInterceptor.class"))
        .contains("com/azure/core/credential/TokenCredential");
    constantPools.forEach((name, pool) -> {
      assertThat(pool).as(name).doesNotContain("com/openai/").doesNotContain("com.openai.");
      if (!name.startsWith(PACKAGE + "EntraIdInterceptor")) {
        assertThat(pool).as(name).doesNotContain("com/azure/").doesNotContain("com.azure.")
            .doesNotContain("reactor/core/");
      }
    });
  }

  @Test
  void withoutAzureAndTheSdkOnTheClasspath_affinityRoutingLogAndCookieJarWork() throws Exception {
    List<URL> urls = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      urls.add(Path.of(entry).toUri().toURL());
    }
    try (MockWebServer server = new MockWebServer();
        HidingClassLoader loader = new HidingClassLoader(urls.toArray(URL[]::new),
            "com.azure.", "com.openai.", "reactor.")) {
      server.start(InetAddress.getByName("127.0.0.1"), 0);
      server.enqueue(new MockResponse().setHeader("Content-Type", "application/json")
          .setHeader("x-ms-region", "East US")
          .setBody("{\"id\":\"resp_1\",\"object\":\"response\",\"output\":[]}"));

      assertThatThrownBy(() -> Class.forName("com.azure.core.credential.TokenCredential", false, loader))
          .isInstanceOf(ClassNotFoundException.class);
      // The control: the class that needs azure does fail there.
      Class<?> entra = Class.forName(EntraIdInterceptor.class.getName(), false, loader);
      assertThatThrownBy(entra::getMethods).isInstanceOf(NoClassDefFoundError.class)
          .hasMessageContaining("com/azure/core/credential");

      Class<?> probe = Class.forName(Probe.class.getName(), true, loader);
      assertThat(probe.getClassLoader()).isSameAs(loader);
      assertThat(Class.forName(RoutingLogInterceptor.class.getName(), false, loader).getClassLoader())
          .isSameAs(loader);
      Constructor<?> constructor = probe.getDeclaredConstructor();
      constructor.setAccessible(true);
      @SuppressWarnings("unchecked")
      Function<String, List<String>> run = (Function<String, List<String>>) constructor.newInstance();

      List<String> lines = run.apply(server.url("/openai/v1/responses").toString());

      assertThat(lines).singleElement().asString()
          .startsWith("POST /openai/v1/responses 200 ")
          .contains(" region=\"East US\"").contains(" created=response:resp_1");
    }
  }

  /** Runs inside the hiding loader: the module used as someone without azure-identity uses it. */
  static final class Probe implements Function<String, List<String>> {
    @Override
    public List<String> apply(String url) {
      List<String> lines = new ArrayList<>();
      OkHttpClient client = new OkHttpClient.Builder()
          .cookieJar(ConversationCookieJar.builder().threadId("thread_abc").build())
          .addInterceptor(AffinityInterceptor.builder().build())
          .addInterceptor(RoutingLogInterceptor.builder().logger(lines::add).build())
          .build();
      Request request = new Request.Builder().url(url)
          .post(RequestBody.create("{\"model\":\"gpt-4.1\",\"input\":\"Hello\"}",
              MediaType.get("application/json")))
          .build();
      try (Response response = client.newCall(request).execute()) {
        response.body().string();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } finally {
        client.dispatcher().executorService().shutdown();
        client.connectionPool().evictAll();
      }
      return lines;
    }
  }

  /**
   * Loads the test classpath itself (its parent is the platform loader, so this module's classes
   * and OkHttp are loaded afresh) and refuses every class under the hidden prefixes.
   */
  private static final class HidingClassLoader extends URLClassLoader {
    private final List<String> hidden;

    HidingClassLoader(URL[] urls, String... hidden) {
      super(urls, ClassLoader.getPlatformClassLoader());
      this.hidden = List.of(hidden);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      for (String prefix : hidden) {
        if (name.startsWith(prefix)) {
          throw new ClassNotFoundException(name + " is hidden by this test");
        }
      }
      return super.loadClass(name, resolve);
    }
  }
}
