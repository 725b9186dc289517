package rmq.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;

/**
 * The closed-loop send phases to the load topic (each send waits for room: the broker's pace
 * sets the rate), after a warm-up, over a measured window (see {@link Window}):
 *
 * <ul>
 *   <li>{@code sync:SIZE:THREADS}: THREADS threads each sending one message at a time
 *       ({@code send} blocks for the acknowledgement);
 *   <li>{@code async:SIZE}: one thread keeping up to --inflight async sends open.
 * </ul>
 *
 * Counted are the sends started and acknowledged with SEND_OK inside the window; their latency
 * is from the send call to the acknowledgement.
 */
final class ClosedLoop {
    private ClosedLoop() {}

    /** {@code sync:SIZE:THREADS}; with REPORT false only the load (the unreported initial warm-up). */
    static Map<String, Object> sync(Load l, int size, int threads, long warm, long measure, boolean report) throws Exception {
        Map<String, Object> m = l.base("sync");
        m.put("size", size);
        m.put("threads", threads);
        byte[] body = Load.body(size);
        Window w = new Window(l);
        long t0 = System.nanoTime();
        w.open(t0 + warm * 1_000_000L, t0 + (warm + measure) * 1_000_000L);
        List<Lat> lats = new CopyOnWriteArrayList<>();
        AtomicLong inWindow = new AtomicLong();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> syncSender(l, w, body, lats, inWindow), "sync-" + i);
            t.start();
            ts.add(t);
        }
        long sleepTo = w.start - System.nanoTime();
        if (sleepTo > 0) TimeUnit.NANOSECONDS.sleep(sleepTo);
        if (report) w.begin();
        for (Thread t : ts) t.join(measure + warm + 30_000);
        if (!report) return m;
        w.finish(m, inWindow.get(), size, (w.end - w.start) / 1e9, Lat.merge(lats));
        return m;
    }

    /** One sync thread: sends until the window ends, records the ok sends inside it. */
    static void syncSender(Load l, Window w, byte[] body, List<Lat> lats, AtomicLong inWindow) {
        final long stopAt = w.end;
        Lat lat = new Lat();
        lats.add(lat);
        long n = 0;
        while (true) {
            long s = System.nanoTime();
            if (s >= stopAt) break;
            boolean ok = false;
            try {
                SendResult r = l.producer.send(new Message(l.topic, body));
                ok = r.getSendStatus() == SendStatus.SEND_OK;
                if (!ok) w.error(new IllegalStateException(String.valueOf(r.getSendStatus())));
            } catch (Throwable e) {
                w.error(e);
            }
            long e = System.nanoTime();
            if (ok && s >= w.start && e <= w.end) {
                lat.add(e - s);
                n++;
            }
        }
        inWindow.addAndGet(n);
    }

    /** {@code async:SIZE}: up to --inflight sends open at a time. */
    static Map<String, Object> async(Load l, int size, long warm, long measure) throws Exception {
        Map<String, Object> m = l.base("async");
        m.put("size", size);
        m.put("inflight", l.inflight);
        byte[] body = Load.body(size);
        Window w = new Window(l);
        long t0 = System.nanoTime();
        w.open(t0 + warm * 1_000_000L, t0 + (warm + measure) * 1_000_000L);
        Semaphore permits = new Semaphore(l.inflight);
        AtomicLong inWindow = new AtomicLong();
        ConcurrentHashMap<Thread, Lat> lats = new ConcurrentHashMap<>();
        boolean begun = false;
        while (true) {
            long s = System.nanoTime();
            if (s >= w.end) break;
            if (!begun && s >= w.start) {
                w.begin();
                begun = true;
            }
            if (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) continue;
            try {
                l.producer.send(new Message(l.topic, body), asyncCallback(w, s, permits, lats, inWindow), 3000);
            } catch (Throwable t) {
                permits.release();
                w.error(t);
            }
        }
        if (!begun) w.begin();
        permits.tryAcquire(l.inflight, 10, TimeUnit.SECONDS);
        List<Lat> ls = new ArrayList<>(lats.values());
        w.finish(m, inWindow.get(), size, (w.end - w.start) / 1e9, Lat.merge(ls));
        return m;
    }

    /** The callback of an async send started at S: records it if ok inside the window, gives back its permit. */
    static SendCallback asyncCallback(Window w, long s, Semaphore permits, ConcurrentHashMap<Thread, Lat> lats, AtomicLong inWindow) {
        return new SendCallback() {
            @Override
            public void onSuccess(SendResult r) {
                long e = System.nanoTime();
                if (r.getSendStatus() != SendStatus.SEND_OK) {
                    w.error(new IllegalStateException(String.valueOf(r.getSendStatus())));
                } else if (s >= w.start && e <= w.end) {
                    Lat l = lats.computeIfAbsent(Thread.currentThread(), x -> new Lat());
                    synchronized (l) {
                        l.add(e - s);
                    }
                    inWindow.incrementAndGet();
                }
                permits.release();
            }

            @Override
            public void onException(Throwable t) {
                w.error(t);
                permits.release();
            }
        };
    }
}
