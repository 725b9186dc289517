package rmq.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How busy the machine was around one phase (the native driver's bench/native/src/host.rs
 * writes the same fields): /proc/loadavg before and after, and from /proc/stat's cpu line over
 * the phase the share of CPU time the hypervisor stole (stealPct), the CPU time of every
 * process (hostCpuPct, 100 % = one core) and what is left after the broker's and this driver's
 * own (othersCpuPct: other work on the machine, and kernel threads). One instance is a sample
 * at one moment.
 */
final class Host {
    final long nanos = System.nanoTime();
    final double[] load = loadavg();
    final long[] cpu = procStat(); // busy, steal, total jiffies; null if unreadable
    final double broker, driver;

    Host(Proc brokerProc, Proc self) {
        broker = brokerProc == null ? -1 : brokerProc.cpuSeconds();
        driver = self.cpuSeconds();
    }

    /** The three load averages of /proc/loadavg, or null. */
    static double[] loadavg() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2])};
        } catch (Exception e) {
            return null;
        }
    }

    /** {busy, steal, total} jiffies of /proc/stat's cpu line, or null. */
    static long[] procStat() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                if (!line.startsWith("cpu ")) continue;
                String[] f = line.trim().split("\\s+");
                long[] v = new long[8]; // user nice system idle iowait irq softirq steal
                for (int i = 0; i < 8 && i + 1 < f.length; i++) v[i] = Long.parseLong(f[i + 1]);
                long total = 0;
                for (long x : v) total += x;
                return new long[] {v[0] + v[1] + v[2] + v[5] + v[6], v[7], total};
            }
        } catch (Exception e) {
            // not Linux, or unreadable: no host fields
        }
        return null;
    }

    static List<Object> list(double[] l) {
        List<Object> out = new ArrayList<>();
        for (double v : l) out.add(v);
        return out;
    }

    /** loadavgBefore/After, hostSecs, stealPct, hostCpuPct, othersCpuPct from this to after. */
    void writeUntil(Host after, long clkTck, Map<String, Object> m) {
        if (load != null) m.put("loadavgBefore", list(load));
        if (after.load != null) m.put("loadavgAfter", list(after.load));
        double secs = (after.nanos - nanos) / 1e9;
        m.put("hostSecs", secs);
        if (cpu == null || after.cpu == null) return;
        long total = after.cpu[2] - cpu[2];
        if (total > 0) m.put("stealPct", (after.cpu[1] - cpu[1]) * 100.0 / total);
        if (secs <= 0) return;
        double host = (after.cpu[0] - cpu[0]) / (double) Math.max(1, clkTck) / secs * 100;
        m.put("hostCpuPct", host);
        if (broker >= 0 && after.broker >= 0 && driver >= 0 && after.driver >= 0) {
            double own = ((after.broker - broker) + (after.driver - driver)) / secs * 100;
            m.put("othersCpuPct", Math.max(0, host - own)); // jiffy rounding can dip below 0
        }
    }
}
