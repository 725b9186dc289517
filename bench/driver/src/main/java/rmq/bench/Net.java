package rmq.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The {@code net} command: the loopback limits of this machine, one JSON line with the bandwidth
 * of one TCP stream of 1 MiB writes (tcpMBps, tcpGbps; the first 300 ms not counted) and the
 * round trip of a 1-byte ping-pong over TCP_NODELAY (rttP50Us, rttP99Us; 2,000 warm-up trips
 * not counted).
 */
final class Net {
    private Net() {}

    /** {@code net [--seconds S] [--rtt-count N]}: measures, prints the line, returns 0. */
    static int run(Map<String, String> a) throws Exception {
        long seconds = Args.num(a, "seconds", 3);
        int rttCount = (int) Args.num(a, "rtt-count", 20000);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", true);
        m.put("phase", "net");
        try (ServerSocketChannel ss = ServerSocketChannel.open()) {
            ss.bind(new InetSocketAddress("127.0.0.1", 0));
            int port = ((InetSocketAddress) ss.getLocalAddress()).getPort();
            bandwidth(ss, port, seconds, m);
            roundTrip(ss, port, rttCount, m);
        }
        Json.emit(m);
        return 0;
    }

    /** tcpMBps, tcpGbps: one stream of 1 MiB writes for SECONDS into a reader thread. */
    static void bandwidth(ServerSocketChannel ss, int port, long seconds, Map<String, Object> m) throws Exception {
        AtomicLong received = new AtomicLong();
        Thread reader = new Thread(() -> {
            try (SocketChannel c = ss.accept()) {
                ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                while (true) {
                    b.clear();
                    int n = c.read(b);
                    if (n < 0) break;
                    received.addAndGet(n);
                }
            } catch (IOException e) {
                // closed
            }
        });
        reader.start();
        SocketChannel w = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        long t0 = System.nanoTime();
        long end = t0 + seconds * 1_000_000_000L;
        long r0 = 0;
        boolean warmed = false;
        long tw = t0;
        while (true) {
            long now = System.nanoTime();
            if (!warmed && now - t0 > 300_000_000L) {
                warmed = true;
                tw = now;
                r0 = received.get();
            }
            if (now > end) break;
            buf.clear();
            while (buf.hasRemaining()) w.write(buf);
        }
        long bytes = received.get() - r0;
        double secs = (System.nanoTime() - tw) / 1e9;
        w.close();
        reader.join(5000);
        m.put("tcpMBps", bytes / secs / 1e6);
        m.put("tcpGbps", bytes * 8 / secs / 1e9);
    }

    /** rttP50Us, rttP99Us: RTT_COUNT 1-byte round trips to an echo thread (after 2,000 unmeasured). */
    static void roundTrip(ServerSocketChannel ss, int port, int rttCount, Map<String, Object> m) throws Exception {
        Thread echo = new Thread(() -> {
            try (SocketChannel c = ss.accept()) {
                c.setOption(StandardSocketOptions.TCP_NODELAY, true);
                ByteBuffer b = ByteBuffer.allocateDirect(1);
                while (true) {
                    b.clear();
                    if (c.read(b) < 0) break;
                    b.flip();
                    while (b.hasRemaining()) c.write(b);
                }
            } catch (IOException e) {
                // closed
            }
        });
        echo.start();
        SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", port));
        c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        ByteBuffer one = ByteBuffer.allocateDirect(1);
        Lat lat = new Lat();
        for (int i = 0; i < rttCount + 2000; i++) {
            one.clear();
            one.put((byte) 1);
            one.flip();
            long s = System.nanoTime();
            while (one.hasRemaining()) c.write(one);
            one.clear();
            while (one.position() < 1) {
                if (c.read(one) < 0) throw new IOException("echo closed");
            }
            if (i >= 2000) lat.add(System.nanoTime() - s);
        }
        c.close();
        echo.join(5000);
        long[] s = lat.sorted();
        m.put("rttP50Us", Lat.pct(s, 0.50) / 1e3);
        m.put("rttP99Us", Lat.pct(s, 0.99) / 1e3);
    }
}
