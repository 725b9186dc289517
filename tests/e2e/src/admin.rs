//! Blocking admin calls from a test thread: runtime info, topics, groups, consumer offsets
//! (what `mqadmin` does, through rmq-protocol's client).

use rmq_acl::Credentials;
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::to_json;
use rmq_protocol::header::offset::{
    OffsetResponseHeader, QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::header::topic::CreateTopicRequestHeader;
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An admin client with its own runtime; every call blocks (3 s timeout). Requests are
/// unsigned unless made with [`Admin::signed`].
pub struct Admin {
    rt: tokio::runtime::Runtime,
    client: Arc<RemotingClient>,
    credentials: Option<Credentials>,
}

impl Default for Admin {
    fn default() -> Self {
        Self::new()
    }
}

impl Admin {
    /// A client with no connection yet.
    pub fn new() -> Self {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt.block_on(async { Arc::new(RemotingClient::new(ClientConfig::default())) });
        Self {
            rt,
            client,
            credentials: None,
        }
    }

    /// A client that signs every request as Java's `AclClientRPCHook` does (brokers with
    /// `aclEnable=true`).
    pub fn signed(access_key: &str, secret_key: &str) -> Self {
        Self {
            credentials: Some(Credentials::new(access_key, secret_key)),
            ..Self::new()
        }
    }

    /// Adds `AccessKey` and `Signature` to `req` when this client has credentials.
    pub fn sign(&self, mut req: RemotingCommand) -> RemotingCommand {
        if let Some(c) = &self.credentials {
            c.sign_command(&mut req).expect("a non-empty secret key");
        }
        req
    }

    /// Sends `req` to `addr`; `None` if the broker did not answer (the connection is dropped,
    /// so the next call reconnects, e.g. after a restart).
    pub fn invoke(&self, addr: &str, req: RemotingCommand) -> Option<RemotingCommand> {
        let req = self.sign(req);
        let resp = self
            .rt
            .block_on(self.client.invoke(addr, req, Duration::from_secs(3)));
        match resp {
            Ok(r) => Some(r),
            Err(_) => {
                self.client.close(addr);
                None
            }
        }
    }

    /// A request without header; `Some` only for SUCCESS.
    pub fn call(&self, addr: &str, code: i32) -> Option<RemotingCommand> {
        self.invoke(addr, RemotingCommand::request(code))
            .filter(|r| r.code == response_code::SUCCESS)
    }

    /// GET_BROKER_RUNTIME_INFO as a map (empty if the broker does not answer).
    pub fn info(&self, addr: &str) -> HashMap<String, String> {
        self.call(addr, rc::GET_BROKER_RUNTIME_INFO)
            .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.body).ok())
            .and_then(|v| serde_json::from_value(v["table"].clone()).ok())
            .unwrap_or_default()
    }

    /// One runtime-info value ("" if absent).
    pub fn key(&self, addr: &str, key: &str) -> String {
        self.info(addr).get(key).cloned().unwrap_or_default()
    }

    /// The broker's topic table (GET_ALL_TOPIC_CONFIG) names `topic`.
    pub fn has_topic(&self, addr: &str, topic: &str) -> bool {
        self.call(addr, rc::GET_ALL_TOPIC_CONFIG)
            .is_some_and(|r| String::from_utf8_lossy(&r.body).contains(&format!("\"{topic}\"")))
    }

    /// The broker's subscription-group table names `group`.
    pub fn has_group(&self, addr: &str, group: &str) -> bool {
        self.call(addr, rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG)
            .is_some_and(|r| String::from_utf8_lossy(&r.body).contains(&format!("\"{group}\"")))
    }

    /// UPDATE_AND_CREATE_TOPIC with `queues` read/write queues; the response code.
    pub fn create_topic(&self, addr: &str, topic: &str, queues: i32) -> Option<i32> {
        let h = CreateTopicRequestHeader {
            topic: topic.into(),
            default_topic: Some("TBW102".into()),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            topic_filter_type: None,
            topic_sys_flag: None,
            order: false,
            attributes: None,
        };
        let req = RemotingCommand::request_with(rc::UPDATE_AND_CREATE_TOPIC, &h);
        self.invoke(addr, req).map(|r| r.code)
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP with defaults; the response code.
    pub fn create_group(&self, addr: &str, group: &str) -> Option<i32> {
        let body = to_json(&SubscriptionGroupConfig::new(group));
        let req = RemotingCommand::request(rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).with_body(body);
        self.invoke(addr, req).map(|r| r.code)
    }

    /// UPDATE_CONSUMER_OFFSET; the response code.
    pub fn commit_offset(
        &self,
        addr: &str,
        group: &str,
        topic: &str,
        queue: i32,
        offset: i64,
    ) -> Option<i32> {
        let h = UpdateConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id: queue,
            commit_offset: offset,
        };
        let req = RemotingCommand::request_with(rc::UPDATE_CONSUMER_OFFSET, &h);
        self.invoke(addr, req).map(|r| r.code)
    }

    /// QUERY_CONSUMER_OFFSET; `None` if the broker has none (or did not answer).
    pub fn committed_offset(
        &self,
        addr: &str,
        group: &str,
        topic: &str,
        queue: i32,
    ) -> Option<i64> {
        let h = QueryConsumerOffsetRequestHeader {
            consumer_group: group.into(),
            topic: topic.into(),
            queue_id: queue,
            set_zero_if_not_found: Some(false),
        };
        let req = RemotingCommand::request_with(rc::QUERY_CONSUMER_OFFSET, &h);
        let resp = self.invoke(addr, req)?;
        if resp.code != response_code::SUCCESS {
            return None;
        }
        resp.header::<OffsetResponseHeader>().ok().map(|h| h.offset)
    }
}

/// Polls `done` every 200 ms until it holds; panics with `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, done: impl FnMut() -> bool) {
    assert!(
        poll_until(what, timeout, done),
        "timed out after {timeout:?} waiting until {what}"
    );
}

/// Polls `done` every 200 ms until it holds (`true`) or `timeout` passed (`false`).
pub fn poll_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("{what}: after {:?}", started.elapsed());
    true
}
