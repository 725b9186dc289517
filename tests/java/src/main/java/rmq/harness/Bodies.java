package rmq.harness;

import java.nio.charset.StandardCharsets;

/**
 * Message bodies: "<prefix>-<index>", and when --body-size is larger, "#" then filler up to exactly
 * body-size bytes. The filler is a deterministic function of the index (xorshift64 over 'a'..'z',
 * seeded with (index+1)*0x9E3779B97F4A7C15), so a consumer can verify every byte without knowing
 * the producer's options. The Go harness implements the same function.
 */
final class Bodies {
    private Bodies() {}

    static String id(String prefix, long index) {
        return prefix + "-" + index;
    }

    static byte[] make(String prefix, long index, int bodySize) {
        byte[] id = id(prefix, index).getBytes(StandardCharsets.UTF_8);
        if (bodySize <= id.length + 1) return id;
        byte[] b = new byte[bodySize];
        System.arraycopy(id, 0, b, 0, id.length);
        b[id.length] = '#';
        fill(b, id.length + 1, index);
        return b;
    }

    private static void fill(byte[] b, int from, long index) {
        long s = (index + 1) * 0x9E3779B97F4A7C15L;
        for (int i = from; i < b.length; i++) {
            s ^= s << 13;
            s ^= s >>> 7;
            s ^= s << 17;
            b[i] = (byte) ('a' + (int) ((s >>> 40) % 26));
        }
    }

    /** Parsed body. index = -1 when the body does not look like one of ours (or has another prefix). */
    static final class Parsed {
        long index = -1;
        boolean corrupt;
    }

    static Parsed parse(byte[] body, String prefix) {
        Parsed p = new Parsed();
        if (body == null) return p;
        int hash = -1;
        for (int i = 0; i < body.length; i++) {
            if (body[i] == '#') { hash = i; break; }
        }
        int idLen = hash < 0 ? body.length : hash;
        String id = new String(body, 0, idLen, StandardCharsets.UTF_8);
        int dash = id.lastIndexOf('-');
        if (dash < 0 || !id.substring(0, dash).equals(prefix)) return p;
        try {
            p.index = Long.parseLong(id.substring(dash + 1));
        } catch (NumberFormatException e) {
            return p;
        }
        if (p.index < 0 || p.index > Integer.MAX_VALUE - 1) { p.index = -1; return p; }
        if (hash >= 0) {
            byte[] expect = new byte[body.length];
            fill(expect, hash + 1, p.index);
            for (int i = hash + 1; i < body.length; i++) {
                if (expect[i] != body[i]) { p.corrupt = true; break; }
            }
        }
        return p;
    }
}
