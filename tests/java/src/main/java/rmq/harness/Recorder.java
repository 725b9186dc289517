package rmq.harness;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.common.message.MessageExt;

/** What a consumer saw: shared by the push (consume) and lite-pull (pull) scenarios. */
final class Recorder {
    final String prefix;
    final long shards;
    final Ctx ctx;
    final IndexSet consumed = new IndexSet(); // acknowledged (CONSUME_SUCCESS) at least once
    final IndexSet seen = new IndexSet();     // delivered at least once
    long received, foreign, corrupt, rejected, orderViolations;
    long minAgeMs = Long.MAX_VALUE, maxAgeMs = Long.MIN_VALUE, firstAtMs = -1;
    final Map<String, Long> tags = new ConcurrentHashMap<>();
    final Map<String, Long> queues = new ConcurrentHashMap<>();
    final Map<String, Long> reconsume = new ConcurrentHashMap<>();
    private final long[] shardMax;

    Recorder(Ctx ctx, String prefix, long shards) {
        this.ctx = ctx;
        this.prefix = prefix;
        this.shards = shards;
        this.shardMax = new long[(int) Math.max(shards, 0)];
        java.util.Arrays.fill(shardMax, -1);
    }

    /** Records one delivery; accept=false means the listener answers "consume later". @return parsed index or -1. */
    synchronized long deliver(MessageExt m, boolean accept) {
        long now = System.currentTimeMillis();
        received++;
        if (firstAtMs < 0) firstAtMs = ctx.elapsed();
        Bodies.Parsed p = Bodies.parse(m.getBody(), prefix);
        String tag = m.getTags() == null ? "" : m.getTags();
        tags.merge(tag, 1L, Long::sum);
        queues.merge(m.getBrokerName() + "/" + m.getQueueId(), 1L, Long::sum);
        reconsume.merge(String.valueOf(m.getReconsumeTimes()), 1L, Long::sum);
        long age = now - m.getBornTimestamp();
        minAgeMs = Math.min(minAgeMs, age);
        maxAgeMs = Math.max(maxAgeMs, age);
        if (!accept) rejected++;
        if (p.index < 0) {
            foreign++;
        } else {
            if (p.corrupt) corrupt++;
            if (shards > 0 && !seen.contains(p.index)) {
                int s = (int) (p.index % shards);
                if (p.index < shardMax[s]) orderViolations++;
                shardMax[s] = Math.max(shardMax[s], p.index);
            }
            seen.add(p.index);
            if (accept && !p.corrupt) consumed.add(p.index);
        }
        String offsetMsgId = "";
        try {
            offsetMsgId = (String) m.getClass().getMethod("getOffsetMsgId").invoke(m);
        } catch (ReflectiveOperationException ignored) {
            // plain MessageExt
        }
        ctx.record(p.index + "\t" + m.getMsgId() + "\t" + offsetMsgId + "\t" + m.getBrokerName() + "\t" + m.getQueueId() + "\t"
                + m.getQueueOffset() + "\t" + m.getReconsumeTimes() + "\t" + tag + "\t" + (m.getKeys() == null ? "" : m.getKeys())
                + "\t" + (accept ? "ok" : "later") + "\t" + m.getTopic());
        return p.index;
    }

    synchronized int distinct() {
        return consumed.size();
    }

    synchronized void report(Json j, long start, long expect) {
        j.put("received", received).put("distinct", consumed.size()).put("duplicates", received - rejected - foreign - consumed.size())
                .put("ranges", consumed.ranges()).put("missing", expect > 0 ? consumed.missingIn(start, start + expect) : "")
                .put("foreign", foreign).put("corrupt", corrupt).put("rejected", rejected)
                .put("tags", new java.util.TreeMap<>(tags)).put("queues", new java.util.TreeMap<>(queues))
                .put("reconsumeTimes", new java.util.TreeMap<>(reconsume))
                .put("minAgeMs", received > 0 ? minAgeMs : -1).put("maxAgeMs", received > 0 ? maxAgeMs : -1)
                .put("firstAtMs", firstAtMs);
        if (shards > 0) j.put("orderViolations", orderViolations);
    }
}
