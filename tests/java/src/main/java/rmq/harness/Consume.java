package rmq.harness;

import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.List;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely;
import org.apache.rocketmq.remoting.RPCHook;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.MessageExt;

/** consume (push consumer) and pull (lite pull consumer) scenarios. */
final class Consume {
    private final Ctx ctx;

    Consume(Ctx ctx) {
        this.ctx = ctx;
    }

    private static final class Common {
        String namesrv, topic, group, tag, sql, prefix, from, instance;
        long expect, start, timeoutMs, lingerMs, shards, settleMs;
        /** When set, the number to expect is written here later (by whoever stops the producer). */
        java.nio.file.Path expectFile;
        boolean broadcast;
    }

    private Common common(Args a) {
        Common c = new Common();
        c.namesrv = a.required("namesrv");
        c.topic = a.required("topic");
        c.group = a.required("group");
        c.tag = a.str("tag", "*");
        c.sql = a.str("sql", null);
        c.prefix = a.str("prefix", "m");
        c.from = a.str("from", "first");
        if (!c.from.equals("first") && !c.from.equals("last") && !c.from.startsWith("timestamp:"))
            throw new Args.UsageException("--from must be first|last|timestamp:<epoch-ms>");
        String ef = a.str("expect-file", null);
        c.expectFile = ef == null ? null : java.nio.file.Paths.get(ef);
        c.settleMs = a.num("settle-ms", 120_000, 1, 3_600_000);
        c.expect = a.num("expect", c.expectFile != null ? 0 : -1, 0, 50_000_000);
        if (c.expect < 0) throw new Args.UsageException("missing required option --expect (or --expect-file)");
        c.start = a.num("start", 0, 0, Integer.MAX_VALUE - 50_000_001L);
        c.timeoutMs = a.num("timeout-ms", 60_000, 1, 86_400_000);
        c.lingerMs = a.num("linger-ms", 0, 0, 600_000);
        c.shards = a.num("shards", 0, 0, 1_000_000);
        c.broadcast = a.flag("broadcast");
        c.instance = a.str("instance", null);
        if (c.sql != null && a.has("tag")) throw new Args.UsageException("--tag and --sql are exclusive");
        return c;
    }

    private static void applyFrom(Object consumer, String from) {
        if (from.equals("first")) {
            set(consumer, ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        } else if (from.equals("last")) {
            set(consumer, ConsumeFromWhere.CONSUME_FROM_LAST_OFFSET);
        } else {
            long ms;
            try {
                ms = Long.parseLong(from.substring("timestamp:".length()));
            } catch (NumberFormatException e) {
                throw new Args.UsageException("--from timestamp:<epoch-ms> wants a number");
            }
            set(consumer, ConsumeFromWhere.CONSUME_FROM_TIMESTAMP);
            String ts = new SimpleDateFormat("yyyyMMddHHmmss").format(new Date(ms));
            if (consumer instanceof DefaultMQPushConsumer) ((DefaultMQPushConsumer) consumer).setConsumeTimestamp(ts);
            else ((DefaultLitePullConsumer) consumer).setConsumeTimestamp(ts);
        }
    }

    private static void set(Object consumer, ConsumeFromWhere w) {
        if (consumer instanceof DefaultMQPushConsumer) ((DefaultMQPushConsumer) consumer).setConsumeFromWhere(w);
        else ((DefaultLitePullConsumer) consumer).setConsumeFromWhere(w);
    }

    private MessageSelector selector(Common c) {
        return c.sql != null ? MessageSelector.bySql(c.sql) : MessageSelector.byTag(c.tag);
    }

    /**
     * Waits until `expect` distinct bodies were consumed (or, for expect=0, the whole timeout).
     * With --expect-file, consumes until that file holds a count, then for at most --settle-ms more.
     */
    private boolean waitDone(Recorder r, Common c, long deadline) throws InterruptedException {
        while (System.currentTimeMillis() < deadline) {
            if (c.expectFile != null && c.expect == 0) {
                long n = readCount(c.expectFile);
                if (n > 0) {
                    c.expect = n;
                    deadline = Math.min(deadline, System.currentTimeMillis() + c.settleMs);
                }
            }
            if (c.expect > 0 && r.distinct() >= c.expect) {
                if (c.lingerMs > 0) Thread.sleep(Math.min(c.lingerMs, Math.max(0, deadline - System.currentTimeMillis())));
                return false;
            }
            Thread.sleep(10);
        }
        return c.expect > 0 && r.distinct() < c.expect;
    }

    /** The count in `f`, or 0 while it is absent or incomplete. */
    private static long readCount(java.nio.file.Path f) {
        try {
            String t = new String(java.nio.file.Files.readAllBytes(f), java.nio.charset.StandardCharsets.UTF_8).trim();
            return t.endsWith(";") ? Long.parseLong(t.substring(0, t.length() - 1)) : 0;
        } catch (java.io.IOException | NumberFormatException e) {
            return 0;
        }
    }

    private int finish(String scenario, Recorder r, Common c, boolean timedOut, Json extra) {
        ctx.closeRecords();
        boolean ok = r.distinct() >= c.expect && r.corrupt == 0 && (c.shards == 0 || r.orderViolations == 0);
        Json j = ctx.result(scenario, ok).put("topic", c.topic).put("group", c.group).put("prefix", c.prefix)
                .put("start", c.start).put("expect", c.expect).put("timedOut", timedOut);
        if (extra != null) j.put("mode", extra);
        r.report(j, c.start, c.expect);
        ctx.emit(j);
        return ok ? 0 : 1;
    }

    int push(Args a) throws Exception {
        Common c = common(a);
        boolean orderly = a.flag("orderly");
        long later = a.num("reconsume-later", 0, 0, Integer.MAX_VALUE);
        int retryDelay = (int) a.num("retry-delay-level", 0, -1, 64);
        int maxReconsume = (int) a.num("max-reconsume-times", -2, -1, 10_000);
        int threads = (int) a.num("consume-threads", 0, 0, 1000);
        int pullBatch = (int) a.num("pull-batch", 0, 0, 1024);
        ctx.openRecords(a.str("out", null));
        long deadline = System.currentTimeMillis() + c.timeoutMs;
        Recorder r = new Recorder(ctx, c.prefix, c.shards);

        RPCHook hook = Ctx.aclHook(a);
        DefaultMQPushConsumer pc = hook == null ? new DefaultMQPushConsumer(c.group)
                : new DefaultMQPushConsumer(c.group, hook, new AllocateMessageQueueAveragely());
        pc.setNamesrvAddr(c.namesrv);
        pc.setMqClientApiTimeout(Ctx.apiTimeoutMs(a));
        if (c.instance != null) pc.setInstanceName(c.instance);
        Ctx.setEnum(pc, "setMessageModel", c.broadcast ? "BROADCASTING" : "CLUSTERING");
        applyFrom(pc, c.from);
        if (maxReconsume != -2) pc.setMaxReconsumeTimes(maxReconsume);
        if (threads > 0) {
            pc.setConsumeThreadMin(threads);
            pc.setConsumeThreadMax(threads);
        }
        if (pullBatch > 0) pc.setPullBatchSize(pullBatch);
        pc.setAwaitTerminationMillisWhenShutdown(3000); // finish in-flight listeners so their offsets are committed
        if (orderly) pc.setSuspendCurrentQueueTimeMillis(200);
        pc.subscribe(c.topic, selector(c));
        if (orderly) {
            pc.registerMessageListener((MessageListenerOrderly) (msgs, context) -> {
                boolean allOk = true;
                for (MessageExt m : msgs) {
                    boolean accept = m.getReconsumeTimes() >= later;
                    r.deliver(m, accept);
                    allOk &= accept;
                }
                return allOk ? ConsumeOrderlyStatus.SUCCESS : ConsumeOrderlyStatus.SUSPEND_CURRENT_QUEUE_A_MOMENT;
            });
        } else {
            pc.registerMessageListener((MessageListenerConcurrently) (msgs, context) -> {
                boolean allOk = true;
                for (MessageExt m : msgs) {
                    boolean accept = m.getReconsumeTimes() >= later;
                    r.deliver(m, accept);
                    allOk &= accept;
                }
                if (allOk) return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
                if (retryDelay != 0) context.setDelayLevelWhenNextConsume(retryDelay);
                return ConsumeConcurrentlyStatus.RECONSUME_LATER;
            });
        }
        pc.start();
        boolean timedOut;
        try {
            timedOut = waitDone(r, c, deadline);
        } finally {
            try {
                pc.shutdown(); // persists consumed offsets to the broker
            } catch (RuntimeException e) {
                ctx.error(e); // still report what was consumed
            }
        }
        return finish("consume", r, c, timedOut, new Json().put("orderly", orderly).put("broadcast", c.broadcast));
    }

    int pull(Args a) throws Exception {
        Common c = common(a);
        int pullBatch = (int) a.num("pull-batch", 0, 0, 1024);
        ctx.openRecords(a.str("out", null));
        long deadline = System.currentTimeMillis() + c.timeoutMs;
        Recorder r = new Recorder(ctx, c.prefix, c.shards);
        RPCHook hook = Ctx.aclHook(a);
        DefaultLitePullConsumer lc = hook == null ? new DefaultLitePullConsumer(c.group) : new DefaultLitePullConsumer(c.group, hook);
        lc.setNamesrvAddr(c.namesrv);
        lc.setMqClientApiTimeout(Ctx.apiTimeoutMs(a));
        if (c.instance != null) lc.setInstanceName(c.instance);
        Ctx.setEnum(lc, "setMessageModel", c.broadcast ? "BROADCASTING" : "CLUSTERING");
        applyFrom(lc, c.from);
        if (pullBatch > 0) lc.setPullBatchSize(pullBatch);
        lc.setAutoCommit(false);
        if (c.sql != null) lc.subscribe(c.topic, selector(c));
        else lc.subscribe(c.topic, c.tag);
        lc.start();
        boolean timedOut = true;
        try {
            while (System.currentTimeMillis() < deadline) {
                List<MessageExt> ms = lc.poll(Math.max(1, Math.min(200, deadline - System.currentTimeMillis())));
                for (MessageExt m : ms) r.deliver(m, true);
                if (!ms.isEmpty()) lc.commitSync();
                if (c.expect > 0 && r.distinct() >= c.expect) {
                    timedOut = false;
                    break;
                }
            }
            if (c.expect == 0) timedOut = false;
        } finally {
            try {
                lc.commitSync();
            } catch (Exception e) {
                ctx.error(e);
            }
            try {
                lc.shutdown();
            } catch (RuntimeException e) {
                ctx.error(e);
            }
        }
        return finish("pull", r, c, timedOut, null);
    }
}
