package rmq.harness;

import java.util.BitSet;

/** A set of non-negative message indices, printed as compact ranges "0-99,105,200-299". */
final class IndexSet {
    private final BitSet bits = new BitSet();

    /** @return true if the index was not present before. */
    synchronized boolean add(long index) {
        int i = (int) index;
        boolean fresh = !bits.get(i);
        bits.set(i);
        return fresh;
    }

    synchronized void addRange(long from, long toExclusive) {
        bits.set((int) from, (int) toExclusive);
    }

    synchronized boolean contains(long index) {
        return bits.get((int) index);
    }

    synchronized int size() {
        return bits.cardinality();
    }

    /** Ranges of indices in [from, to) that are NOT in this set. */
    synchronized String missingIn(long from, long to) {
        BitSet m = new BitSet();
        if (to > from) {
            m.set((int) from, (int) to);
            m.andNot(bits);
        }
        return ranges(m);
    }

    synchronized String ranges() {
        return ranges(bits);
    }

    static String ranges(BitSet b) {
        StringBuilder sb = new StringBuilder();
        int i = b.nextSetBit(0);
        while (i >= 0) {
            int end = b.nextClearBit(i) - 1;
            if (sb.length() > 0) sb.append(',');
            sb.append(i);
            if (end > i) sb.append('-').append(end);
            i = b.nextSetBit(end + 1);
        }
        return sb.toString();
    }
}
