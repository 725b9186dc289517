//! Apache RocketMQ's own `mqadmin` (rocketmq-tools 5.3.3, the jars tests/peers/apache.sh
//! fetches) against an rmq broker: the retention settings change at runtime with
//! `updateBrokerConfig` and read back with `getBrokerConfig`; `deleteExpiredCommitLog` and
//! `cleanExpiredCQ` are accepted.

#![allow(clippy::unwrap_used)]

use rmq_e2e::mqadmin::mqadmin;
use rmq_e2e::{BrokerOpts, BrokerProc, NamesrvProc};

/// The value `getBrokerConfig` prints for `key` (lines `key = value`).
fn broker_config(ns: &str, broker: &str, key: &str) -> Option<String> {
    let (_, text) = mqadmin(&["getBrokerConfig", "-n", ns, "-b", broker]);
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

#[test]
fn mqadmin_changes_retention_at_runtime() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let (ns, addr) = (ns.addr.as_str(), broker.addr.as_str());
    assert_eq!(
        broker_config(ns, addr, "fileReservedTime").as_deref(),
        Some("72")
    );
    let update = ["updateBrokerConfig", "-n", ns, "-b", addr];
    let (ok, text) = mqadmin(&[&update[..], &["-k", "fileReservedTime", "-v", "48"]].concat());
    assert!(ok && !text.contains("Exception"), "{text}");
    let (ok, text) = mqadmin(&[&update[..], &["-k", "deleteWhen", "-v", "03;15"]].concat());
    assert!(ok && !text.contains("Exception"), "{text}");
    assert_eq!(
        broker_config(ns, addr, "fileReservedTime").as_deref(),
        Some("48")
    );
    assert_eq!(
        broker_config(ns, addr, "deleteWhen").as_deref(),
        Some("03;15")
    );
    assert!(
        broker
            .log()
            .contains("retention settings changed at runtime")
    );
    // A key that needs a restart is refused, with the reason in the tool's output.
    let before = broker_config(ns, addr, "maxMessageSize");
    let (_, text) = mqadmin(&[&update[..], &["-k", "maxMessageSize", "-v", "1048576"]].concat());
    assert!(text.contains("restart"), "{text}");
    assert_eq!(broker_config(ns, addr, "maxMessageSize"), before);
    let (ok, text) = mqadmin(&["deleteExpiredCommitLog", "-n", ns, "-b", addr]);
    assert!(ok && !text.contains("Exception"), "{text}");
    assert!(broker.log().contains("DELETE_EXPIRED_COMMITLOG"));
    let (ok, text) = mqadmin(&["cleanExpiredCQ", "-n", ns, "-b", addr]);
    assert!(ok && !text.contains("Exception"), "{text}");
}
