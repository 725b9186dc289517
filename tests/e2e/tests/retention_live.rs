//! Retention and disk safety with a real broker: an unmodified Java consumer whose committed
//! offsets fall behind a retention pass continues from the oldest message left (and the broker
//! counts what it skipped); retention settings change at runtime through UPDATE_BROKER_CONFIG;
//! on a small filesystem (a tmpfs the test mounts) writes are refused with a clear remark at the
//! warning ratio, reads continue, a real ENOSPC never acknowledges a message it did not store,
//! and writes resume once space returns.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, Flow, NamesrvProc};
use rmq_protocol::header::send::{SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Every hour of the day: time-based retention may run at any check.
const ALL_HOURS: &str = "00;01;02;03;04;05;06;07;08;09;10;11;12;13;14;15;16;17;18;19;20;21;22;23";

/// A blocking admin connection to one broker.
struct Admin {
    rt: tokio::runtime::Runtime,
    client: RemotingClient,
    addr: String,
}

impl Admin {
    fn new(addr: &str) -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt.block_on(async { RemotingClient::new(ClientConfig::default()) });
        Self {
            rt,
            client,
            addr: addr.to_owned(),
        }
    }

    fn invoke(&self, req: RemotingCommand) -> RemotingCommand {
        let call = self.client.invoke(&self.addr, req, Duration::from_secs(5));
        self.rt.block_on(call).unwrap()
    }

    /// GET_BROKER_RUNTIME_INFO as a map.
    fn info(&self) -> HashMap<String, String> {
        let r = self.invoke(RemotingCommand::request(rc::GET_BROKER_RUNTIME_INFO));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        serde_json::from_value(v["table"].clone()).unwrap()
    }

    fn info_num(&self, key: &str) -> i64 {
        self.info()
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1)
    }

    /// UPDATE_BROKER_CONFIG with `body` (properties text), as mqadmin sends it.
    fn update_config(&self, body: &str) -> RemotingCommand {
        let req = RemotingCommand::request(rc::UPDATE_BROKER_CONFIG).with_body(body.to_owned());
        self.invoke(req)
    }

    /// The value of `key` in GET_BROKER_CONFIG.
    fn config(&self, key: &str) -> Option<String> {
        let r = self.invoke(RemotingCommand::request(rc::GET_BROKER_CONFIG));
        String::from_utf8_lossy(&r.body).lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k == key).then(|| v.to_owned())
        })
    }

    /// One SEND_MESSAGE_V2 of `body` to queue 0 of `topic`.
    fn send(&self, topic: &str, body: Vec<u8>) -> RemotingCommand {
        let h = SendMessageRequestHeaderV2 {
            producer_group: "retention-p".into(),
            topic: topic.into(),
            default_topic: Some("TBW102".into()),
            default_topic_queue_nums: Some(1),
            queue_id: 0,
            ..Default::default()
        };
        self.invoke(RemotingCommand::request_with(rc::SEND_MESSAGE_V2, &h).with_body(body))
    }
}

/// Polls `f` every 200 ms until it holds or `secs` pass.
fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {secs} s waiting for {what}");
}

#[test]
fn java_consumer_continues_through_a_retention_pass() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(
        &ns.addr,
        opts(&[
            ("mappedFileSizeCommitLog", "65536"),
            ("deleteWhen", ALL_HOURS),
            ("fileReservedTime", "1000"),
            ("cleanResourceInterval", "300"),
            ("deleteCommitLogFilesInterval", "0"),
            ("deleteFileBatchMax", "100"),
        ]),
    );
    let admin = Admin::new(&broker.addr);
    let (topic, group) = ("RetentionJava", "retention-java");
    create_topic(&broker.addr, topic, 2);
    warm_group(&broker.addr, group, topic);
    let flow = |prefix| Flow {
        client: Client::Java5,
        ns: &ns.addr,
        topic,
        prefix,
    };
    // The group reads a first batch and commits its offsets.
    flow("a").produce(0, 10, "").assert_ok();
    let c = flow("a").consume("consume", group, 10, "--timeout-ms 60000");
    c.assert_ok();
    assert_eq!(c.num("distinct"), 10, "{}", c.json);
    // Many more messages than one 64 KiB segment holds, while the group is away.
    flow("b").produce(0, 600, "--body-size 1024").assert_ok();
    // Retention on at runtime: one-second-old segments go.
    let r = admin.update_config("fileReservedTime=0.0003\n");
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    assert_eq!(admin.config("fileReservedTime").as_deref(), Some("0.0003"));
    wait_for("retention to delete segments", 60, || {
        admin.info_num("retentionDeletedSegments") >= 5
    });
    assert!(admin.info_num("commitLogMinOffset") > 0);
    // The group comes back: its committed offsets are below every queue's minimum now.
    flow("c").produce(0, 20, "").assert_ok();
    let c = flow("c").consume("consume", group, 20, "--timeout-ms 90000");
    c.assert_ok();
    assert_eq!(
        c.num("distinct"),
        20,
        "every new message arrives: {}",
        c.json
    );
    assert!(
        admin.info_num("retentionSkippedMessages") > 0,
        "skipped messages are counted: {:?}",
        admin.info()
    );
    assert!(broker.log().contains("consumer fell behind retention"));
    assert!(
        broker
            .log()
            .contains("retention deleted old commit-log segments")
    );
}

#[test]
fn runtime_updates_refuse_keys_that_need_a_restart() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let admin = Admin::new(&broker.addr);
    let r = admin.update_config("deleteWhen=05\nbrokerPermission=4\nmaxMessageSize=1048576\n");
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    let remark = r.remark.unwrap_or_default();
    assert!(
        remark.contains("maxMessageSize") && remark.contains("restart"),
        "{remark}"
    );
    assert_eq!(
        admin.config("deleteWhen").as_deref(),
        Some("04"),
        "nothing changed"
    );
    assert_eq!(
        admin.config("brokerPermission").as_deref(),
        Some("6"),
        "nothing changed, not even the runtime key next to it"
    );
    let r = admin.update_config("deleteWhen=25\n");
    assert_eq!(r.code, response_code::SYSTEM_ERROR);
    assert!(r.remark.unwrap_or_default().contains("00-23"));
    let r = admin.invoke(RemotingCommand::request(rc::DELETE_EXPIRED_COMMITLOG));
    assert_eq!(r.code, response_code::SUCCESS);
    let r = admin.invoke(RemotingCommand::request(rc::CLEAN_EXPIRED_CONSUMEQUEUE));
    assert_eq!(r.code, response_code::SUCCESS);
}

/// A tmpfs of `mib` MiB mounted on a temporary directory; unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None` (with the reason printed) when this process may not mount.
    fn mount(mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "rmq-e2e-disk"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!(
                "SKIP: cannot mount a tmpfs here (needs root); the disk-full test did not run"
            );
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with a ballast file of `mib` MiB (what fits).
    fn ballast(&self, name: &str, mib: u32) -> PathBuf {
        let p = self.path().join(name);
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=1M", &format!("count={mib}")])
            .arg(format!("of={}", p.display()))
            .stderr(std::process::Stdio::null())
            .status();
        p
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers() {
    let Some(disk) = SmallDisk::mount(48) else {
        return;
    };
    let ns = NamesrvProc::start();
    let mut o = opts(&[
        ("mappedFileSizeCommitLog", "1048576"),
        ("diskSpaceWarningLevelRatio", "60"),
        ("diskMaxUsedSpaceRatio", "95"),
        ("diskSpaceCleanForciblyRatio", "99"),
        ("cleanResourceInterval", "200"),
        ("deleteWhen", "00"),
    ]);
    o.store_dir = Some(disk.path().join("store"));
    let mut broker = BrokerProc::start(&ns.addr, o);
    let admin = Admin::new(&broker.addr);
    let topic = "DiskFull";
    let ok = admin.send(topic, b"before".to_vec());
    assert_eq!(ok.code, response_code::SUCCESS, "{:?}", ok.remark);
    // Above the warning ratio: refused with a remark that says why, reads continue.
    let ballast = disk.ballast("ballast", 30);
    wait_for("the broker to see the full disk", 10, || {
        admin.info().get("diskFull").map(String::as_str) == Some("true")
    });
    let refused = admin.send(topic, b"refused".to_vec());
    assert_eq!(refused.code, response_code::SERVICE_NOT_AVAILABLE);
    let remark = refused.remark.unwrap_or_default();
    assert!(remark.contains("disk is full"), "{remark}");
    assert!(admin.info_num("commitLogMaxOffset") > 0, "reads continue");
    // Space returns: writes resume.
    std::fs::remove_file(&ballast).unwrap();
    wait_for("writes to resume", 10, || {
        admin.send(topic, b"after".to_vec()).code == response_code::SUCCESS
    });
    // A real ENOSPC: the warning ratio out of the way, the disk filled to the last byte.
    let r = admin.update_config("diskSpaceWarningLevelRatio=99\ndiskMaxUsedSpaceRatio=95\n");
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    wait_for("writes accepted at 99%", 10, || {
        admin.info().get("diskFull").is_none_or(|v| v != "true")
    });
    disk.ballast("ballast2", 64);
    let (acked, failed) = send_until_failures(&admin, topic, 200);
    assert!(
        failed > 0,
        "the full disk must refuse some writes ({acked} acknowledged)"
    );
    // Every acknowledged message survives a kill -9 and a restart on the full disk.
    broker.kill9();
    std::fs::remove_file(disk.path().join("ballast2")).unwrap();
    broker.start_again();
    let admin = Admin::new(&broker.addr);
    let max = admin.info_num("commitLogMaxOffset");
    assert!(max > 0, "the store reopened: {:?}", admin.info());
    let after = admin.send(topic, b"after-restart".to_vec());
    assert_eq!(after.code, response_code::SUCCESS, "{:?}", after.remark);
    // Queue 0 held "before", "after" and the acknowledged ones: nothing lost, nothing extra.
    let h: SendMessageResponseHeader = after.header().unwrap();
    assert_eq!(h.queue_offset, 2 + acked as i64, "acknowledged {acked}");
    eprintln!("disk full: {acked} acknowledged, {failed} refused; store reopened at {max}");
}

/// Sends 64 KiB messages until `max` were tried; counts (acknowledged, refused).
fn send_until_failures(admin: &Admin, topic: &str, max: usize) -> (usize, usize) {
    let (mut acked, mut failed) = (0, 0);
    for i in 0..max {
        let r = admin.send(topic, vec![b'x'; 64 * 1024]);
        if r.code == response_code::SUCCESS {
            acked += 1;
        } else {
            failed += 1;
            assert_eq!(
                r.code,
                response_code::SERVICE_NOT_AVAILABLE,
                "message {i}: {:?}",
                r.remark
            );
            if failed >= 5 {
                break;
            }
        }
    }
    (acked, failed)
}

#[test]
fn a_slave_behind_the_masters_retention_catches_up() {
    let ns = NamesrvProc::start();
    let retention = [
        ("mappedFileSizeCommitLog", "65536"),
        ("deleteWhen", ALL_HOURS),
        ("fileReservedTime", "1000"),
        ("cleanResourceInterval", "300"),
        ("deleteCommitLogFilesInterval", "0"),
        ("deleteFileBatchMax", "100"),
    ];
    let mut m = opts(&retention);
    m.name = "broker-r".into();
    m.set.push(("brokerRole".into(), "ASYNC_MASTER".into()));
    let mut master = BrokerProc::start(&ns.addr, m);
    let mut s = opts(&retention);
    s.name = "broker-r".into();
    s.set.push(("brokerId".into(), "1".into()));
    s.set.push(("brokerRole".into(), "SLAVE".into()));
    let mut slave = BrokerProc::start(&ns.addr, s);
    let (ma, sa) = (Admin::new(&master.addr), Admin::new(&slave.addr));
    let in_sync = |ma: &Admin, sa: &Admin| {
        ma.info_num("commitLogMaxOffset") == sa.info_num("commitLogMaxOffset")
    };
    let topic = "RetentionHa";
    create_topic(&master.addr, topic, 2);
    let flow = |prefix| Flow {
        client: Client::Java5,
        ns: &ns.addr,
        topic,
        prefix,
    };
    flow("a").produce(0, 20, "").assert_ok();
    wait_for("the slave to replicate", 30, || in_sync(&ma, &sa));
    // The slave is away while the master writes and retention deletes what it has not seen.
    let slave_end = sa.info_num("commitLogMaxOffset");
    slave.stop();
    flow("b").produce(0, 600, "--body-size 1024").assert_ok();
    let r = ma.update_config("fileReservedTime=0.0003\n");
    assert_eq!(r.code, response_code::SUCCESS, "{:?}", r.remark);
    wait_for("the master to delete past the slave's end", 60, || {
        ma.info_num("commitLogMinOffset") > slave_end
    });
    slave.start_again();
    let sa = Admin::new(&slave.addr);
    wait_for("the slave to catch up", 60, || in_sync(&ma, &sa));
    assert!(
        slave.log().contains("behind the master's oldest data"),
        "{}",
        slave.log()
    );
    // What is written now reaches the slave, which serves it once the master is gone.
    flow("c").produce(0, 10, "").assert_ok();
    wait_for("the slave to replicate the new messages", 30, || {
        in_sync(&ma, &sa)
    });
    let topic_config = |a: &Admin| {
        let h = rmq_protocol::header::topic::TopicRequestHeader {
            topic: topic.into(),
        };
        a.invoke(RemotingCommand::request_with(rc::GET_TOPIC_CONFIG, &h))
            .code
    };
    wait_for("the slave to have the topic (metadata sync)", 40, || {
        topic_config(&sa) == response_code::SUCCESS
    });
    master.kill9();
    let c = flow("c").consume("consume", "retention-ha", 10, "--timeout-ms 90000");
    assert_eq!(c.num("distinct"), 10, "{}\n{}", c.json, slave.log());
}
