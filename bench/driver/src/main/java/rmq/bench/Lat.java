package rmq.bench;

import java.util.List;

/** Growable array of nanosecond latencies (one per thread, merged at the end), and percentiles of them. */
final class Lat {
    long[] a = new long[1 << 14];
    int n;

    void add(long v) {
        if (n == a.length) a = java.util.Arrays.copyOf(a, a.length * 2);
        a[n++] = v;
    }

    /** A sorted copy of the latencies. */
    long[] sorted() {
        long[] s = java.util.Arrays.copyOf(a, n);
        java.util.Arrays.sort(s);
        return s;
    }

    /**
     * The latencies of all of them in one sorted array. Each is copied under its own lock: a
     * consumer thread may still record a late delivery while the phase's result is being merged.
     */
    static long[] merge(List<Lat> ls) {
        List<long[]> parts = new java.util.ArrayList<>(ls.size());
        int total = 0;
        for (Lat l : ls) {
            long[] part;
            synchronized (l) {
                part = java.util.Arrays.copyOf(l.a, l.n);
            }
            parts.add(part);
            total += part.length;
        }
        long[] s = new long[total];
        int p = 0;
        for (long[] part : parts) {
            System.arraycopy(part, 0, s, p, part.length);
            p += part.length;
        }
        java.util.Arrays.sort(s);
        return s;
    }

    /** The q-quantile (0..1, nearest rank) of a sorted array, or -1 when it is empty. */
    static long pct(long[] sorted, double q) {
        if (sorted.length == 0) return -1;
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }
}
