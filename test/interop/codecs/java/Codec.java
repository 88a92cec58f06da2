// The Java peer of test/interop/codecs.test.ts: OpenTelemetry Java's W3CBaggagePropagator run on
// the header values the test writes to stdin, one per line. For each it prints one JSON line:
// the baggage extract produced (members in the order Baggage.forEach gives them, with the
// metadata string Java keeps for the properties) and the header inject then wrote. Java has no
// public parse function apart from extract. Nothing here interprets the result: the test does.

import io.opentelemetry.api.baggage.Baggage;
import io.opentelemetry.api.baggage.propagation.W3CBaggagePropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;

public final class Codec {
  private static final TextMapGetter<Map<String, String>> GETTER =
      new TextMapGetter<>() {
        @Override
        public String get(Map<String, String> carrier, String key) {
          return carrier == null ? null : carrier.get(key);
        }
      };

  private Codec() {}

  /** A JSON string literal (UTF-16 units outside ASCII printable escaped, so the bytes stay exact). */
  private static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  private static String run(String input) {
    W3CBaggagePropagator propagator = W3CBaggagePropagator.getInstance();
    Context extracted =
        propagator.extract(Context.root(), Collections.singletonMap("baggage", input), GETTER);
    Baggage baggage = Baggage.fromContext(extracted);
    StringBuilder members = new StringBuilder("[");
    baggage.forEach(
        (key, entry) -> {
          if (members.length() > 1) members.append(',');
          members
              .append("{\"key\":")
              .append(json(key))
              .append(",\"value\":")
              .append(json(entry.getValue()))
              .append(",\"metadata\":")
              .append(json(entry.getMetadata().getValue()))
              .append('}');
        });
    members.append(']');
    Map<String, String> out = new HashMap<>();
    propagator.inject(extracted, out, Map::put);
    return "{\"input\":"
        + json(input)
        + ",\"injected\":"
        + json(out.get("baggage"))
        + ",\"members\":"
        + members
        + "}";
  }

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    for (String line = in.readLine(); line != null; line = in.readLine()) out.println(run(line));
    out.flush();
  }
}
