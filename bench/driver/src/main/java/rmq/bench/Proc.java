package rmq.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU and RSS of a process from /proc (the broker, and the driver itself as pid "self"); while
 * sampling, a thread reads its RSS every 200 ms and keeps the highest (rssMaxKb, anonMaxKb).
 */
final class Proc {
    final String pid;
    final long clkTck;
    volatile long rssMaxKb;
    volatile long anonMaxKb;
    private Thread sampler;
    private volatile boolean sampling;

    Proc(String pid, long clkTck) {
        this.pid = pid;
        this.clkTck = clkTck;
    }

    /** utime + stime in seconds, or -1. */
    double cpuSeconds() {
        try {
            String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            // fields after the comm: state(3) ... utime is field 14, stime 15 -> index 11, 12 here
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / (double) clkTck;
        } catch (Exception e) {
            return -1;
        }
    }

    /** {VmRSS, RssAnon} in KiB, -1 for what cannot be read (the process is gone). */
    long[] rss() {
        long rss = -1, anon = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("VmRSS:")) rss = kb(line);
                else if (line.startsWith("RssAnon:")) anon = kb(line);
            }
        } catch (Exception e) {
            // gone
        }
        return new long[] {rss, anon};
    }

    /** The number of a /proc/PID/status line such as {@code VmRSS:  1234 kB}. */
    static long kb(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
    }

    /** Resets the maxima and starts the sampler thread. */
    void startSampling() {
        rssMaxKb = -1;
        anonMaxKb = -1;
        sampling = true;
        sampler = new Thread(() -> {
            while (sampling) {
                long[] r = rss();
                if (r[0] > rssMaxKb) rssMaxKb = r[0];
                if (r[1] > anonMaxKb) anonMaxKb = r[1];
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "rss-sampler");
        sampler.setDaemon(true);
        sampler.start();
    }

    /** Stops the sampler and takes one last sample into the maxima. */
    void stopSampling() throws InterruptedException {
        sampling = false;
        if (sampler != null) sampler.join(1000);
        long[] r = rss();
        if (r[0] > rssMaxKb) rssMaxKb = r[0];
        if (r[1] > anonMaxKb) anonMaxKb = r[1];
    }
}
