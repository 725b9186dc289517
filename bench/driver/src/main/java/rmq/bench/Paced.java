package rmq.bench;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * Sends on a fixed schedule (open loop): send {@code i} is due at {@code t0 + i / rate} and is
 * handed to the producer's async {@code send} at that time whatever the acknowledgements of
 * the earlier ones; sends due in {@code [start, end)} are measured: msgs/tps count those
 * acknowledged (delivered) by {@code end}, the latencies every one of them however late (10 s
 * drain), so a stall shows as latency. The phases built on it (the native driver's
 * {@code openpct} and {@code e2e} do the same over its own client):
 *
 * <ul>
 *   <li>{@code openpct:SIZE:PCT}: PCT % of this run's peak for SIZE (the best msgs/s of the
 *       closed-loop phases with the same SIZE that ran before it), latency from each message's
 *       scheduled send time to its acknowledgement;
 *   <li>{@code e2e:SIZE:RATE}: RATE msgs/s to a fresh topic read by a push consumer (new group,
 *       20 consume threads), latency from each message's scheduled send time (in its first 8
 *       body bytes) to the consumer's callback; probes are sent until the consumer got one.
 * </ul>
 */
final class Paced {
    /** The message of send {@code i}, due at {@code due} (nanoTime). */
    interface Body {
        Message make(long due, long i);
    }

    /** Called for every measured send acknowledged with SEND_OK. */
    interface Acked {
        void ack(long due, long done);
    }

    /** The first 8 body bytes of a probe (a real message carries its due nanoTime). */
    static final long PROBE = Long.MIN_VALUE;
    /** How long to wait for the last acknowledgements or deliveries. */
    static final long DRAIN_NS = TimeUnit.SECONDS.toNanos(10);

    final AtomicLong offered = new AtomicLong();
    final AtomicLong acked = new AtomicLong();
    final AtomicLong ackedByEnd = new AtomicLong();
    final AtomicLong inflight = new AtomicLong();
    long lagMaxNanos;

    /**
     * Runs the schedule on this thread; a helper thread opens the window {@code w} at {@code
     * start} and then runs {@code atStart}, and runs {@code atEnd} at {@code end}. Returns after
     * the last acknowledgement (10 s at most).
     */
    static Paced run(Load l, Window w, double rate, long t0, long start, long end, Body body, Acked onAck,
            Runnable atStart, Runnable atEnd) throws InterruptedException {
        Paced p = new Paced();
        Thread marks = new Thread(() -> {
            while (System.nanoTime() < start) LockSupport.parkNanos(start - System.nanoTime());
            w.begin();
            if (atStart != null) atStart.run();
            while (System.nanoTime() < end) LockSupport.parkNanos(end - System.nanoTime());
            if (atEnd != null) atEnd.run();
        }, "paced-window");
        marks.start();
        for (long i = 0;; i++) {
            long due = t0 + (long) (i * 1e9 / rate);
            if (due >= end) break;
            long now;
            while ((now = System.nanoTime()) < due) LockSupport.parkNanos(due - now);
            p.lagMaxNanos = Math.max(p.lagMaxNanos, now - due);
            p.send(l, w, body.make(due, i), due, due >= start && due < end, end, onAck);
        }
        long deadline = System.nanoTime() + DRAIN_NS;
        while (p.inflight.get() > 0 && System.nanoTime() < deadline) Thread.sleep(1);
        marks.join();
        return p;
    }

    void send(Load l, Window w, Message msg, long due, boolean measured, long end, Acked onAck) {
        if (measured) offered.incrementAndGet();
        inflight.incrementAndGet();
        try {
            l.producer.send(msg, new SendCallback() {
                @Override
                public void onSuccess(SendResult r) {
                    long done = System.nanoTime();
                    if (r.getSendStatus() != SendStatus.SEND_OK) {
                        w.error(new IllegalStateException(String.valueOf(r.getSendStatus())));
                    } else if (measured) {
                        acked.incrementAndGet();
                        if (done <= end) ackedByEnd.incrementAndGet();
                        if (onAck != null) onAck.ack(due, done);
                    }
                    inflight.decrementAndGet();
                }

                @Override
                public void onException(Throwable t) {
                    w.error(t);
                    inflight.decrementAndGet();
                }
            }, 3000);
        } catch (Throwable t) {
            w.error(t);
            inflight.decrementAndGet();
        }
    }

    /** offered, offeredTps, lagMaxMs. */
    void write(Map<String, Object> m, double secs) {
        m.put("offered", offered.get());
        m.put("offeredTps", offered.get() / secs);
        m.put("lagMaxMs", lagMaxNanos / 1e6);
    }

    static void record(ConcurrentHashMap<Thread, Lat> lats, long nanos) {
        Lat l = lats.computeIfAbsent(Thread.currentThread(), x -> new Lat());
        synchronized (l) {
            l.add(nanos);
        }
    }

    static long[] merged(ConcurrentHashMap<Thread, Lat> lats) {
        return Lat.merge(new ArrayList<>(lats.values()));
    }

    /** {@code openpct:SIZE:PCT} (see the class doc). */
    static Map<String, Object> openPct(Load l, int size, double pct) throws Exception {
        Map<String, Object> m = l.base("openpct");
        m.put("size", size);
        m.put("pct", pct);
        Object[] peak = l.peaks.get(size);
        if (peak == null) return Json.failed(m, "no closed-loop phase of " + size + " B ran ok before it (its peak sets the rate)");
        double rate = (Double) peak[0] * pct / 100;
        m.put("rate", rate);
        m.put("peakTps", peak[0]);
        m.put("peakPhase", peak[1]);
        byte[] body = Load.body(size);
        Window w = new Window(l);
        long t0 = System.nanoTime(), start = t0 + l.warmupMs * 1_000_000L, end = start + l.measureMs * 1_000_000L;
        w.open(start, end);
        ConcurrentHashMap<Thread, Lat> lats = new ConcurrentHashMap<>();
        Paced p = run(l, w, rate, t0, start, end, (due, i) -> new Message(l.topic, body), (due, done) -> record(lats, done - due),
                null, null);
        double secs = (end - start) / 1e9;
        w.finish(m, p.ackedByEnd.get(), size, secs, merged(lats));
        p.write(m, secs);
        return m;
    }

    static byte[] stamped(byte[] template, long stamp) {
        byte[] b = template.clone();
        ByteBuffer.wrap(b).putLong(stamp);
        return b;
    }

    /** What the e2e consumer received: deliveries of measured messages and their latencies. */
    static final class Inbox {
        final AtomicLong probes = new AtomicLong(), received = new AtomicLong(), receivedByEnd = new AtomicLong();
        final ConcurrentHashMap<Thread, Lat> lats = new ConcurrentHashMap<>();
        volatile long start = Long.MAX_VALUE, end = Long.MIN_VALUE;

        void deliver(MessageExt x, long now) {
            byte[] b = x.getBody();
            if (b == null || b.length < 8) return;
            long due = ByteBuffer.wrap(b).getLong();
            if (due == PROBE) {
                probes.incrementAndGet();
            } else if (due >= start && due < end) {
                record(lats, now - due);
                received.incrementAndGet();
                if (now <= end) receivedByEnd.incrementAndGet();
            }
        }
    }

    /** {@code e2e:SIZE:RATE} (see the class doc). */
    static Map<String, Object> e2e(Load l, int size, double rate) throws Exception {
        Map<String, Object> m = l.base("e2e");
        m.put("size", size);
        m.put("rate", rate);
        int n = ++l.e2eRuns;
        String topic = l.e2eTopic + n;
        m.put("topic", topic);
        Map<String, Object> t = Admin.createTopics(l.admin, l.ns, l.broker, new String[] {topic}, l.queues, l.phaseTimeoutMs);
        if (!Boolean.TRUE.equals(t.get("ok"))) return Json.failed(m, String.valueOf(t.get("error")));
        Inbox in = new Inbox();
        DefaultMQPushConsumer c = new DefaultMQPushConsumer("bench_e2e_" + n + "_" + System.currentTimeMillis());
        c.setNamesrvAddr(l.ns);
        c.setInstanceName("bench-e-" + ProcessHandle.current().pid());
        c.setVipChannelEnabled(false);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.setConsumeThreadMin(20);
        c.setConsumeThreadMax(20);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.nanoTime();
            for (MessageExt x : msgs) in.deliver(x, now);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        try {
            return e2eMeasure(l, m, topic, size, rate, in);
        } finally {
            c.shutdown();
        }
    }

    static Map<String, Object> e2eMeasure(Load l, Map<String, Object> m, String topic, int size, double rate, Inbox in)
            throws Exception {
        byte[] template = Load.body(size);
        Window w = new Window(l);
        long r0 = System.nanoTime();
        while (in.probes.get() == 0) {
            if (System.nanoTime() - r0 > l.phaseTimeoutMs * 1_000_000L) return Json.failed(m, "the consumer received no probe message");
            try {
                l.producer.send(new Message(topic, stamped(template, PROBE)));
            } catch (Exception e) {
                w.error(e);
            }
            Thread.sleep(100);
        }
        m.put("readyMs", (System.nanoTime() - r0) / 1_000_000);
        long t0 = System.nanoTime(), start = t0 + l.warmupMs * 1_000_000L, end = start + l.measureMs * 1_000_000L;
        in.start = start;
        in.end = end;
        w.open(start, end);
        Paced p = run(l, w, rate, t0, start, end, (due, i) -> new Message(topic, stamped(template, due)), null, null, null);
        long deadline = System.nanoTime() + DRAIN_NS;
        while (in.received.get() < p.acked.get() && System.nanoTime() < deadline) Thread.sleep(5);
        double secs = (end - start) / 1e9;
        long received = in.received.get();
        w.finish(m, in.receivedByEnd.get(), size, secs, merged(in.lats));
        p.write(m, secs);
        m.put("acked", p.acked.get());
        m.put("delivered", received);
        m.put("lost", Math.max(0, p.acked.get() - received));
        return m;
    }
}
