package rmq.harness;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/** produce scenario: sync | async | oneway | batch | transaction. */
final class Produce {
    private final Ctx ctx;
    private final IndexSet acked = new IndexSet();
    private final IndexSet failed = new IndexSet();
    private final Map<String, Long> status = new ConcurrentHashMap<>();
    private final Map<String, Long> queues = new ConcurrentHashMap<>();
    // transactions
    private final IndexSet txCommit = new IndexSet();
    private final IndexSet txRollback = new IndexSet();
    private final IndexSet txUnknown = new IndexSet();
    private final IndexSet checked = new IndexSet();
    private final AtomicLong checks = new AtomicLong();
    // continuity (sync mode): pause between sends, stop when a file appears, longest gap
    private long intervalMs;
    private java.nio.file.Path stopFile;
    private long attempted = -1;
    private long maxGapMs;

    Produce(Ctx ctx) {
        this.ctx = ctx;
    }

    int run(Args a) throws Exception {
        String namesrv = a.required("namesrv");
        String topic = a.required("topic");
        long count = a.num("count", -1, 0, 50_000_000);
        if (count < 0) throw new Args.UsageException("missing required option --count");
        String mode = a.oneOf("mode", "sync", "sync", "async", "oneway", "batch", "transaction");
        String tag = a.str("tag", null);
        boolean keys = a.flag("keys");
        int bodySize = (int) a.num("body-size", 0, 0, 64 << 20);
        String group = a.str("group", "rmq-harness-producer");
        String prefix = a.str("prefix", "m");
        long start = a.num("start", 0, 0, Integer.MAX_VALUE - 50_000_001L);
        int batchSize = (int) a.num("batch-size", 32, 1, 10_000);
        int delayLevel = (int) a.num("delay-level", 0, 0, 64);
        int sendTimeout = (int) a.num("send-timeout-ms", 3000, 1, 600_000);
        int retries = (int) a.num("retries", 2, 0, 100);
        int inflight = (int) a.num("inflight", 256, 1, 100_000);
        int shards = (int) a.num("shards", 0, 0, 1_000_000);
        long timeoutMs = a.num("timeout-ms", 300_000, 1, 86_400_000);
        String tx = a.oneOf("tx", "commit", "commit", "rollback", "unknown", "mix");
        String check = a.oneOf("check", "commit", "commit", "rollback", "unknown");
        long waitChecks = a.num("wait-checks", 0, 0, 50_000_000);
        String outFile = a.str("out", null);
        String instance = a.str("instance", null);
        intervalMs = a.num("interval-ms", 0, 0, 60_000);
        String stop = a.str("stop-file", null);
        if (stop != null) stopFile = java.nio.file.Paths.get(stop);
        if ((intervalMs > 0 || stop != null) && !mode.equals("sync")) throw new Args.UsageException("--interval-ms/--stop-file need --mode sync");
        if (shards > 0 && !mode.equals("sync")) throw new Args.UsageException("--shards needs --mode sync");
        if (delayLevel > 0 && mode.equals("batch")) throw new Args.UsageException("--delay-level cannot be used with --mode batch");
        if (a.has("tx") || a.has("check") || a.has("wait-checks")) {
            if (!mode.equals("transaction")) throw new Args.UsageException("--tx/--check/--wait-checks need --mode transaction");
        }
        RPCHook hook = Ctx.aclHook(a);
        long deadline = System.currentTimeMillis() + timeoutMs;
        ctx.openRecords(outFile);

        DefaultMQProducer p;
        if (mode.equals("transaction")) {
            TransactionMQProducer tp = hook == null ? new TransactionMQProducer(group) : new TransactionMQProducer(group, hook);
            tp.setTransactionListener(new TransactionListener() {
                @Override
                public LocalTransactionState executeLocalTransaction(Message msg, Object arg) {
                    long idx = (Long) arg;
                    String d = tx.equals("mix") ? new String[] {"commit", "rollback", "unknown"}[(int) (idx % 3)] : tx;
                    switch (d) {
                        case "commit": txCommit.add(idx); return LocalTransactionState.COMMIT_MESSAGE;
                        case "rollback": txRollback.add(idx); return LocalTransactionState.ROLLBACK_MESSAGE;
                        default: txUnknown.add(idx); return LocalTransactionState.UNKNOW;
                    }
                }

                @Override
                public LocalTransactionState checkLocalTransaction(MessageExt msg) {
                    checks.incrementAndGet();
                    Bodies.Parsed pb = Bodies.parse(msg.getBody(), prefix);
                    if (pb.index >= 0) checked.add(pb.index);
                    switch (check) {
                        case "commit": return LocalTransactionState.COMMIT_MESSAGE;
                        case "rollback": return LocalTransactionState.ROLLBACK_MESSAGE;
                        default: return LocalTransactionState.UNKNOW;
                    }
                }
            });
            p = tp;
        } else {
            p = hook == null ? new DefaultMQProducer(group) : new DefaultMQProducer(group, hook);
        }
        p.setNamesrvAddr(namesrv);
        p.setMqClientApiTimeout(Ctx.apiTimeoutMs(a));
        p.setSendMsgTimeout(sendTimeout);
        p.setRetryTimesWhenSendFailed(retries);
        p.setRetryTimesWhenSendAsyncFailed(retries);
        if (instance != null) p.setInstanceName(instance);
        p.start();
        long sentCalls = 0;
        try {
            switch (mode) {
                case "sync": sentCalls = sync(p, topic, tag, keys, bodySize, prefix, start, count, delayLevel, shards, deadline); break;
                case "async": sentCalls = async(p, topic, tag, keys, bodySize, prefix, start, count, delayLevel, inflight, sendTimeout, deadline); break;
                case "oneway": sentCalls = oneway(p, topic, tag, keys, bodySize, prefix, start, count, delayLevel, deadline); break;
                case "batch": sentCalls = batch(p, topic, tag, keys, bodySize, prefix, start, count, batchSize, deadline); break;
                default: sentCalls = transaction((TransactionMQProducer) p, topic, tag, keys, bodySize, prefix, start, count, delayLevel, deadline); break;
            }
            if (mode.equals("transaction") && waitChecks > 0) {
                while (checked.size() < waitChecks && System.currentTimeMillis() < deadline) Thread.sleep(20);
            }
        } finally {
            try {
                p.shutdown();
            } catch (RuntimeException e) {
                ctx.error(e);
            }
            ctx.closeRecords();
        }
        if (attempted >= 0) count = attempted; // stopped by --stop-file
        long nAcked = acked.size();
        long nFailed = count - nAcked;
        boolean ok = nAcked == count && (waitChecks == 0 || checked.size() >= waitChecks);
        Json j = ctx.result("produce", ok)
                .put("mode", mode).put("topic", topic).put("prefix", prefix).put("start", start)
                .put("requested", count).put("sent", nAcked).put("failed", nFailed)
                .put("acked", acked.ranges()).put("failedIdx", acked.missingIn(start, start + count))
                .put("calls", sentCalls).put("status", Ctx.sorted(status)).put("queues", Ctx.sorted(queues))
                .put("timedOut", System.currentTimeMillis() >= deadline);
        if (mode.equals("sync")) j.put("maxGapMs", maxGapMs);
        if (mode.equals("oneway")) j.put("oneway", true);
        if (mode.equals("transaction")) {
            j.put("txCommit", txCommit.ranges()).put("txRollback", txRollback.ranges()).put("txUnknown", txUnknown.ranges())
                    .put("checks", checks.get()).put("checkedDistinct", checked.size()).put("checked", checked.ranges());
        }
        ctx.emit(j);
        return ok ? 0 : 1;
    }

    private Message msg(String topic, String tag, boolean keys, int bodySize, String prefix, long idx, int delayLevel) {
        Message m = new Message(topic, Bodies.make(prefix, idx, bodySize));
        if (tag != null) m.setTags(tag);
        if (keys) m.setKeys(Bodies.id(prefix, idx));
        if (delayLevel > 0) m.setDelayTimeLevel(delayLevel);
        return m;
    }

    private static void inc(Map<String, Long> m, String k) {
        m.merge(k, 1L, Long::sum);
    }

    private void ok(long idx, SendResult r, String msgId) {
        String st = String.valueOf(r.getSendStatus());
        inc(status, st);
        MessageQueue q = r.getMessageQueue();
        String qk = q == null ? "?" : q.getBrokerName() + "/" + q.getQueueId();
        inc(queues, qk);
        acked.add(idx);
        ctx.record(idx + "\t" + msgId + "\t" + r.getOffsetMsgId() + "\t" + (q == null ? "" : q.getBrokerName()) + "\t"
                + (q == null ? -1 : q.getQueueId()) + "\t" + r.getQueueOffset() + "\t" + st);
    }

    private long sync(DefaultMQProducer p, String topic, String tag, boolean keys, int bodySize, String prefix, long start,
                      long count, int delay, int shards, long deadline) throws InterruptedException {
        long calls = 0;
        MessageQueueSelector sel = (mqs, m, arg) -> mqs.get((int) ((Long) arg % shards % mqs.size()));
        long lastOk = System.currentTimeMillis();
        long i = start;
        for (; i < start + count && System.currentTimeMillis() < deadline; i++) {
            if (stopFile != null && java.nio.file.Files.exists(stopFile)) break;
            try {
                Message m = msg(topic, tag, keys, bodySize, prefix, i, delay);
                SendResult r = shards > 0 ? p.send(m, sel, i) : p.send(m);
                calls++;
                ok(i, r, r.getMsgId());
                long now = System.currentTimeMillis();
                maxGapMs = Math.max(maxGapMs, now - lastOk);
                lastOk = now;
            } catch (Exception e) {
                ctx.error(e);
                failed.add(i);
            }
            if (intervalMs > 0) Thread.sleep(intervalMs);
        }
        if (stopFile != null) attempted = i - start;
        return calls;
    }

    private long async(DefaultMQProducer p, String topic, String tag, boolean keys, int bodySize, String prefix, long start,
                       long count, int delay, int inflight, int sendTimeout, long deadline) throws InterruptedException {
        Semaphore sem = new Semaphore(inflight);
        long calls = 0;
        for (long i = start; i < start + count; i++) {
            long left = deadline - System.currentTimeMillis();
            if (left <= 0 || !sem.tryAcquire(left, TimeUnit.MILLISECONDS)) break;
            final long idx = i;
            try {
                p.send(msg(topic, tag, keys, bodySize, prefix, i, delay), new SendCallback() {
                    @Override
                    public void onSuccess(SendResult r) {
                        ok(idx, r, r.getMsgId());
                        sem.release();
                    }

                    @Override
                    public void onException(Throwable e) {
                        ctx.error(e);
                        failed.add(idx);
                        sem.release();
                    }
                }, sendTimeout);
                calls++;
            } catch (Exception e) {
                ctx.error(e);
                failed.add(i);
                sem.release();
            }
        }
        long left = Math.max(0, deadline - System.currentTimeMillis());
        if (sem.tryAcquire(inflight, left + 1, TimeUnit.MILLISECONDS)) sem.release(inflight);
        else ctx.error("async: callbacks still outstanding at the deadline");
        return calls;
    }

    private long oneway(DefaultMQProducer p, String topic, String tag, boolean keys, int bodySize, String prefix, long start,
                        long count, int delay, long deadline) {
        long calls = 0;
        for (long i = start; i < start + count && System.currentTimeMillis() < deadline; i++) {
            try {
                p.sendOneway(msg(topic, tag, keys, bodySize, prefix, i, delay));
                calls++;
                acked.add(i); // oneway: "acked" means the client accepted the call; there is no broker reply
                inc(status, "ONEWAY");
                ctx.record(i + "\t\t\t\t-1\t-1\tONEWAY");
            } catch (Exception e) {
                ctx.error(e);
                failed.add(i);
            }
        }
        try {
            Thread.sleep(1000); // let the broker read the oneway frames before shutdown closes the socket
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
        return calls;
    }

    private long batch(DefaultMQProducer p, String topic, String tag, boolean keys, int bodySize, String prefix, long start,
                       long count, int batchSize, long deadline) {
        long calls = 0;
        for (long i = start; i < start + count && System.currentTimeMillis() < deadline; i += batchSize) {
            long end = Math.min(start + count, i + batchSize);
            List<Message> ms = new ArrayList<>();
            for (long k = i; k < end; k++) ms.add(msg(topic, tag, keys, bodySize, prefix, k, 0));
            try {
                SendResult r = p.send(ms);
                calls++;
                String[] ids = r.getMsgId() == null ? new String[0] : r.getMsgId().split(",");
                for (long k = i; k < end; k++) {
                    int off = (int) (k - i);
                    ok(k, r, off < ids.length ? ids[off] : "");
                }
            } catch (Exception e) {
                ctx.error(e);
                for (long k = i; k < end; k++) failed.add(k);
            }
        }
        return calls;
    }

    private long transaction(TransactionMQProducer p, String topic, String tag, boolean keys, int bodySize, String prefix,
                             long start, long count, int delay, long deadline) {
        long calls = 0;
        for (long i = start; i < start + count && System.currentTimeMillis() < deadline; i++) {
            try {
                TransactionSendResult r = p.sendMessageInTransaction(msg(topic, tag, keys, bodySize, prefix, i, delay), i);
                calls++;
                ok(i, r, r.getMsgId());
            } catch (Exception e) {
                ctx.error(e);
                failed.add(i);
            }
        }
        return calls;
    }
}
