//! `brokerPermission` changed at runtime (what the operator does to a group it drains before
//! removing it): UPDATE_BROKER_CONFIG `brokerPermission=4` makes the broker read-only at once —
//! GET_BROKER_CONFIG reports it, the nameserver's route loses the write bit (the broker
//! registers again right away), an unmodified Java producer's sends are refused with
//! NO_PERMISSION, a Java consumer still reads everything — and `6` makes it writable again.
//! Values that are not a permission are refused and change nothing.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::{Admin, BrokerProc, Client, NamesrvProc, wait_until};
use rmq_protocol::header::namesrv::GetRouteInfoRequestHeader;
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::time::Duration;

fn set_permission(admin: &Admin, broker: &str, value: &str) -> RemotingCommand {
    let body = format!("brokerPermission={value}\n");
    let req = RemotingCommand::request(rc::UPDATE_BROKER_CONFIG).with_body(body);
    admin.invoke(broker, req).unwrap()
}

fn config_permission(admin: &Admin, broker: &str) -> String {
    let r = admin
        .invoke(broker, RemotingCommand::request(rc::GET_BROKER_CONFIG))
        .unwrap();
    String::from_utf8_lossy(&r.body)
        .lines()
        .find_map(|l| l.strip_prefix("brokerPermission=").map(str::to_owned))
        .unwrap_or_default()
}

/// The perm of the topic's queue data in the nameserver's route.
fn route_perm(admin: &Admin, ns: &str, topic: &str) -> i64 {
    let req = RemotingCommand::request_with(
        rc::GET_ROUTEINFO_BY_TOPIC,
        &GetRouteInfoRequestHeader {
            topic: topic.to_owned(),
            accept_standard_json_only: None,
        },
    );
    let r = admin.invoke(ns, req).unwrap();
    assert_eq!(r.code, response_code::SUCCESS, "{}", r.remark_str());
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    v["queueDatas"][0]["perm"].as_i64().unwrap()
}

#[test]
fn a_read_only_broker_refuses_sends_serves_reads_and_leaves_write_routes() {
    let ns = NamesrvProc::start();
    let broker = BrokerProc::start(&ns.addr, rmq_e2e::BrokerOpts::default());
    let admin = Admin::new();
    create_topic(&broker.addr, "ReadOnly", 4);
    let produce = |prefix: &str| {
        run(
            Client::Java5,
            &format!(
                "produce --namesrv {} --topic ReadOnly --count 20 --prefix {prefix} --timeout-ms 20000",
                ns.addr
            ),
        )
    };
    produce("before").assert_ok();

    let bad = set_permission(&admin, &broker.addr, "5");
    assert_ne!(bad.code, response_code::SUCCESS);
    assert!(
        bad.remark_str()
            .contains("use 6 (read and write), 4 (read only)"),
        "{}",
        bad.remark_str()
    );
    assert_eq!(
        config_permission(&admin, &broker.addr),
        "6",
        "a refused value changes nothing"
    );

    let r = set_permission(&admin, &broker.addr, "4");
    assert_eq!(r.code, response_code::SUCCESS, "{}", r.remark_str());
    assert_eq!(config_permission(&admin, &broker.addr), "4");
    wait_until(
        "the route loses the write bit",
        Duration::from_secs(10),
        || route_perm(&admin, &ns.addr, "ReadOnly") == 4,
    );
    let refused = produce("during");
    assert_eq!(refused.num("sent"), 0, "{}", refused.json);
    assert!(
        refused.json.to_string().contains("forbidden")
            || refused.json.to_string().contains("No route"),
        "{}",
        refused.json
    );
    let c = run(
        Client::Java5,
        &format!(
            "consume --namesrv {} --topic ReadOnly --group ro-readers --prefix before --expect 20 --timeout-ms 60000",
            ns.addr
        ),
    );
    c.assert_ok();
    assert_eq!(c.num("distinct"), 20, "reads go on: {}", c.json);

    let r = set_permission(&admin, &broker.addr, "6");
    assert_eq!(r.code, response_code::SUCCESS);
    wait_until(
        "the route is writable again",
        Duration::from_secs(10),
        || route_perm(&admin, &ns.addr, "ReadOnly") == 6,
    );
    produce("after").assert_ok();
}
