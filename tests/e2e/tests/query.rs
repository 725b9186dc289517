//! Message queries with unmodified Java clients: by key (QUERY_MESSAGE over the key index), by
//! the client's msgId (unique-key QUERY_MESSAGE) and by offset msgId (VIEW_MESSAGE_BY_ID) each
//! return the right message, also after a broker restart (the index is persisted).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use rmq_e2e::{BrokerOpts, BrokerProc, Client, NamesrvProc};

fn query(client: Client, ns: &str, topic: &str, by: &str, value: &str) -> serde_json::Value {
    let r = run(
        client,
        &format!("query --namesrv {ns} --topic {topic} {by} {value} --prefix q --timeout-ms 20000"),
    );
    r.assert_ok();
    let msgs = r.json["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(msgs.len(), 1, "{by} {value}: {}", r.json);
    msgs[0].clone()
}

fn query_suite(client: Client) {
    let ns = NamesrvProc::start();
    let mut broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let topic = format!("Query{client:?}");
    create_topic(&broker.addr, &topic, 4);
    let out = tempfile::NamedTempFile::new().unwrap();
    run(
        client,
        &format!(
            "produce --namesrv {} --topic {topic} --count 20 --keys --prefix q --tag TagQ --out {}",
            ns.addr,
            out.path().to_str().unwrap()
        ),
    )
    .assert_ok();
    let sent = out_lines(out.path());
    let line = |i: usize| sent.iter().find(|l| l[0] == i.to_string()).unwrap().clone();

    let m = query(client, &ns.addr, &topic, "--key", "q-7");
    assert_eq!(m["index"], 7, "{m}");
    assert_eq!(m["keys"], "q-7");
    assert_eq!(m["topic"], topic.as_str());
    assert_eq!(m["corrupt"], false);

    let twelve = line(12);
    let m = query(client, &ns.addr, &topic, "--msg-id", &twelve[1]);
    assert_eq!(m["index"], 12, "by msgId (unique key): {m}");
    assert_eq!(m["msgId"], twelve[1].as_str());

    let three = line(3);
    let m = query(client, &ns.addr, &topic, "--msg-id", &three[2]);
    assert_eq!(m["index"], 3, "by offset msgId: {m}");
    assert_eq!(m["tags"], "TagQ");

    broker.restart();
    let m = query(client, &ns.addr, &topic, "--key", "q-19");
    assert_eq!(m["index"], 19, "after a restart: {m}");
    let m = query(client, &ns.addr, &topic, "--msg-id", &line(0)[1]);
    assert_eq!(m["index"], 0, "after a restart: {m}");
}

#[test]
fn java_5_query_by_key_and_id() {
    query_suite(Client::Java5);
}

#[test]
fn java_4_9_query_by_key_and_id() {
    query_suite(Client::Java4);
}
