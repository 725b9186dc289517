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

    /** The latencies of all of them in one sorted array. */
    static long[] merge(List<Lat> ls) {
        int total = 0;
        for (Lat l : ls) total += l.n;
        long[] s = new long[total];
        int p = 0;
        for (Lat l : ls) {
            System.arraycopy(l.a, 0, s, p, l.n);
            p += l.n;
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
