package rmq.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * The backlog phases on the backlog topic: {@code fill:SIZE:COUNT} stores COUNT messages with
 * batch sends, {@code consume} reads back what fill stored with a push consumer (both bounded
 * by --phase-timeout-ms).
 */
final class Backlog {
    /** Messages per batch send of fill. */
    static final int BATCH = 64;
    /** Fill's sending threads. */
    static final int FILL_THREADS = 4;

    private Backlog() {}

    /**
     * Fills the backlog topic with exactly COUNT messages (bounded by the phase timeout): sync
     * batch sends (SEND_BATCH_MESSAGE) of 64 messages from 4 threads, so that the fill is
     * quick on every broker; the per-message send paths are measured by the other phases.
     */
    static Map<String, Object> fill(Load l, int size, long count) throws Exception {
        Map<String, Object> m = l.base("fill");
        m.put("size", size);
        m.put("requested", count);
        m.put("batch", BATCH);
        byte[] body = Load.body(size);
        Window w = new Window(l);
        AtomicLong next = new AtomicLong();
        AtomicLong acked = new AtomicLong();
        long t0 = System.nanoTime();
        long deadline = t0 + l.phaseTimeoutMs * 1_000_000L;
        w.open(t0, deadline);
        w.begin();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < FILL_THREADS; i++) {
            Thread t = new Thread(() -> fillSender(l, w, body, count, deadline, next, acked), "fill-" + i);
            t.start();
            ts.add(t);
        }
        for (Thread t : ts) t.join(l.phaseTimeoutMs + 30_000);
        boolean timedOut = acked.get() < count;
        double secs = (System.nanoTime() - t0) / 1e9;
        w.finish(m, acked.get(), size, secs, null);
        m.put("timedOut", timedOut);
        if (timedOut) m.put("ok", false);
        l.filled = acked.get();
        l.fillSize = size;
        return m;
    }

    /** One fill thread: takes the next batch of the COUNT until none is left or the deadline; 3 tries a batch. */
    static void fillSender(Load l, Window w, byte[] body, long count, long deadline, AtomicLong next, AtomicLong acked) {
        while (System.nanoTime() < deadline) {
            long from = next.getAndAdd(BATCH);
            if (from >= count) return;
            int n = (int) Math.min(BATCH, count - from);
            List<Message> batch = new ArrayList<>(n);
            for (int j = 0; j < n; j++) batch.add(new Message(l.backlogTopic, body));
            boolean sent = false;
            for (int attempt = 0; attempt < 3 && !sent && System.nanoTime() < deadline; attempt++) {
                try {
                    SendResult r = l.producer.send(batch);
                    if (r.getSendStatus() == SendStatus.SEND_OK) {
                        acked.addAndGet(n);
                        sent = true;
                    } else {
                        w.error(new IllegalStateException(String.valueOf(r.getSendStatus())));
                    }
                } catch (Throwable e) {
                    w.error(e);
                }
            }
        }
    }

    /** Push consumer (CLUSTERING, from the first offset, 20 threads like the official benchmark) drains the backlog. */
    static Map<String, Object> consume(Load l) throws Exception {
        Map<String, Object> m = l.base("consume");
        long expect = l.filled;
        m.put("expect", expect);
        if (expect <= 0) {
            m.put("ok", false);
            m.put("error", "nothing was filled");
            return m;
        }
        AtomicLong got = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        AtomicLong firstNs = new AtomicLong();
        AtomicLong doneNs = new AtomicLong();
        CountDownLatch done = new CountDownLatch(1);
        DefaultMQPushConsumer c = consumer(l);
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.nanoTime();
            firstNs.compareAndSet(0, now);
            long b = 0;
            for (MessageExt x : msgs) b += x.getBody() == null ? 0 : x.getBody().length;
            bytes.addAndGet(b);
            if (got.addAndGet(msgs.size()) >= expect && doneNs.compareAndSet(0, now)) done.countDown();
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        Window w = new Window(l);
        long t0 = System.nanoTime();
        w.open(t0, t0 + l.phaseTimeoutMs * 1_000_000L);
        w.begin();
        c.start();
        boolean finished = done.await(l.phaseTimeoutMs, TimeUnit.MILLISECONDS);
        long t1 = finished ? doneNs.get() : System.nanoTime();
        long first = firstNs.get();
        double secs = first == 0 ? (t1 - t0) / 1e9 : Math.max(1e-3, (t1 - first) / 1e9);
        w.finish(m, got.get(), l.fillSize, secs, null);
        m.put("firstMsgMs", first == 0 ? -1 : (first - t0) / 1_000_000);
        m.put("totalMs", (t1 - t0) / 1_000_000);
        m.put("bytes", bytes.get());
        m.put("timedOut", !finished);
        if (!finished) m.put("ok", false);
        c.shutdown();
        return m;
    }

    /** The backlog's consumer (a fresh group, not started): from the first offset, 20 consume threads. */
    static DefaultMQPushConsumer consumer(Load l) throws Exception {
        DefaultMQPushConsumer c = new DefaultMQPushConsumer("bench_consumer_" + System.currentTimeMillis());
        c.setNamesrvAddr(l.ns);
        c.setInstanceName("bench-c-" + ProcessHandle.current().pid());
        c.setVipChannelEnabled(false);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.setConsumeThreadMin(20);
        c.setConsumeThreadMax(20);
        c.subscribe(l.backlogTopic, "*");
        return c;
    }
}
