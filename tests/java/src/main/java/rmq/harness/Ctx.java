package rmq.harness;

import java.io.BufferedWriter;
import java.io.FileWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.acl.common.AclClientRPCHook;
import org.apache.rocketmq.acl.common.SessionCredentials;
import org.apache.rocketmq.remoting.RPCHook;

/** Per-run context: output stream, error collection, client-version compat helpers. */
final class Ctx {
    final PrintStream out;
    final long t0 = System.currentTimeMillis();
    private final Map<String, Integer> errors = new LinkedHashMap<>();
    private int errorCount;
    private BufferedWriter records;

    Ctx(PrintStream out) {
        this.out = out;
    }

    static String clientVersion() {
        try {
            Class<?> v = Class.forName("org.apache.rocketmq.common.MQVersion");
            int cur = v.getField("CURRENT_VERSION").getInt(null);
            String desc = (String) v.getMethod("getVersionDesc", int.class).invoke(null, cur);
            return desc.replaceFirst("^V", "").replace('_', '.');
        } catch (Exception e) {
            return "unknown";
        }
    }

    long elapsed() {
        return System.currentTimeMillis() - t0;
    }

    synchronized void error(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c && c.getMessage() == null) c = c.getCause();
        String m = firstLine(c);
        // the broker's answer (code and remark) is often only in the root cause, e.g. under
        // "Send [1] times, still failed": append it
        Throwable root = c;
        for (int depth = 0; root.getCause() != null && root.getCause() != root && depth < 16; depth++) root = root.getCause();
        if (root != c && root.getMessage() != null) m = m + " <- " + firstLine(root);
        if (m.length() > 500) m = m.substring(0, 500);
        error(m);
    }

    /** "SimpleName: message", first line only (the Java client appends a FAQ URL and detail). */
    private static String firstLine(Throwable t) {
        String m = t.getClass().getSimpleName() + ": " + String.valueOf(t.getMessage());
        int nl = m.indexOf('\n');
        if (nl > 0) m = m.substring(0, nl);
        if (m.length() > 300) m = m.substring(0, 300);
        return m;
    }

    synchronized void error(String m) {
        errorCount++;
        if (errors.containsKey(m)) errors.put(m, errors.get(m) + 1);
        else if (errors.size() < 8) errors.put(m, 1);
    }

    synchronized int errorCount() {
        return errorCount;
    }

    synchronized List<Object> errorList() {
        List<Object> l = new ArrayList<>();
        for (Map.Entry<String, Integer> e : errors.entrySet()) l.add(new Json().put("message", e.getKey()).put("count", e.getValue()));
        return l;
    }

    void openRecords(String path) throws IOException {
        if (path != null) records = new BufferedWriter(new FileWriter(path));
    }

    synchronized void record(String line) {
        if (records == null) return;
        try {
            records.write(line);
            records.write('\n');
        } catch (IOException e) {
            error(e);
        }
    }

    synchronized void closeRecords() {
        if (records == null) return;
        try {
            records.close();
        } catch (IOException e) {
            error(e);
        }
        records = null;
    }

    /** Common head of every result line. */
    Json result(String scenario, boolean ok) {
        return new Json().put("ok", ok).put("scenario", scenario).put("client", "java").put("clientVersion", clientVersion());
    }

    void emit(Json j) {
        j.put("elapsedMs", elapsed());
        j.put("errorCount", errorCount());
        j.put("errors", errorList());
        out.println(j);
        out.flush();
    }

    /** setMessageModel(CLUSTERING|BROADCASTING) without naming the enum (its package moved in 5.x). */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static void setEnum(Object target, String setter, String constant) {
        for (Method m : target.getClass().getMethods()) {
            if (m.getName().equals(setter) && m.getParameterCount() == 1 && m.getParameterTypes()[0].isEnum()) {
                try {
                    m.invoke(target, Enum.valueOf((Class) m.getParameterTypes()[0], constant));
                    return;
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException(setter + "(" + constant + ") failed", e);
                }
            }
        }
        throw new IllegalStateException("no " + setter + " on " + target.getClass().getName());
    }

    /**
     * The ACL hook for --access-key/--secret-key (both or neither), or null: AclClientRPCHook with
     * SessionCredentials, from rocketmq-client (5.x) or rocketmq-acl (4.9.x).
     */
    /**
     * The client's own calls (route lookups from the nameserver, heartbeats, offset commits):
     * `--api-timeout-ms`, 10 s by default. The client's 3 s default made a fresh JVM's first
     * route lookup time out on a loaded CI machine; a test that wants a short one passes it.
     */
    static int apiTimeoutMs(Args a) {
        return (int) a.num("api-timeout-ms", 10_000, 1, 600_000);
    }

    static RPCHook aclHook(Args a) {
        String ak = a.str("access-key", null);
        String sk = a.str("secret-key", null);
        if (ak == null && sk == null) return null;
        if (ak == null || sk == null) throw new Args.UsageException("--access-key and --secret-key go together");
        return new AclClientRPCHook(new SessionCredentials(ak, sk));
    }

    static Map<String, Long> sorted(Map<String, Long> m) {
        return new TreeMap<>(m);
    }
}
