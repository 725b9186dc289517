//! Process lifecycle: registration, routes and cluster info through the nameserver, broker
//! expiry, graceful SIGTERM (exit 0, unregistered), nameserver KV config.

#![allow(clippy::unwrap_used)]

use rmq_e2e::{BrokerOpts, BrokerProc, NamesrvProc};
use rmq_protocol::body::cluster::ClusterInfo;
use rmq_protocol::body::from_json;
use rmq_protocol::body::register::RegisterBrokerBody;
use rmq_protocol::body::route::TopicRouteData;
use rmq_protocol::body::topic_config::TopicConfig;
use rmq_protocol::header::namesrv::*;
use rmq_protocol::header::topic::CreateTopicRequestHeader;
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

async fn cluster(c: &RemotingClient, ns: &str) -> ClusterInfo {
    let r = c
        .invoke(ns, RemotingCommand::request(rc::GET_BROKER_CLUSTER_INFO), T)
        .await
        .unwrap();
    from_json("ClusterInfo", &r.body).unwrap()
}

async fn route(c: &RemotingClient, ns: &str, topic: &str) -> Option<TopicRouteData> {
    let req = RemotingCommand::request_with(
        rc::GET_ROUTEINFO_BY_TOPIC,
        &GetRouteInfoRequestHeader {
            topic: topic.into(),
            accept_standard_json_only: None,
        },
    );
    let r = c.invoke(ns, req, T).await.unwrap();
    (r.code == response_code::SUCCESS).then(|| from_json("route", &r.body).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn register_route_and_graceful_stop() {
    let ns = NamesrvProc::start();
    let mut broker = BrokerProc::start(&ns.addr, BrokerOpts::default());
    let c = RemotingClient::new(ClientConfig::default());
    let info = cluster(&c, &ns.addr).await;
    assert_eq!(
        info.master_addrs(Some("DefaultCluster")),
        vec![broker.addr.clone()]
    );

    // An admin-created topic shows up in the route at once (the broker re-registers).
    let req = RemotingCommand::request_with(
        rc::UPDATE_AND_CREATE_TOPIC,
        &CreateTopicRequestHeader {
            topic: "Routed".into(),
            read_queue_nums: 6,
            write_queue_nums: 6,
            perm: 6,
            ..Default::default()
        },
    );
    assert_eq!(
        c.invoke(&broker.addr, req, T).await.unwrap().code,
        response_code::SUCCESS
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let r = loop {
        if let Some(r) = route(&c, &ns.addr, "Routed").await {
            break r;
        }
        assert!(Instant::now() < deadline, "route never appeared");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r.queue_datas[0].write_queue_nums, 6);
    assert_eq!(r.broker_datas[0].master_addr(), Some(broker.addr.as_str()));

    // SIGTERM: exit 0 and unregistered.
    assert_eq!(broker.stop(), Some(0));
    assert!(cluster(&c, &ns.addr).await.broker_addr_table.is_empty());
    assert!(route(&c, &ns.addr, "Routed").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_brokers_expire_and_kv_config_works() {
    let ns = NamesrvProc::start();
    let c = RemotingClient::new(ClientConfig::default());
    let mut body = RegisterBrokerBody::default();
    body.topic_config_serialize_wrapper
        .topic_config_table
        .insert("Ghost".into(), TopicConfig::new("Ghost", 2));
    body.topic_config_serialize_wrapper.data_version.counter = 1;
    let req = RemotingCommand::request_with(
        rc::REGISTER_BROKER,
        &RegisterBrokerRequestHeader {
            broker_name: "ghost".into(),
            broker_addr: "127.0.0.9:10911".into(),
            cluster_name: "C".into(),
            ha_server_addr: "127.0.0.9:10912".into(),
            broker_id: 0,
            heartbeat_timeout_millis: Some(1000),
            ..Default::default()
        },
    )
    .with_body(rmq_protocol::body::to_json(&body));
    // Register through a client that is then dropped would unregister on close; keep it open.
    assert_eq!(
        c.invoke(&ns.addr, req, T).await.unwrap().code,
        response_code::SUCCESS
    );
    assert!(route(&c, &ns.addr, "Ghost").await.is_some());
    let deadline = Instant::now() + Duration::from_secs(15);
    while route(&c, &ns.addr, "Ghost").await.is_some() {
        assert!(Instant::now() < deadline, "silent broker never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let put = RemotingCommand::request_with(
        rc::PUT_KV_CONFIG,
        &PutKvConfigRequestHeader {
            namespace: "ORDER_TOPIC_CONFIG".into(),
            key: "T".into(),
            value: "b:4".into(),
        },
    );
    assert_eq!(
        c.invoke(&ns.addr, put, T).await.unwrap().code,
        response_code::SUCCESS
    );
    let get = RemotingCommand::request_with(
        rc::GET_KV_CONFIG,
        &KvConfigKeyRequestHeader {
            namespace: "ORDER_TOPIC_CONFIG".into(),
            key: "T".into(),
        },
    );
    let r = c.invoke(&ns.addr, get, T).await.unwrap();
    assert_eq!(
        r.header::<GetKvConfigResponseHeader>()
            .unwrap()
            .value
            .as_deref(),
        Some("b:4")
    );
    let missing = RemotingCommand::request_with(
        rc::GET_KV_CONFIG,
        &KvConfigKeyRequestHeader {
            namespace: "x".into(),
            key: "y".into(),
        },
    );
    assert_eq!(
        c.invoke(&ns.addr, missing, T).await.unwrap().code,
        response_code::QUERY_NOT_FOUND
    );
}
