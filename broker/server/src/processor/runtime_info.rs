//! GET_BROKER_RUNTIME_INFO: the key/value table `mqadmin brokerStatus` and `clusterList`,
//! rocketmq-exporter and rmq's own `/metrics` read — every key Java tools parse, with rmq's
//! values (fixed where rmq has no such part: thread pools, page-cache lock, timer wheel).

use crate::broker::Broker;
use crate::state::now_ms;
use rmq_protocol::body::misc::KvTable;
use rmq_store::StoreStats;
use std::collections::BTreeMap;

/// Runtime info keys Java tools expect whose values are fixed in rmq (no thread pools, no page
/// cache lock, no timer wheel, dispatch in the put path).
const FIXED_RUNTIME_INFO: &[(&str, &str)] = &[
    ("brokerVersionDesc", "V5_3_3"),
    ("brokerActive", "true"),
    ("sendThreadPoolQueueSize", "0"),
    ("pullThreadPoolQueueSize", "0"),
    ("sendThreadPoolQueueCapacity", "10000"),
    ("pullThreadPoolQueueCapacity", "100000"),
    ("sendThreadPoolQueueHeadWaitTimeMills", "0"),
    ("pullThreadPoolQueueHeadWaitTimeMills", "0"),
    ("queryThreadPoolQueueSize", "0"),
    ("queryThreadPoolQueueCapacity", "20000"),
    ("queryThreadPoolQueueHeadWaitTimeMills", "0"),
    ("dispatchMaxBuffer", "0"),
    ("remainTransientStoreBufferNumbs", "0"),
    ("getMessageEntireTimeMax", "0"),
    ("pageCacheLockTimeMills", "0"),
    ("timerReadBehind", "0"),
    ("timerOffsetBehind", "0"),
    ("timerCongestNum", "0"),
    ("timerEnqueueTps", "0.0"),
    ("timerDequeueTps", "0.0"),
];

/// GET_BROKER_RUNTIME_INFO: counters, store offsets, connections and replication.
pub fn runtime_info(b: &Broker) -> KvTable {
    KvTable {
        table: runtime_table(b),
    }
}

/// The GET_BROKER_RUNTIME_INFO table (also exported on `/metrics`).
pub fn runtime_table(b: &Broker) -> BTreeMap<String, String> {
    let (put_days, get_days) = b.stats.day_totals();
    let store = b.store.stats();
    let mut t = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        t.insert(k.to_owned(), v);
    };
    for (k, v) in FIXED_RUNTIME_INFO {
        put(k, (*v).to_owned());
    }
    put(
        "brokerVersion",
        rmq_protocol::codes::version::CURRENT.to_string(),
    );
    traffic_keys(b, &store, &mut put);
    put(
        "earliestMessageTimeStamp",
        store.earliest_message_time.unwrap_or(0).to_string(),
    );
    put(
        "commitLogDiskRatio",
        format!("{:.4}", store.disk_usage_ratio.unwrap_or(0.0)),
    );
    // Java: a byte count, and a human-readable size ("1.5 KiB" style)
    let behind = |offset: i64| (store.commit_log_max_offset - offset).max(0) as u64;
    put(
        "dispatchBehindBytes",
        behind(store.dispatched_offset).to_string(),
    );
    put(
        "remainHowManyDataToFlush",
        human_bytes(behind(store.flushed_offset)),
    );
    put("diskFull", b.retention.writes_refused().to_string());
    put("storeFailed", b.store.is_failed().to_string());
    if b.config.http_enable {
        put("httpListenPort", b.config.http_port().to_string());
    }
    put(
        "retentionDeletedSegments",
        b.retention.segments_deleted().to_string(),
    );
    put(
        "retentionSkippedMessages",
        b.retention.skipped_messages().to_string(),
    );
    put(
        "commitLogMinOffset",
        b.store.min_physical_offset().to_string(),
    );
    put(
        "commitLogMaxOffset",
        b.store.max_physical_offset().to_string(),
    );
    put("msgPutTotalYesterdayMorning", put_days[0].to_string());
    put("msgPutTotalTodayMorning", put_days[1].to_string());
    put("msgPutTotalTodayNow", put_days[2].to_string());
    put("msgGetTotalYesterdayMorning", get_days[0].to_string());
    put("msgGetTotalTodayMorning", get_days[1].to_string());
    put("msgGetTotalTodayNow", get_days[2].to_string());
    put("bootTimestamp", b.boot_ms.to_string());
    put(
        "runtime",
        format!("[ {} seconds ]", (now_ms() - b.boot_ms) / 1000),
    );
    let (producers, consumers) = b.clients.counts();
    put("producerConnections", producers.to_string());
    put("consumerConnections", consumers.to_string());
    put("parkedPulls", b.holds.len().to_string());
    put("brokerRole", format!("{:?}", b.config.broker_role));
    t.insert("msgPutTotal".into(), b.stats.puts().to_string());
    b.ha.runtime_info(&mut t);
    t
}

/// Rates, totals and the put-latency distribution (what `clusterList` and rocketmq-exporter
/// read): every rate is three numbers, over 10 s, 1 min and 10 min.
fn traffic_keys(b: &Broker, store: &StoreStats, put: &mut impl FnMut(&str, String)) {
    let s = &b.stats;
    put("putTps", s.put_tps());
    put("getTransferedTps", s.get_tps());
    put("getTransferredTps", s.get_tps());
    put("getFoundTps", s.found_tps());
    put("getMissTps", s.miss_tps());
    put("getTotalTps", s.total_tps());
    put("putMessageTimesTotal", store.put_count.max(1).to_string());
    put("putMessageSizeTotal", store.put_bytes.to_string());
    let average = store.put_bytes as f64 / store.put_count.max(1) as f64;
    put("putMessageAverageSize", format!("{average:.1}"));
    put("putMessageDistributeTime", s.put_latency.distribution());
    put(
        "putMessageEntireTimeMax",
        s.put_latency.max_ms().to_string(),
    );
    put(
        "putLatency99",
        format!("{:.2}", s.put_latency.quantile_ms(0.99) as f64),
    );
    put(
        "putLatency999",
        format!("{:.2}", s.put_latency.quantile_ms(0.999) as f64),
    );
    put("startAcceptSendRequestTimeStamp", b.boot_ms.to_string());
    if let Ok(disk) = b.store.disk_usage() {
        let ratio = format!("{:.4}", disk.ratio());
        put("consumeQueueDiskRatio", ratio);
        let capacity = format!(
            "Total : {}, Free : {}.",
            human_bytes(disk.total_bytes),
            human_bytes(disk.available_bytes)
        );
        put("commitLogDirCapacity", capacity);
    }
}

/// Bytes as Java's `MixAll.humanReadableByteCount(bytes, false)` words them: `512 B`,
/// `1.5 KiB`, `100.0 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let exp = ((bytes as f64).ln() / 1024f64.ln()) as i32;
    let unit = "KMGTPE".chars().nth((exp - 1) as usize).unwrap_or('E');
    format!("{:.1} {unit}iB", bytes as f64 / 1024f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_java_writes_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(100 * (1 << 30)), "100.0 GiB");
    }
}
