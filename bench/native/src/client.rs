//! What the driver says to a nameserver and a broker, as a RocketMQ client says it: route
//! lookup (GET_ROUTEINFO_BY_TOPIC), sends (SEND_MESSAGE_V2, SEND_BATCH_MESSAGE) to the master of
//! each queue, pulls (PULL_MESSAGE), consumer heartbeats (HEART_BEAT), and the admin calls of the
//! Java driver (cluster info, topic and subscription group creation, the broker's
//! `commitLogMaxOffset`). Works against Apache 4.9/5.x, rocketmq-rust
//! and rmq alike: only requests every one of them serves.

use bytes::Bytes;
use rmq_protocol::body::cluster::ClusterInfo;
use rmq_protocol::body::heartbeat::HeartbeatData;
use rmq_protocol::body::misc::KvTable;
use rmq_protocol::body::route::{TopicRouteData, perm};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::{from_json, to_json};
use rmq_protocol::header::namesrv::GetRouteInfoRequestHeader;
use rmq_protocol::header::pull::{
    PULL_FLAG_COMMIT_OFFSET, PULL_FLAG_SUBSCRIPTION, PULL_FLAG_SUSPEND, PullMessageRequestHeader,
    PullMessageResponseHeader,
};
use rmq_protocol::header::send::SendMessageRequestHeaderV2;
use rmq_protocol::header::topic::CreateTopicRequestHeader;
use rmq_protocol::message::{BatchItem, UniqKeyGenerator, decode_messages, encode_batch};
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code, response_code};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Send timeout, as the Java producer's default `sendMsgTimeout`.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(3);
/// Timeout of admin and route requests.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Producer group of every send (the Java driver's).
const PRODUCER_GROUP: &str = "bench_producer";

/// One queue of a topic and the master address serving it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRef {
    /// Broker group name.
    pub broker_name: Arc<str>,
    /// The group master's `host:port`.
    pub addr: Arc<str>,
    /// Queue id.
    pub queue_id: i32,
}

/// The queues of a route that allow writing (`write`) or reading (`!write`), broker by broker
/// as the route lists them; groups without a registered master are left out.
pub fn queues_of(route: &TopicRouteData, write: bool) -> Vec<QueueRef> {
    let mut out = Vec::new();
    for q in &route.queue_datas {
        let allowed = if write {
            perm::is_writeable(q.perm)
        } else {
            perm::is_readable(q.perm)
        };
        let addr = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == q.broker_name)
            .and_then(|b| b.master_addr());
        let (Some(addr), true) = (addr, allowed) else {
            continue;
        };
        let n = if write {
            q.write_queue_nums
        } else {
            q.read_queue_nums
        };
        let (name, addr): (Arc<str>, Arc<str>) = (q.broker_name.as_str().into(), addr.into());
        out.extend((0..n).map(|queue_id| QueueRef {
            broker_name: name.clone(),
            addr: addr.clone(),
            queue_id,
        }));
    }
    out
}

/// Describes a failed response: `code N NAME: remark`.
fn code_error(resp: &RemotingCommand) -> String {
    format!(
        "code {} {}: {}",
        resp.code,
        response_code::name(resp.code),
        resp.remark_str()
    )
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The connections of one driver process (one per address, shared by every sender, as the Java
/// client shares one Netty channel per broker).
pub struct Rmq {
    client: RemotingClient,
    /// Nameserver `host:port`.
    pub namesrv: String,
    keys: UniqKeyGenerator,
}

impl Rmq {
    /// A client of the nameserver `namesrv`.
    pub fn new(namesrv: &str) -> Self {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as i32);
        Self {
            client: RemotingClient::new(ClientConfig::default()),
            namesrv: namesrv.to_owned(),
            keys: UniqKeyGenerator::new(std::net::Ipv4Addr::LOCALHOST, std::process::id(), seed),
        }
    }

    /// Sends `req` to `addr`; a transport failure becomes its text.
    pub async fn invoke(
        &self,
        addr: &str,
        req: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand, String> {
        self.client
            .invoke(addr, req, timeout)
            .await
            .map_err(|e| e.to_string())
    }

    /// GET_BROKER_CLUSTER_INFO from the nameserver.
    pub async fn cluster_info(&self) -> Result<ClusterInfo, String> {
        let req = RemotingCommand::request(request_code::GET_BROKER_CLUSTER_INFO);
        let resp = self.invoke(&self.namesrv, req, ADMIN_TIMEOUT).await?;
        if resp.code != response_code::SUCCESS {
            return Err(code_error(&resp));
        }
        from_json("cluster info", &resp.body).map_err(|e| e.to_string())
    }

    /// GET_ROUTEINFO_BY_TOPIC from the nameserver.
    pub async fn route(&self, topic: &str) -> Result<TopicRouteData, String> {
        let header = GetRouteInfoRequestHeader {
            topic: topic.to_owned(),
            ..Default::default()
        };
        let req = RemotingCommand::request_with(request_code::GET_ROUTEINFO_BY_TOPIC, &header);
        let resp = self.invoke(&self.namesrv, req, ADMIN_TIMEOUT).await?;
        if resp.code != response_code::SUCCESS {
            return Err(format!("route of {topic}: {}", code_error(&resp)));
        }
        from_json("route", &resp.body).map_err(|e| e.to_string())
    }

    /// The broker's `commitLogMaxOffset` (GET_BROKER_RUNTIME_INFO), `None` if it does not say.
    pub async fn commit_log_max_offset(&self, broker: &str) -> Option<i64> {
        let req = RemotingCommand::request(request_code::GET_BROKER_RUNTIME_INFO);
        let resp = self.invoke(broker, req, ADMIN_TIMEOUT).await.ok()?;
        if resp.code != response_code::SUCCESS {
            return None;
        }
        let kv: KvTable = from_json("runtime info", &resp.body).ok()?;
        kv.table.get("commitLogMaxOffset")?.trim().parse().ok()
    }

    /// UPDATE_AND_CREATE_TOPIC on `broker` with `queues` read and write queues.
    pub async fn create_topic(&self, broker: &str, topic: &str, queues: i32) -> Result<(), String> {
        let header = CreateTopicRequestHeader {
            topic: topic.to_owned(),
            default_topic: Some("TBW102".into()),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: perm::READ_WRITE,
            topic_filter_type: Some("SINGLE_TAG".into()),
            topic_sys_flag: Some(0),
            order: false,
            attributes: None,
        };
        let req = RemotingCommand::request_with(request_code::UPDATE_AND_CREATE_TOPIC, &header);
        let resp = self.invoke(broker, req, ADMIN_TIMEOUT).await?;
        if resp.code != response_code::SUCCESS {
            return Err(format!("create {topic}: {}", code_error(&resp)));
        }
        Ok(())
    }

    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP of `group` (default settings) on `broker`.
    pub async fn create_group(&self, broker: &str, group: &str) -> Result<(), String> {
        let req = RemotingCommand::request(request_code::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(to_json(&SubscriptionGroupConfig::new(group)));
        let resp = self.invoke(broker, req, ADMIN_TIMEOUT).await?;
        if resp.code != response_code::SUCCESS {
            return Err(format!("create group {group}: {}", code_error(&resp)));
        }
        Ok(())
    }

    /// HEART_BEAT of `data` (the client's consumer groups and subscriptions) to `broker`.
    pub async fn heartbeat(&self, broker: &str, data: &HeartbeatData) -> Result<(), String> {
        let req = RemotingCommand::request(request_code::HEART_BEAT).with_body(to_json(data));
        let resp = self.invoke(broker, req, ADMIN_TIMEOUT).await?;
        if resp.code != response_code::SUCCESS {
            return Err(format!("heartbeat: {}", code_error(&resp)));
        }
        Ok(())
    }

    /// The properties a Java producer sends with a plain message: its unique key and WAIT=true.
    fn properties(&self) -> String {
        format!(
            "UNIQ_KEY\u{1}{}\u{2}WAIT\u{1}true\u{2}",
            self.keys.next(now_ms())
        )
    }

    fn send_header(&self, q: &QueueRef, topic: &str, batch: bool) -> SendMessageRequestHeaderV2 {
        SendMessageRequestHeaderV2 {
            producer_group: PRODUCER_GROUP.into(),
            topic: topic.to_owned(),
            default_topic: Some("TBW102".into()),
            default_topic_queue_nums: Some(4),
            queue_id: q.queue_id,
            sys_flag: Some(0),
            born_timestamp: Some(now_ms()),
            flag: Some(0),
            properties: Some(if batch {
                "WAIT\u{1}true\u{2}".into()
            } else {
                self.properties()
            }),
            reconsume_times: Some(0),
            unit_mode: false,
            max_reconsume_times: None,
            batch,
            broker_name: Some(q.broker_name.to_string()),
        }
    }

    /// SEND_MESSAGE_V2 of one message to queue `q`; `Ok` only for SEND_OK (code SUCCESS).
    pub async fn send(&self, q: &QueueRef, topic: &str, body: &Bytes) -> Result<(), String> {
        let header = self.send_header(q, topic, false);
        let req = RemotingCommand::request_with(request_code::SEND_MESSAGE_V2, &header)
            .with_body(body.clone());
        let resp = self.invoke(&q.addr, req, SEND_TIMEOUT).await?;
        match resp.code {
            response_code::SUCCESS => Ok(()),
            response_code::FLUSH_DISK_TIMEOUT
            | response_code::FLUSH_SLAVE_TIMEOUT
            | response_code::SLAVE_NOT_AVAILABLE => {
                Err(format!("status {}", response_code::name(resp.code)))
            }
            _ => Err(code_error(&resp)),
        }
    }

    /// SEND_BATCH_MESSAGE of `n` messages with `body` to queue `q` (each with its own key).
    pub async fn send_batch(
        &self,
        q: &QueueRef,
        topic: &str,
        body: &Bytes,
        n: usize,
    ) -> Result<(), String> {
        let items: Vec<BatchItem> = (0..n)
            .map(|_| BatchItem {
                flag: 0,
                body: body.clone(),
                properties: self.properties(),
            })
            .collect();
        let header = self.send_header(q, topic, true);
        let req = RemotingCommand::request_with(request_code::SEND_BATCH_MESSAGE, &header)
            .with_body(encode_batch(&items));
        let resp = self.invoke(&q.addr, req, SEND_TIMEOUT).await?;
        match resp.code {
            response_code::SUCCESS => Ok(()),
            _ => Err(code_error(&resp)),
        }
    }

    /// One PULL_MESSAGE from `offset` of queue `q` for `group` (subscription `*` in the
    /// request, so no heartbeat is needed), as `opts` says.
    pub async fn pull(
        &self,
        q: &QueueRef,
        topic: &str,
        group: &str,
        offset: i64,
        opts: PullOpts,
    ) -> Result<Pulled, String> {
        let PullOpts {
            max,
            suspend,
            commit,
        } = opts;
        let commit_flag = if commit.is_some() {
            PULL_FLAG_COMMIT_OFFSET
        } else {
            0
        };
        let header = PullMessageRequestHeader {
            consumer_group: group.to_owned(),
            topic: topic.to_owned(),
            queue_id: q.queue_id,
            queue_offset: offset,
            max_msg_nums: max,
            sys_flag: PULL_FLAG_SUBSCRIPTION | PULL_FLAG_SUSPEND | commit_flag,
            commit_offset: commit.unwrap_or(0),
            suspend_timeout_millis: suspend.as_millis() as i64,
            subscription: Some("*".into()),
            sub_version: now_ms(),
            expression_type: Some("TAG".into()),
            max_msg_bytes: None,
        };
        let req = RemotingCommand::request_with(request_code::PULL_MESSAGE, &header);
        let resp = self
            .invoke(&q.addr, req, suspend + Duration::from_secs(5))
            .await?;
        let next = resp
            .header::<PullMessageResponseHeader>()
            .map(|h| h.next_begin_offset)
            .unwrap_or(offset);
        match resp.code {
            response_code::SUCCESS => {
                let msgs = decode_messages(&resp.body).map_err(|e| e.to_string())?;
                let bytes = msgs.iter().map(|m| m.body.len() as u64).sum();
                Ok(Pulled {
                    next,
                    msgs: msgs.len() as u64,
                    bytes,
                    bodies: msgs.into_iter().map(|m| m.body).collect(),
                })
            }
            response_code::PULL_NOT_FOUND
            | response_code::PULL_RETRY_IMMEDIATELY
            | response_code::PULL_OFFSET_MOVED => Ok(Pulled {
                next,
                msgs: 0,
                bytes: 0,
                bodies: Vec::new(),
            }),
            _ => Err(code_error(&resp)),
        }
    }
}

/// How one pull asks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PullOpts {
    /// Most messages to bring.
    pub max: i32,
    /// Long polling: how long the broker may hold a pull that finds nothing.
    pub suspend: Duration,
    /// An offset the broker should store for the group (as a push consumer's pulls carry).
    pub commit: Option<i64>,
}

/// What one pull brought.
#[derive(Debug, Clone, PartialEq)]
pub struct Pulled {
    /// The offset to pull from next.
    pub next: i64,
    /// Messages received.
    pub msgs: u64,
    /// Their body bytes.
    pub bytes: u64,
    /// Their bodies.
    pub bodies: Vec<Bytes>,
}

/// Picks queues round robin, as the Java producer does for sends without a selector.
#[derive(Debug)]
pub struct RoundRobin {
    queues: Vec<QueueRef>,
    next: AtomicUsize,
}

impl RoundRobin {
    /// Round robin over `queues` (at least one: see [`Self::from_route`]).
    pub fn new(queues: Vec<QueueRef>) -> Self {
        Self {
            queues,
            next: AtomicUsize::new(0),
        }
    }

    /// The writable queues of `topic`, looked up on the nameserver.
    pub async fn from_route(rmq: &Rmq, topic: &str) -> Result<Self, String> {
        let queues = queues_of(&rmq.route(topic).await?, true);
        if queues.is_empty() {
            return Err(format!("topic {topic} has no writable queue with a master"));
        }
        Ok(Self::new(queues))
    }

    /// The next queue.
    pub fn pick(&self) -> &QueueRef {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        &self.queues[i % self.queues.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_follow_the_route_and_permissions() {
        let json = br#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"a","cluster":"c"},{"brokerAddrs":{1:"127.0.0.1:10931"},"brokerName":"b","cluster":"c"}],"queueDatas":[{"brokerName":"a","perm":6,"readQueueNums":3,"writeQueueNums":2},{"brokerName":"b","perm":6,"readQueueNums":4,"writeQueueNums":4}]}"#;
        let route: TopicRouteData = from_json("route", json).unwrap();
        let w = queues_of(&route, true);
        assert_eq!(w.len(), 2, "b has no master");
        assert_eq!(&*w[1].addr, "127.0.0.1:10911");
        assert_eq!(queues_of(&route, false).len(), 3);
        let rr = RoundRobin::new(w);
        let picks: Vec<i32> = (0..4).map(|_| rr.pick().queue_id).collect();
        assert_eq!(picks, vec![0, 1, 0, 1]);
    }
}
