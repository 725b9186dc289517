package rmq.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.remoting.protocol.RemotingCommand;
import org.apache.rocketmq.remoting.protocol.RemotingSerializable;
import org.apache.rocketmq.remoting.protocol.RequestCode;
import org.apache.rocketmq.remoting.protocol.ResponseCode;
import org.apache.rocketmq.remoting.protocol.subscription.SubscriptionGroupConfig;

/**
 * {@code scale:TOPICS:GROUPS:RATE}: the broker's memory and CPU with many topics and consumer
 * groups (the native driver's bench/native/src/scale.rs does the same over its own client):
 *
 * <ol>
 *   <li>the broker's RSS before (baseRssKb, baseRssAnonKb);
 *   <li>TOPICS topics ({@code <topic>Scale0000}..) of --queues queues by UPDATE_AND_CREATE_TOPIC,
 *       each until the nameserver routes it (createTopicsMs); GROUPS groups ({@code
 *       bench_scale_000}..) by UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (createGroupsMs);
 *   <li>one push consumer per group in one client instance (1 consume thread each), group
 *       {@code g} subscribed to every topic {@code i} with {@code i % GROUPS == g};
 *   <li>idle: --settle-ms of quiet, then over --measure-ms the broker's CPU (idleCpuPct) and its
 *       RSS at the end (idleRssKb, idleRssAnonKb);
 *   <li>under load: RATE msgs/s of 128 B on a fixed schedule, round robin over the topics (the
 *       producer picks their queues), while the groups consume: --warmup-ms, then the measured
 *       window (tps acknowledged, consumedTps, brokerCpuPct, brokerRssMaxKb, ...).
 * </ol>
 */
final class Scale {
    static final int SIZE = 128;

    private Scale() {}

    static Map<String, Object> run(Load l, int topics, int groups, double rate) throws Exception {
        Map<String, Object> m = l.base("scale");
        m.put("topics", topics);
        m.put("groups", groups);
        m.put("queues", l.queues);
        m.put("rate", rate);
        m.put("size", SIZE);
        if (l.brokerProc == null) return Json.failed(m, "no broker pid (--broker-pid or --broker-pid-file)");
        long[] r = l.brokerProc.rss();
        m.put("baseRssKb", r[0]);
        m.put("baseRssAnonKb", r[1]);
        String[] names = new String[topics];
        for (int i = 0; i < topics; i++) names[i] = String.format("%sScale%04d", l.topic, i);
        long t0 = System.currentTimeMillis();
        Map<String, Object> t = Admin.createTopics(l.admin, l.ns, l.broker, names, l.queues, l.phaseTimeoutMs);
        if (!Boolean.TRUE.equals(t.get("ok"))) return Json.failed(m, String.valueOf(t.get("error")));
        m.put("createTopicsMs", System.currentTimeMillis() - t0);
        t0 = System.currentTimeMillis();
        for (int g = 0; g < groups; g++) {
            SubscriptionGroupConfig cfg = new SubscriptionGroupConfig();
            cfg.setGroupName(group(g));
            RemotingCommand req = RemotingCommand.createRequestCommand(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, null);
            req.setBody(RemotingSerializable.encode(cfg));
            RemotingCommand resp = l.admin.invokeSync(l.broker, req, 5000);
            if (resp.getCode() != ResponseCode.SUCCESS) {
                return Json.failed(m, "create group " + group(g) + ": code " + resp.getCode() + " " + resp.getRemark());
            }
        }
        m.put("createGroupsMs", System.currentTimeMillis() - t0);
        AtomicLong consumed = new AtomicLong();
        List<DefaultMQPushConsumer> cs = new ArrayList<>();
        try {
            for (int g = 0; g < groups; g++) cs.add(consumer(l, g, groups, names, consumed));
            Thread.sleep(l.settleMs);
            m.put("settleMs", l.settleMs);
            idle(l, m);
            load(l, m, names, rate, consumed);
        } finally {
            for (DefaultMQPushConsumer c : cs) c.shutdown();
        }
        return m;
    }

    static String group(int g) {
        return String.format("bench_scale_%03d", g);
    }

    static DefaultMQPushConsumer consumer(Load l, int g, int groups, String[] names, AtomicLong consumed) throws Exception {
        DefaultMQPushConsumer c = new DefaultMQPushConsumer(group(g));
        c.setNamesrvAddr(l.ns);
        c.setInstanceName("bench-s-" + ProcessHandle.current().pid());
        c.setVipChannelEnabled(false);
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.setConsumeThreadMin(1);
        c.setConsumeThreadMax(1);
        for (int i = g; i < names.length; i += groups) c.subscribe(names[i], "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            consumed.addAndGet(msgs.size());
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        return c;
    }

    /** The idle broker over --measure-ms: CPU, and RSS at the end. */
    static void idle(Load l, Map<String, Object> m) throws InterruptedException {
        double c0 = l.brokerProc.cpuSeconds();
        Thread.sleep(l.measureMs);
        double c1 = l.brokerProc.cpuSeconds();
        long[] r = l.brokerProc.rss();
        m.put("idleRssKb", r[0]);
        m.put("idleRssAnonKb", r[1]);
        if (c0 >= 0 && c1 >= 0) m.put("idleCpuPct", (c1 - c0) / (Math.max(1, l.measureMs) / 1000.0) * 100);
    }

    /** RATE msgs/s round robin over the topics while the groups consume. */
    static void load(Load l, Map<String, Object> m, String[] names, double rate, AtomicLong consumed) throws Exception {
        byte[] body = Load.body(SIZE);
        Window w = new Window(l);
        long t0 = System.nanoTime(), start = t0 + l.warmupMs * 1_000_000L, end = start + l.measureMs * 1_000_000L;
        w.open(start, end);
        long[] at = new long[2];
        Paced p = Paced.run(l, w, rate, t0, start, end, (due, i) -> new Message(names[(int) (i % names.length)], body), null,
                () -> at[0] = consumed.get(), () -> at[1] = consumed.get());
        double secs = (end - start) / 1e9;
        w.finish(m, p.ackedByEnd.get(), SIZE, secs, null);
        p.write(m, secs);
        m.put("consumedTps", (at[1] - at[0]) / secs);
    }
}
