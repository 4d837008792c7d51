package io.github.affinity4j.examples;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Objects;
import java.util.Properties;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Entry point of {@code affinity4j-examples.jar}: the {@code demo} and {@code probe} commands.
 *
 * <pre>
 * java -jar examples/target/affinity4j-examples.jar demo
 * java -jar examples/target/affinity4j-examples.jar probe --base-url URL --subscription-key KEY
 * java -jar examples/target/affinity4j-examples.jar probe --simulator --conversations 6 --turns 3
 * java -jar examples/target/affinity4j-examples.jar probe --help
 * java -jar examples/target/affinity4j-examples.jar --version
 * </pre>
 *
 * <p>Only {@link #main(String[])} exits the JVM; {@link #run(PrintStream, PrintStream, String...)}
 * returns the exit code, for tests: 0 success, 1 the run found what it checks for failing, 2 a
 * usage error.
 */
public final class Main {
  private Main() {}

  /** Runs a command and exits with its code. */
  public static void main(String[] args) {
    System.exit(run(System.out, System.err, args));
  }

  /**
   * Runs a command, writing its output to {@code out} and usage errors to {@code err}, and returns
   * its exit code. Debug logs ({@code --debug}) go to the process's standard error.
   */
  static int run(PrintStream out, PrintStream err, String... args) {
    CommandLine cli = new CommandLine(new Root())
        .addSubcommand(new DemoCommand(out))
        .addSubcommand(new ProbeCommand(out))
        .setOut(new PrintWriter(out, true))
        .setErr(new PrintWriter(err, true))
        .setCaseInsensitiveEnumValuesAllowed(true);
    return cli.execute(args);
  }

  /** The top command: needs a subcommand. */
  @Command(name = "java -jar affinity4j-examples.jar", mixinStandardHelpOptions = false,
      usageHelpAutoWidth = true, versionProvider = Version.class,
      description = "Session affinity for OpenAI Responses API conversations behind a gateway: "
          + "a demo on the embedded APIM simulator, and a probe for real gateways.",
      footer = {"", "Run a command with --help for its options."})
  static final class Root implements Runnable {
    /** Injected by picocli when the command line is built; null before. */
    @Spec
    private @Nullable CommandSpec spec;

    @picocli.CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help.")
    private boolean help;

    @picocli.CommandLine.Option(names = {"-V", "--version"}, versionHelp = true,
        description = "Print the version and exit.")
    private boolean version;

    @Override
    public void run() {
      CommandSpec spec = Objects.requireNonNull(this.spec, "picocli injects the @Spec");
      throw new ParameterException(spec.commandLine(), "Missing command: demo or probe");
    }
  }

  /**
   * {@code --version}: {@code affinity4j-examples <version>}, the project version Maven wrote into
   * {@code version.properties} when it built the jar.
   */
  static final class Version implements CommandLine.IVersionProvider {
    static final String RESOURCE = "version.properties";

    @Override
    public String[] getVersion() throws IOException {
      Properties properties = new Properties();
      try (InputStream in = Main.class.getResourceAsStream(RESOURCE)) {
        if (in == null) {
          throw new IOException(RESOURCE + " is missing from the jar; rebuild it with Maven");
        }
        properties.load(in);
      }
      return new String[] {"affinity4j-examples " + properties.getProperty("version", "unknown")};
    }
  }
}
