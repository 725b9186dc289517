package rmq.harness;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** Tiny "--name value" / "--flag" parser. Unknown or repeated options are usage errors. */
final class Args {
    static final class UsageException extends RuntimeException {
        UsageException(String m) { super(m); }
    }

    private final Map<String, String> values = new HashMap<>();
    private final Set<String> used = new HashSet<>();

    /** flags: option names that take no value. */
    Args(String[] argv, int from, Set<String> flags, Set<String> valued) {
        for (int i = from; i < argv.length; i++) {
            String a = argv[i];
            if (!a.startsWith("--")) throw new UsageException("unexpected argument '" + a + "'");
            String name = a.substring(2);
            String val;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                val = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (flags.contains(name)) {
                val = "true";
            } else {
                if (i + 1 >= argv.length) throw new UsageException("option --" + name + " needs a value");
                val = argv[++i];
            }
            if (!flags.contains(name) && !valued.contains(name)) throw new UsageException("unknown option --" + name);
            if (values.put(name, val) != null) throw new UsageException("option --" + name + " given twice");
        }
    }

    String str(String name, String def) {
        used.add(name);
        return values.getOrDefault(name, def);
    }

    String required(String name) {
        String v = str(name, null);
        if (v == null || v.isEmpty()) throw new UsageException("missing required option --" + name);
        return v;
    }

    boolean flag(String name) {
        return "true".equals(str(name, "false"));
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    long num(String name, long def, long min, long max) {
        String v = str(name, null);
        if (v == null) return def;
        long n;
        try {
            n = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new UsageException("option --" + name + " wants an integer, got '" + v + "'");
        }
        if (n < min || n > max) throw new UsageException("option --" + name + " must be in [" + min + ", " + max + "], got " + n);
        return n;
    }

    String oneOf(String name, String def, String... allowed) {
        String v = str(name, def);
        for (String a : allowed) if (a.equals(v)) return v;
        throw new UsageException("option --" + name + " must be one of " + String.join("|", allowed) + ", got '" + v + "'");
    }
}
