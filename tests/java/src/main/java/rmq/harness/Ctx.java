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
        String m = c.getClass().getSimpleName() + ": " + String.valueOf(c.getMessage());
        // the Java client appends a FAQ URL and multi-line detail; keep the first line
        int nl = m.indexOf('\n');
        if (nl > 0) m = m.substring(0, nl);
        if (m.length() > 300) m = m.substring(0, 300);
        error(m);
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

    static Map<String, Long> sorted(Map<String, Long> m) {
        return new TreeMap<>(m);
    }
}
