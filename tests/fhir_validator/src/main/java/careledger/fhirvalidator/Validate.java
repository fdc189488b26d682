package careledger.fhirvalidator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.util.VersionUtil;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.ResultSeverityEnum;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;

/**
 * Validates FHIR R4 JSON files with HAPI's instance validator (the HL7 validation engine) against the
 * R4 definitions bundled in the jar, offline, and prints one JSON report on stdout.
 *
 * <p>Arguments are files or directories (every *.json directly inside, sorted). All files go through
 * one JVM and one validator because start-up and the first snapshot generation dominate the cost.
 * The exit code is 0 whatever the files contain: the caller judges the report. Non-zero means the
 * runner itself failed (bad arguments, unreadable input, broken classpath).
 */
public final class Validate {
  private Validate() {}

  public static void main(String[] args) throws IOException {
    // Before any logger exists: HAPI is chatty at INFO, and stdout must carry only the report.
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    if (args.length == 0) {
      System.err.println("usage: java -jar fhir-validator.jar FILE_OR_DIR...");
      System.exit(2);
    }
    List<Path> files = new ArrayList<>();
    for (String arg : args) {
      Path path = Path.of(arg);
      if (Files.isDirectory(path)) {
        try (Stream<Path> listing = Files.list(path)) {
          listing.filter(p -> p.toString().endsWith(".json")).sorted().forEach(files::add);
        }
      } else if (Files.isRegularFile(path)) {
        files.add(path);
      } else {
        System.err.println("no such file or directory: " + arg);
        System.exit(2);
      }
    }

    long start = System.nanoTime();
    FhirContext ctx = FhirContext.forR4();
    // The default R4 chain: base definitions, in-memory terminology for the bundled value sets,
    // the common external code systems (UCUM, MIME types, languages, ...), snapshots for profiles.
    ValidationSupportChain chain =
        new ValidationSupportChain(
            new DefaultProfileValidationSupport(ctx),
            new InMemoryTerminologyServerValidationSupport(ctx),
            new CommonCodeSystemsTerminologyService(ctx),
            new SnapshotGeneratingValidationSupport(ctx));
    FhirValidator validator = ctx.newValidator();
    validator.registerValidatorModule(new FhirInstanceValidator(chain));
    long setupMs = (System.nanoTime() - start) / 1_000_000;

    StringBuilder out = new StringBuilder(1 << 16);
    out.append("{\"validator\":{\"engine\":\"hapi-fhir\",\"version\":")
        .append(str(VersionUtil.getVersion()))
        .append(",\"fhir\":\"R4\"},\"files\":{");
    boolean firstFile = true;
    for (Path file : files) {
      String text = Files.readString(file, StandardCharsets.UTF_8);
      List<SingleValidationMessage> messages;
      long fileStart = System.nanoTime();
      try {
        // From the text, not a parsed object: the engine then sees the JSON exactly as it was emitted.
        ValidationResult result = validator.validateWithResult(text);
        messages = result.getMessages();
      } catch (RuntimeException e) {
        // Malformed JSON makes the engine throw instead of reporting: one file's failure is that
        // file's fatal issue, not the end of the run for the rest of the corpus.
        SingleValidationMessage m = new SingleValidationMessage();
        m.setSeverity(ResultSeverityEnum.FATAL);
        m.setLocationString("(file)");
        m.setMessage(e.getClass().getSimpleName() + ": " + e.getMessage());
        m.setMessageId("CARELEDGER_VALIDATOR_EXCEPTION");
        messages = List.of(m);
      }
      if (!firstFile) {
        out.append(',');
      }
      firstFile = false;
      appendFile(out, file.toString(), messages, (System.nanoTime() - fileStart) / 1_000_000);
    }
    long totalMs = (System.nanoTime() - start) / 1_000_000;
    out.append("},\"setup_ms\":").append(setupMs).append(",\"total_ms\":").append(totalMs).append('}');

    PrintStream stdout = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    stdout.println(out);
    stdout.flush();
    System.exit(0); // HAPI may leave non-daemon threads (caches) behind.
  }

  private static void appendFile(
      StringBuilder out, String name, List<SingleValidationMessage> messages, long elapsedMs) {
    int errors = 0;
    int warnings = 0;
    int information = 0;
    StringBuilder issues = new StringBuilder();
    for (SingleValidationMessage m : messages) {
      ResultSeverityEnum severity = m.getSeverity();
      if (severity == ResultSeverityEnum.ERROR || severity == ResultSeverityEnum.FATAL) {
        errors++;
      } else if (severity == ResultSeverityEnum.WARNING) {
        warnings++;
      } else {
        information++;
      }
      if (issues.length() > 0) {
        issues.append(',');
      }
      issues
          .append("{\"severity\":")
          .append(str(severity == null ? "information" : severity.getCode()))
          .append(",\"location\":")
          .append(str(m.getLocationString()))
          .append(",\"line\":")
          .append(m.getLocationLine() == null ? "null" : m.getLocationLine().toString())
          .append(",\"message\":")
          .append(str(m.getMessage()))
          .append(",\"messageId\":")
          .append(str(m.getMessageId()))
          .append('}');
    }
    out.append(str(name))
        .append(":{\"errors\":")
        .append(errors)
        .append(",\"warnings\":")
        .append(warnings)
        .append(",\"information\":")
        .append(information)
        .append(",\"ms\":")
        .append(elapsedMs)
        .append(",\"issues\":[")
        .append(issues)
        .append("]}");
  }

  /** A JSON string literal (or null); hand-written so the jar's output depends on no JSON library. */
  private static String str(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
