package rmq.bench;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/**
 * The driver's output: one JSON object per line on stdout (flat maps, nested maps, lists,
 * numbers, strings, booleans; doubles with 3 decimals, NaN and infinities as null). Keys keep
 * the insertion order of the map (the phases use LinkedHashMap), so every line lists its fields
 * in the order they were put.
 */
final class Json {
    static final PrintStream OUT = System.out;

    private Json() {}

    /** Writes {@code m} as one line on stdout and flushes (one line at a time across threads). */
    static synchronized void emit(Map<String, Object> m) {
        StringBuilder sb = new StringBuilder();
        write(sb, m);
        OUT.println(sb);
        OUT.flush();
    }

    /** Marks a phase's result failed: {@code ok} false and {@code error}; returns {@code m}. */
    static Map<String, Object> failed(Map<String, Object> m, String error) {
        m.put("ok", false);
        m.put("error", error);
        return m;
    }

    /** Appends the JSON text of {@code v} to {@code sb}. */
    @SuppressWarnings("unchecked")
    static void write(StringBuilder sb, Object v) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Map) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                if (!first) sb.append(',');
                first = false;
                write(sb, e.getKey());
                sb.append(':');
                write(sb, e.getValue());
            }
            sb.append('}');
        } else if (v instanceof List) {
            sb.append('[');
            boolean first = true;
            for (Object o : (List<Object>) v) {
                if (!first) sb.append(',');
                first = false;
                write(sb, o);
            }
            sb.append(']');
        } else if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) sb.append("null");
            else sb.append(String.format(java.util.Locale.ROOT, "%.3f", d));
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else {
            string(sb, v.toString());
        }
    }

    /** Appends {@code s} as a quoted JSON string (quotes, backslashes and control characters escaped). */
    static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                default:
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
            }
        }
        sb.append('"');
    }
}
