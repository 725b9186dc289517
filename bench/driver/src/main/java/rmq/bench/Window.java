package rmq.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The measured window of one send phase, {@code [start, end)} in nanoTime, and its bookkeeping:
 * the errors (up to 8 kinds counted by message), and from {@link #begin} to {@link #finish} the
 * broker's CPU and RSS, the driver's CPU and the commit log's growth. {@link #finish} writes the
 * fields every send phase shares: msgs, seconds, tps, mbps, latency percentiles, appendBytes,
 * appendMBps, brokerCpuPct, brokerCpuUsPerMsg, brokerRssMaxKb, brokerRssAnonMaxKb, driverCpuPct,
 * errors, errorKinds (and ok false when nothing got through or more than 1 % failed).
 */
final class Window {
    final Load l;
    volatile long start, end; // nanoTime
    double cpu0, selfCpu0;
    long off0;
    final AtomicLong errors = new AtomicLong();
    final Map<String, AtomicLong> errorKinds = new ConcurrentHashMap<>();

    Window(Load l) {
        this.l = l;
    }

    void open(long startNanos, long endNanos) {
        start = startNanos;
        end = endNanos;
    }

    /** Counts a failed send; its kind (class and first message line) while fewer than 8 kinds are known. */
    void error(Throwable t) {
        errors.incrementAndGet();
        String k = t.getClass().getSimpleName() + ": " + String.valueOf(t.getMessage()).split("\n")[0];
        if (k.length() > 160) k = k.substring(0, 160);
        if (errorKinds.size() < 8 || errorKinds.containsKey(k)) errorKinds.computeIfAbsent(k, x -> new AtomicLong()).incrementAndGet();
    }

    /** The window starts: CPU times and commit-log offset now, the broker's RSS sampled from now on. */
    void begin() {
        cpu0 = l.brokerProc == null ? -1 : l.brokerProc.cpuSeconds();
        selfCpu0 = l.self.cpuSeconds();
        off0 = Admin.commitLogMaxOffset(l.admin, l.broker);
        if (l.brokerProc != null) l.brokerProc.startSampling();
    }

    /** The window ended: MSGS of SIZE bytes in SECS, latencies LAT (sorted nanos, or null for none). */
    void finish(Map<String, Object> m, long msgs, int size, double secs, long[] lat) throws InterruptedException {
        long off1 = Admin.commitLogMaxOffset(l.admin, l.broker);
        double cpu1 = l.brokerProc == null ? -1 : l.brokerProc.cpuSeconds();
        double selfCpu1 = l.self.cpuSeconds();
        if (l.brokerProc != null) l.brokerProc.stopSampling();
        m.put("msgs", msgs);
        m.put("seconds", secs);
        m.put("tps", msgs / secs);
        m.put("mbps", msgs * (double) size / secs / 1e6);
        if (lat != null) {
            m.put("p50Ms", Lat.pct(lat, 0.50) / 1e6);
            m.put("p99Ms", Lat.pct(lat, 0.99) / 1e6);
            m.put("p999Ms", Lat.pct(lat, 0.999) / 1e6);
            m.put("maxMs", lat.length == 0 ? -1 : lat[lat.length - 1] / 1e6);
        }
        if (off0 >= 0 && off1 >= off0) {
            m.put("appendBytes", off1 - off0);
            m.put("appendMBps", (off1 - off0) / secs / 1e6);
        }
        if (l.brokerProc != null && cpu0 >= 0 && cpu1 >= 0) {
            m.put("brokerCpuPct", (cpu1 - cpu0) / secs * 100);
            if (msgs > 0) m.put("brokerCpuUsPerMsg", (cpu1 - cpu0) / msgs * 1e6);
            m.put("brokerRssMaxKb", l.brokerProc.rssMaxKb);
            m.put("brokerRssAnonMaxKb", l.brokerProc.anonMaxKb);
        }
        if (selfCpu0 >= 0 && selfCpu1 >= 0) m.put("driverCpuPct", (selfCpu1 - selfCpu0) / secs * 100);
        m.put("errors", errors.get());
        m.put("errorKinds", errorKinds());
        if (msgs == 0 || errors.get() > msgs / 100) m.put("ok", false);
    }

    /** The error kinds as a list of {message, count}. */
    List<Object> errorKinds() {
        List<Object> kinds = new ArrayList<>();
        errorKinds.forEach((k, v) -> {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("message", k);
            e.put("count", v.get());
            kinds.add(e);
        });
        return kinds;
    }
}
