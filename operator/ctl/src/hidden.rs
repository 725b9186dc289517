//! The names `rmqctl get` and `rmqctl metrics` hide unless `--all` is given: system topics
//! (retry, DLQ, trace, broker-internal) and broker-internal consumer groups.

use rmq_protocol::names;

/// Whether `name` is a system topic (retry, DLQ, broker-internal), hidden without `--all`.
pub(crate) fn is_system_topic(name: &str) -> bool {
    names::is_system_topic(name)
        || name == "BenchmarkTest"
        || name.ends_with("_REPLY_TOPIC")
        || name.starts_with(names::RETRY_GROUP_TOPIC_PREFIX)
        || name.starts_with(names::DLQ_GROUP_TOPIC_PREFIX)
        || name.starts_with("rmq_sys_")
        || name.starts_with("RMQ_SYS_")
}

/// Whether `name` is a broker-internal consumer group, hidden without `--all`.
pub(crate) fn is_system_group(name: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "TOOLS_CONSUMER",
        "FILTERSRV_CONSUMER",
        "SELF_TEST_C_GROUP",
        "CID_ONS-HTTP-PROXY",
        "CID_ONSAPI_PERMISSION",
        "CID_ONSAPI_OWNER",
        "CID_ONSAPI_PULL",
        "CID_SYS_RMQ_TRANS",
        "CID_RMQ_SYS_TRANS",
        "CID_RMQ_SYS_TRACE",
    ];
    SYSTEM.contains(&name) || name.starts_with("CID_RMQ_SYS_") || name.starts_with("rmq_sys_")
}
