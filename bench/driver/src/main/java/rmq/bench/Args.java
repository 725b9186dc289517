package rmq.bench;

import java.util.HashMap;
import java.util.Map;

/**
 * The driver's command line after the command word: {@code --name value} or {@code --name=value}
 * pairs, read into a map from name (without the dashes) to value. A malformed command line ends
 * the process with exit code 2 (see {@link #die}).
 */
final class Args {
    private Args() {}

    /** The options of {@code argv[1..]} by name; dies on a word that is not an option or lacks its value. */
    static Map<String, String> parse(String[] argv) {
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i < argv.length; i++) {
            String k = argv[i];
            if (!k.startsWith("--")) die("unexpected argument " + k);
            int eq = k.indexOf('=');
            if (eq > 0) {
                a.put(k.substring(2, eq), k.substring(eq + 1));
            } else {
                if (i + 1 >= argv.length) die("missing value for " + k);
                a.put(k.substring(2), argv[++i]);
            }
        }
        return a;
    }

    /** Prints {@code driver: MSG} on stderr and exits with code 2 (a usage error). */
    static void die(String msg) {
        System.err.println("driver: " + msg);
        System.exit(2);
    }

    /** The value of the required option {@code --k}; dies when it is missing. */
    static String req(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) die("missing --" + k);
        return v;
    }

    /** The option {@code --k} as a number, or {@code def} when it is not given. */
    static long num(Map<String, String> a, String k, long def) {
        String v = a.get(k);
        return v == null ? def : Long.parseLong(v);
    }
}
