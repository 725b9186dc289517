//! Reads in controller mode stop at what every in-sync replica holds (RocketMQ 5's confirm
//! offset). A record stored on the master alone can vanish in a failover; a consumer that had
//! read it would then skip the queue offset the next master gives to another message (a k8s
//! failover run lost two acknowledged messages that way). With the slave frozen but still in
//! the in-sync set, a record the master stored (and did not acknowledge) is invisible: the
//! queue's max offset does not move and a pull at the end finds nothing. Once the master drops
//! the lagging slave from the set the record shows; once the slave is back in sync, reads
//! follow the acknowledgments again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rmq_e2e::failover::{Cluster, Frozen, send_direct};
use rmq_e2e::{Admin, wait_until};
use rmq_protocol::header::offset::GetMaxOffsetRequestHeader;
use rmq_protocol::header::pull::{PULL_FLAG_SUBSCRIPTION, PullMessageRequestHeader};
use rmq_protocol::{RemotingCommand, request_code, response_code as code};
use std::time::{Duration, Instant};

const GROUP: &str = "broker-cr";
const TOPIC: &str = "ConfirmTopic";
const PREFIX: &str = "cr";
/// The master drops a slave that has not caught up for this long.
const NOT_CATCHUP_MS: u64 = 8000;

/// GET_MAX_OFFSET of queue 0 of the topic on `addr`.
fn max_offset(admin: &Admin, addr: &str) -> i64 {
    let h = GetMaxOffsetRequestHeader {
        topic: TOPIC.into(),
        queue_id: 0,
        committed: None,
    };
    let r = admin
        .invoke(
            addr,
            RemotingCommand::request_with(request_code::GET_MAX_OFFSET, &h),
        )
        .expect("GET_MAX_OFFSET answered");
    assert_eq!(r.code, code::SUCCESS, "{:?}", r.remark);
    rmq_e2e::controller::field(&r, "offset").parse().unwrap()
}

/// One pull of queue 0 from `offset` (no suspension): the response code and the bodies.
fn pull(admin: &Admin, addr: &str, offset: i64) -> (i32, Vec<String>) {
    let h = PullMessageRequestHeader {
        consumer_group: "confirm-reader".into(),
        topic: TOPIC.into(),
        queue_id: 0,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: PULL_FLAG_SUBSCRIPTION,
        subscription: Some("*".into()),
        ..Default::default()
    };
    let req = RemotingCommand::request_with(request_code::PULL_MESSAGE, &h);
    let r = admin.invoke(addr, req).expect("PULL_MESSAGE answered");
    let bodies = match r.code {
        code::SUCCESS => rmq_protocol::message::decode_messages(&r.body)
            .unwrap()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.body).into_owned())
            .collect(),
        _ => Vec::new(),
    };
    (r.code, bodies)
}

#[test]
fn consumers_see_only_what_every_in_sync_replica_holds() {
    let not_catchup = NOT_CATCHUP_MS.to_string();
    let extra = [
        ("allAckInSyncStateSet", "true"),
        ("haMaxTimeSlaveNotCatchup", not_catchup.as_str()),
    ];
    let c = Cluster::start(GROUP, TOPIC, PREFIX, &extra);
    c.wait_in_sync("the slave joins the in-sync set");
    let master = c.brokers[0].addr.clone();
    // index 0 goes to queue 0 and both brokers hold it: visible
    assert_eq!(
        send_direct(&c.admin, &master, TOPIC, PREFIX, 0),
        Some(code::SUCCESS)
    );
    assert_eq!(pull(&c.admin, &master, 0).1, ["cr-0"]);
    assert_eq!(max_offset(&c.admin, &master), 1);

    let slave_id = c.id_of(1);
    let mut frozen = Frozen::freeze(c.brokers[1].pid());
    let frozen_at = Instant::now();
    let answer = send_direct(&c.admin, &master, TOPIC, PREFIX, 4);
    assert_ne!(
        answer,
        Some(code::SUCCESS),
        "acknowledged without the frozen slave"
    );
    let mut checks = 0;
    while c.view().in_sync.contains(&slave_id) {
        assert_eq!(
            max_offset(&c.admin, &master),
            1,
            "the max offset shows a record only the master holds ({:?} after the freeze)",
            frozen_at.elapsed()
        );
        let (got, bodies) = pull(&c.admin, &master, 1);
        assert_eq!(
            (got, bodies.len()),
            (code::PULL_NOT_FOUND, 0),
            "a pull read a record only the master holds: {bodies:?} ({:?} after the freeze)",
            frozen_at.elapsed()
        );
        checks += 1;
        assert!(
            frozen_at.elapsed() < Duration::from_secs(60),
            "the slave stays in sync"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "CONFIRM: invisible for {checks} checks; the slave left the in-sync set {:?} after the \
         freeze (answer to the send: {answer:?})",
        frozen_at.elapsed()
    );
    assert!(checks >= 3, "only {checks} checks before the set changed");
    wait_until(
        "the record shows once the master is alone in the set",
        Duration::from_secs(10),
        || pull(&c.admin, &master, 1).1 == ["cr-4"],
    );
    assert_eq!(max_offset(&c.admin, &master), 2);

    frozen.thaw();
    c.wait_in_sync("the thawed slave rejoins the in-sync set");
    assert_eq!(
        send_direct(&c.admin, &master, TOPIC, PREFIX, 8),
        Some(code::SUCCESS)
    );
    wait_until(
        "the acknowledged record shows",
        Duration::from_secs(10),
        || pull(&c.admin, &master, 2).1 == ["cr-8"],
    );
}
