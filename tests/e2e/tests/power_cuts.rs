//! Power loss, not kill -9: the broker's store lives on rmq-powerfs (tests/powerfs), a FUSE
//! filesystem that, at a cut, keeps only what fsync made durable (file data) and what a
//! directory fsync made durable (entries), and that can fail an fsync and lose its pages. An
//! unmodified Java producer sends while the power goes out again and again; afterwards an
//! unmodified Java consumer must read every message that was acknowledged SEND_OK.
//!
//! - SYNC_FLUSH: several cuts under traffic, 0 acknowledged messages lost, none corrupt.
//! - ASYNC_FLUSH: the loss is reported and is not zero (the test can see loss).
//! - A failing fsync: sends fail from then on; no acknowledged message is lost.
//! - Metadata: topics, subscription groups, committed offsets and delayed messages
//!   acknowledged before a cut are there after it; prepared transaction halves are checked
//!   back after it.
//! - The slave's store: cut under replication, it recovers and catches up, and a consumer
//!   reading from it alone gets every acknowledged message.

#![allow(clippy::unwrap_used)]

#[path = "power_cuts/cycle.rs"]
mod cycle;

use cycle::{Producer, consume_all, on_volume, power_cut};
use rmq_e2e::admin::poll_until;
use rmq_e2e::powerfs::PowerFs;
use rmq_e2e::{Admin, BrokerOpts, BrokerProc, Client, NamesrvProc, run_line, wait_until};
use std::time::Duration;

/// Power cuts per SYNC_FLUSH run.
const CYCLES: usize = 6;
/// Traffic between two cuts.
const BETWEEN_CUTS: Duration = Duration::from_secs(3);
/// Bound on reading back everything acknowledged.
const READ_ALL: Duration = Duration::from_secs(120);
/// Reading back after ASYNC_FLUSH: some acknowledged messages are gone, so the consumer never
/// reaches the acknowledged count; everything there arrives well within this.
const ASYNC_READ: Duration = Duration::from_secs(20);

#[test]
fn sync_flush_loses_no_acknowledged_message_across_power_cuts() {
    let mut fs = PowerFs::mount();
    let ns = NamesrvProc::start();
    let mut broker = BrokerProc::start(&ns.addr, on_volume(&fs, "SYNC_FLUSH", &[]));
    let admin = Admin::new();
    assert_eq!(admin.create_topic(&broker.addr, "PowerSync", 4), Some(0));
    let run = BETWEEN_CUTS * (CYCLES as u32 + 1) + Duration::from_secs(4);
    let producer = Producer::start(&ns.addr, "PowerSync", "ps", run);
    for _ in 0..CYCLES {
        std::thread::sleep(BETWEEN_CUTS);
        let stats = power_cut(&mut broker, &mut fs);
        eprintln!("power cut: {stats}");
    }
    let acked = producer.finish();
    assert!(
        acked.len() >= 100 * CYCLES,
        "too few acknowledgments to prove anything: {}",
        acked.len()
    );
    let lost = consume_all(&ns.addr, "PowerSync", "ps", &acked, READ_ALL);
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost across {CYCLES} power cuts: first {:?}\n{}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)],
        broker.log()
    );
    eprintln!(
        "SYNC_FLUSH: {} acknowledged, 0 lost, {CYCLES} power cuts",
        acked.len()
    );
}

#[test]
fn async_flush_loss_is_reported() {
    let mut fs = PowerFs::mount();
    let ns = NamesrvProc::start();
    // Flushes far apart: whatever was sent since the last one is in no durable place.
    let slow = [("flushIntervalCommitLog", "60000")];
    let mut broker = BrokerProc::start(&ns.addr, on_volume(&fs, "ASYNC_FLUSH", &slow));
    let admin = Admin::new();
    assert_eq!(admin.create_topic(&broker.addr, "PowerAsync", 4), Some(0));
    // The producer keeps sending after the cut (to the restarted broker): only what was sent
    // before it can be lost.
    let producer = Producer::start(&ns.addr, "PowerAsync", "pa", Duration::from_secs(10));
    std::thread::sleep(BETWEEN_CUTS * 2);
    power_cut(&mut broker, &mut fs);
    let acked = producer.finish();
    let lost = consume_all(&ns.addr, "PowerAsync", "pa", &acked, ASYNC_READ);
    eprintln!(
        "ASYNC_FLUSH: {} of {} acknowledged messages lost in one power cut (expected: not 0)",
        lost.len(),
        acked.len()
    );
    assert!(
        !lost.is_empty(),
        "ASYNC_FLUSH lost nothing in a power cut 3 s after a 60 s flush interval started: \
         the test cannot see loss ({} acknowledged)",
        acked.len()
    );
}

#[test]
fn a_failed_fsync_fails_sends_and_loses_no_acknowledgment() {
    let mut fs = PowerFs::mount();
    let ns = NamesrvProc::start();
    let mut broker = BrokerProc::start(&ns.addr, on_volume(&fs, "SYNC_FLUSH", &[]));
    let admin = Admin::new();
    assert_eq!(admin.create_topic(&broker.addr, "PowerEio", 4), Some(0));
    let producer = Producer::start(&ns.addr, "PowerEio", "pe", Duration::from_secs(14));
    std::thread::sleep(BETWEEN_CUTS);
    // The commit log's next fsync fails (a metadata file's would only fail that table's write).
    fs.fail_fsyncs_in(1, "commitlog");
    wait_until(
        "the broker reports its store failed",
        Duration::from_secs(20),
        || admin.key(&broker.addr, "storeFailed") == "true",
    );
    let log = broker.log();
    assert!(
        log.matches("fsync").count() <= 5,
        "the fsync failure is logged once (rate limited), not in a loop:\n{log}"
    );
    std::thread::sleep(Duration::from_secs(2));
    power_cut(&mut broker, &mut fs);
    let (acked, result) = producer.finish_with_result();
    assert!(
        result.num("failed") > 0,
        "sends after the failed fsync must fail: {}",
        result.json
    );
    let stats = fs.stats();
    assert_eq!(stats["failedSyncs"], 1, "{stats}");
    let lost = consume_all(&ns.addr, "PowerEio", "pe", &acked, READ_ALL);
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost after a failed fsync: first {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)]
    );
}

#[test]
fn metadata_acknowledged_before_a_cut_is_there_after_it() {
    let mut fs = PowerFs::mount();
    let ns = NamesrvProc::start();
    let offsets_every = [("flushConsumerOffsetInterval", "500")];
    let mut broker = BrokerProc::start(&ns.addr, on_volume(&fs, "SYNC_FLUSH", &offsets_every));
    let admin = Admin::new();
    for cycle in 0..3 {
        let (topic, group) = (format!("PowerMeta{cycle}"), format!("power-meta-{cycle}"));
        assert_eq!(admin.create_topic(&broker.addr, &topic, 2), Some(0));
        assert_eq!(admin.create_group(&broker.addr, &group), Some(0));
        let offset = 100 + cycle as i64;
        assert_eq!(
            admin.commit_offset(&broker.addr, &group, &topic, 1, offset),
            Some(0)
        );
        // Offsets are written every 500 ms: wait for one write, then cut.
        std::thread::sleep(Duration::from_millis(1500));
        power_cut(&mut broker, &mut fs);
        for earlier in 0..=cycle {
            let (t, g) = (
                format!("PowerMeta{earlier}"),
                format!("power-meta-{earlier}"),
            );
            assert!(
                admin.has_topic(&broker.addr, &t),
                "topic {t} lost in a power cut"
            );
            assert!(
                admin.has_group(&broker.addr, &g),
                "group {g} lost in a power cut"
            );
            assert_eq!(
                admin.committed_offset(&broker.addr, &g, &t, 1),
                Some(100 + earlier as i64),
                "committed offset of {g} lost in a power cut"
            );
        }
    }
    // Delayed messages: acknowledged, then the power goes out before they are due.
    let r = run_line(
        Client::Java5,
        &format!(
            "produce --namesrv {} --topic PowerDelay --count 20 --prefix pd --delay-level 2 --send-timeout-ms 10000",
            ns.addr
        ),
    );
    r.assert_ok();
    power_cut(&mut broker, &mut fs);
    let c = run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {} --topic PowerDelay --group power-delay --prefix pd --expect 20 --timeout-ms 60000",
            ns.addr
        ),
    );
    assert_eq!(
        c.num("distinct"),
        20,
        "delayed messages after a cut: {}",
        c.json
    );
}

#[test]
fn a_slave_store_survives_power_cuts_and_serves_everything() {
    let mut fs = PowerFs::mount();
    let ns = NamesrvProc::start();
    let name = "broker-pl";
    let mut master_opts = BrokerOpts {
        name: name.into(),
        ..BrokerOpts::default()
    };
    // Master and slave must agree on the segment size (on_volume's 1 MiB).
    master_opts.set = vec![("mappedFileSizeCommitLog".into(), "1048576".into())];
    master_opts
        .set
        .push(("brokerRole".into(), "SYNC_MASTER".into()));
    master_opts
        .set
        .push(("flushDiskType".into(), "SYNC_FLUSH".into()));
    let mut master = BrokerProc::start(&ns.addr, master_opts);
    let mut slave_opts = on_volume(
        &fs,
        "SYNC_FLUSH",
        &[("brokerId", "1"), ("brokerRole", "SLAVE")],
    );
    slave_opts.name = name.into();
    let mut slave = BrokerProc::start(&ns.addr, slave_opts);
    let admin = Admin::new();
    wait_until("the slave connects", Duration::from_secs(30), || {
        admin.key(&slave.addr, "haClientConnected") == "true"
    });
    assert_eq!(admin.create_topic(&master.addr, "PowerSlave", 4), Some(0));
    let producer = Producer::start(&ns.addr, "PowerSlave", "pl", Duration::from_secs(16));
    for _ in 0..3 {
        std::thread::sleep(BETWEEN_CUTS);
        power_cut(&mut slave, &mut fs);
    }
    let acked = producer.finish();
    let master_max = admin.key(&master.addr, "commitLogMaxOffset");
    let caught_up = poll_until("the slave has caught up", Duration::from_secs(60), || {
        admin.key(&slave.addr, "commitLogMaxOffset") == master_max
    });
    assert!(
        caught_up,
        "the slave did not catch up with the master ({master_max}) after its power cuts: {}\n{}",
        admin.key(&slave.addr, "commitLogMaxOffset"),
        slave.log()
    );
    wait_until("the slave has the topic", Duration::from_secs(30), || {
        admin.has_topic(&slave.addr, "PowerSlave")
    });
    master.kill9();
    let lost = consume_all(&ns.addr, "PowerSlave", "pl", &acked, READ_ALL);
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages missing from the slave after 3 power cuts: {:?}\n{}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)],
        slave.log()
    );
}

#[test]
fn transaction_halves_acknowledged_before_a_cut_are_checked_back_after_it() {
    let mut fs = PowerFs::mount();
    let ns = NamesrvProc::start();
    let check_often = [("transactionCheckInterval", "2000")];
    let mut broker = BrokerProc::start(&ns.addr, on_volume(&fs, "SYNC_FLUSH", &check_often));
    let admin = Admin::new();
    assert_eq!(admin.create_topic(&broker.addr, "PowerTx", 4), Some(0));
    // 30 prepared halves, acknowledged; the producer leaves without deciding.
    let line = |extra: &str| {
        format!(
            "produce --namesrv {} --topic PowerTx --group power-tx --mode transaction --prefix ptx {extra}",
            ns.addr
        )
    };
    run_line(
        Client::Java5,
        &line("--tx unknown --check unknown --count 30"),
    )
    .assert_ok();
    power_cut(&mut broker, &mut fs);
    // The broker asks the group's next producer about every half; it answers commit.
    let b = run_line(
        Client::Java5,
        &line(
            "--tx commit --check commit --count 1 --start 30 --wait-checks 30 --timeout-ms 90000",
        ),
    );
    b.assert_ok();
    let c = run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {} --topic PowerTx --group power-tx-c --prefix ptx --expect 31 --linger-ms 2000 --timeout-ms 60000",
            ns.addr
        ),
    );
    assert_eq!(
        c.num("distinct"),
        31,
        "halves lost in a power cut: {}",
        c.json
    );
    assert_eq!(c.num("duplicates"), 0, "{}", c.json);
}
