package rmq.harness;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.message.MessageExt;

/** query scenario: look messages up by key (QUERY_MESSAGE) or by msgId (VIEW_MESSAGE_BY_ID / uniq key). */
final class Query {
    private final Ctx ctx;

    Query(Ctx ctx) {
        this.ctx = ctx;
    }

    int run(Args a) throws Exception {
        String namesrv = a.required("namesrv");
        String topic = a.required("topic");
        String key = a.str("key", null);
        String msgId = a.str("msg-id", null);
        String prefix = a.str("prefix", "m");
        long expect = a.num("expect", 1, 0, 100_000);
        long timeoutMs = a.num("timeout-ms", 30_000, 1, 86_400_000);
        int max = (int) a.num("max", 64, 1, 100_000);
        if ((key == null) == (msgId == null)) throw new Args.UsageException("give exactly one of --key or --msg-id");
        long deadline = System.currentTimeMillis() + timeoutMs;
        DefaultMQProducer p = new DefaultMQProducer(a.str("group", "rmq-harness-query"));
        p.setNamesrvAddr(namesrv);
        p.setMqClientApiTimeout(Ctx.apiTimeoutMs(a));
        p.start();
        Map<String, MessageExt> found = new LinkedHashMap<>();
        long attempts = 0;
        try {
            while (System.currentTimeMillis() < deadline) {
                attempts++;
                try {
                    if (key != null) {
                        QueryResult qr = p.queryMessage(topic, key, max, 0, Long.MAX_VALUE);
                        for (MessageExt m : qr.getMessageList()) found.putIfAbsent(m.getMsgId() + "@" + m.getCommitLogOffset(), m);
                    } else {
                        MessageExt m = p.viewMessage(topic, msgId);
                        if (m != null) found.putIfAbsent(m.getMsgId() + "@" + m.getCommitLogOffset(), m);
                    }
                } catch (Exception e) {
                    ctx.error(e);
                }
                if (found.size() >= Math.max(1, expect)) break;
                Thread.sleep(200);
            }
        } finally {
            p.shutdown();
        }
        List<Object> list = new ArrayList<>();
        for (MessageExt m : found.values()) {
            Bodies.Parsed pb = Bodies.parse(m.getBody(), prefix);
            list.add(new Json().put("index", pb.index).put("corrupt", pb.corrupt).put("msgId", m.getMsgId())
                    .put("topic", m.getTopic()).put("brokerName", m.getBrokerName()).put("queueId", m.getQueueId())
                    .put("queueOffset", m.getQueueOffset()).put("commitLogOffset", m.getCommitLogOffset())
                    .put("keys", m.getKeys()).put("tags", m.getTags()));
        }
        boolean ok = found.size() >= expect;
        ctx.emit(ctx.result("query", ok).put("topic", topic).put("key", key).put("msgId", msgId)
                .put("expect", expect).put("found", found.size()).put("attempts", attempts).put("messages", list));
        return ok ? 0 : 1;
    }
}
