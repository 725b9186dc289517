//! Request handling: maps request codes to route-table and KV operations.

use crate::config::NamesrvConfig;
use crate::kv_config::{KvConfig, ORDER_TOPIC_CONFIG};
use crate::metrics::NamesrvMetrics;
use crate::route_table::{Registration, RouteTable};
use parking_lot::RwLock;
use rmq_acl::gate::AclGate;
use rmq_protocol::body::misc::{KvTable, TopicList};
use rmq_protocol::body::register::RegisterBrokerBody;
use rmq_protocol::body::route::TopicRouteData;
use rmq_protocol::body::topic_config::{DataVersion, TopicConfigSerializeWrapper};
use rmq_protocol::body::{from_json, to_json};
use rmq_protocol::header::namesrv::*;
use rmq_protocol::net::{Channel, Failure, RequestHandler};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as i64
}

/// Shared nameserver state.
pub struct Namesrv {
    routes: RwLock<RouteTable>,
    kv: KvConfig,
    config: NamesrvConfig,
    metrics: NamesrvMetrics,
    /// The ACL gate when `aclEnable=true` (state-changing requests need an admin).
    acl: Option<Arc<AclGate>>,
}

type Reply = Result<RemotingCommand, Failure>;

impl Namesrv {
    /// State for `config`, loading the KV config file.
    pub fn new(config: NamesrvConfig) -> std::io::Result<Self> {
        Self::with_acl(config, None)
    }

    /// State for `config` whose state-changing requests pass `acl` first (when `Some`).
    pub fn with_acl(config: NamesrvConfig, acl: Option<Arc<AclGate>>) -> std::io::Result<Self> {
        Ok(Self {
            routes: RwLock::new(RouteTable::new()),
            kv: KvConfig::load(config.kv_config_path.clone())?,
            config,
            metrics: NamesrvMetrics::default(),
            acl,
        })
    }

    /// The `/metrics` text: what the route table holds and the requests answered.
    pub fn metrics_text(&self) -> String {
        let counts = self.routes.read().counts();
        self.metrics.render(counts)
    }

    /// Drops silent brokers; called periodically.
    pub fn scan_inactive(&self) {
        for b in self.routes.write().expire(now_ms()) {
            tracing::warn!(cluster = %b.cluster, broker = %b.broker_name, addr = %b.broker_addr, "broker expired: no heartbeat within its timeout");
        }
    }

    fn dispatch(&self, channel: &Channel, req: &RemotingCommand) -> Reply {
        match req.code {
            rc::REGISTER_BROKER => self.register_broker(channel, req),
            rc::UNREGISTER_BROKER => self.unregister_broker(req),
            rc::BROKER_HEARTBEAT => self.broker_heartbeat(req),
            rc::QUERY_DATA_VERSION => self.query_data_version(req),
            rc::GET_ROUTEINFO_BY_TOPIC => Ok(self.route(req)?),
            rc::GET_BROKER_CLUSTER_INFO => {
                let info = self.routes.read().cluster_info();
                Ok(RemotingCommand::success(req).with_body(to_json(&info)))
            }
            rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                Ok(topic_list(req, self.routes.read().topics(), None))
            }
            rc::GET_TOPICS_BY_CLUSTER => self.topics_by_cluster(req),
            rc::GET_SYSTEM_TOPIC_LIST_FROM_NS => {
                let (topics, addr) = self.routes.read().system_topics();
                Ok(topic_list(req, topics, addr))
            }
            311..=313 => Ok(topic_list(req, Vec::new(), None)),
            rc::DELETE_TOPIC_IN_NAMESRV => self.delete_topic(req),
            rc::REGISTER_TOPIC_IN_NAMESRV => self.register_topic(req),
            rc::WIPE_WRITE_PERM_OF_BROKER => self.wipe_write_perm(req),
            rc::ADD_WRITE_PERM_OF_BROKER => self.add_write_perm(req),
            rc::PUT_KV_CONFIG => self.put_kv_config(req),
            rc::GET_KV_CONFIG => self.get_kv_config(req),
            rc::DELETE_KV_CONFIG => self.delete_kv_config(req),
            rc::GET_KVLIST_BY_NAMESPACE => self.kv_list(req),
            rc::GET_BROKER_MEMBER_GROUP => Ok(self.broker_member_group(req)),
            319 => Ok(RemotingCommand::success(req).with_body(self.config_text())),
            code => Ok(RemotingCommand::error(
                req,
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {code} not supported"),
            )),
        }
    }

    fn broker_heartbeat(&self, req: &RemotingCommand) -> Reply {
        let h: BrokerHeartbeatRequestHeader = req.header()?;
        self.routes
            .write()
            .touch(&h.cluster_name, &h.broker_addr, now_ms());
        Ok(RemotingCommand::success(req))
    }

    fn topics_by_cluster(&self, req: &RemotingCommand) -> Reply {
        let h: GetTopicsByClusterRequestHeader = req.header()?;
        let topics = self.routes.read().topics_in_cluster(&h.cluster);
        Ok(topic_list(req, topics, None))
    }

    fn delete_topic(&self, req: &RemotingCommand) -> Reply {
        let h: DeleteTopicFromNamesrvRequestHeader = req.header()?;
        self.routes
            .write()
            .delete_topic(&h.topic, h.cluster_name.as_deref());
        Ok(RemotingCommand::success(req))
    }

    fn register_topic(&self, req: &RemotingCommand) -> Reply {
        let topic = req.ext_fields.get("topic").unwrap_or_default().to_owned();
        let route: TopicRouteData = from_json("TopicRouteData", &req.body)?;
        self.routes
            .write()
            .register_topic(&topic, route.queue_datas);
        Ok(RemotingCommand::success(req))
    }

    fn wipe_write_perm(&self, req: &RemotingCommand) -> Reply {
        let h: BrokerNameRequestHeader = req.header()?;
        let n = self.routes.write().wipe_write_perm(&h.broker_name);
        Ok(
            RemotingCommand::success(req).with_header(&WipeWritePermResponseHeader {
                wipe_topic_count: n,
            }),
        )
    }

    fn add_write_perm(&self, req: &RemotingCommand) -> Reply {
        let h: BrokerNameRequestHeader = req.header()?;
        let n = self.routes.write().add_write_perm(&h.broker_name);
        Ok(RemotingCommand::success(req)
            .with_header(&AddWritePermResponseHeader { add_topic_count: n }))
    }

    fn put_kv_config(&self, req: &RemotingCommand) -> Reply {
        let h: PutKvConfigRequestHeader = req.header()?;
        self.kv.put(&h.namespace, &h.key, &h.value);
        Ok(RemotingCommand::success(req))
    }

    fn get_kv_config(&self, req: &RemotingCommand) -> Reply {
        let h: KvConfigKeyRequestHeader = req.header()?;
        Ok(match self.kv.get(&h.namespace, &h.key) {
            Some(value) => RemotingCommand::success(req)
                .with_header(&GetKvConfigResponseHeader { value: Some(value) }),
            None => RemotingCommand::error(
                req,
                response_code::QUERY_NOT_FOUND,
                format!("No config item, Namespace: {} Key: {}", h.namespace, h.key),
            ),
        })
    }

    fn delete_kv_config(&self, req: &RemotingCommand) -> Reply {
        let h: KvConfigKeyRequestHeader = req.header()?;
        self.kv.delete(&h.namespace, &h.key);
        Ok(RemotingCommand::success(req))
    }

    fn kv_list(&self, req: &RemotingCommand) -> Reply {
        let h: GetKvListByNamespaceRequestHeader = req.header()?;
        Ok(match self.kv.list(&h.namespace) {
            Some(table) => RemotingCommand::success(req).with_body(to_json(&KvTable { table })),
            None => RemotingCommand::error(
                req,
                response_code::QUERY_NOT_FOUND,
                format!("No config item, Namespace: {}", h.namespace),
            ),
        })
    }

    fn broker_member_group(&self, req: &RemotingCommand) -> RemotingCommand {
        let name = req.ext_fields.get("brokerName").unwrap_or_default();
        let body = self
            .routes
            .read()
            .broker(name)
            .map(|b| {
                serde_json::json!({"cluster": b.cluster, "brokerName": b.broker_name, "brokerAddrs": b.broker_addrs})
            })
            .unwrap_or_else(|| serde_json::json!({"brokerName": name, "brokerAddrs": {}}));
        RemotingCommand::success(req).with_body(body.to_string())
    }

    fn config_text(&self) -> String {
        format!(
            "listenPort={}\norderMessageEnable={}\nscanNotActiveBrokerInterval={}\nkvConfigPath={}\n",
            self.config.listen_port,
            self.config.order_message_enable,
            self.config.scan_interval.as_millis(),
            self.config
                .kv_config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
    }

    fn register_broker(&self, channel: &Channel, req: &RemotingCommand) -> Reply {
        let h: RegisterBrokerRequestHeader = req.header()?;
        if let Some(expected) = h.body_crc32.filter(|c| *c != 0) {
            let actual = (crc32fast::hash(&req.body) & 0x7FFF_FFFF) as i32;
            if actual != expected {
                return Ok(RemotingCommand::error(
                    req,
                    response_code::SYSTEM_ERROR,
                    format!("crc32 not match: header says {expected}, body has {actual}"),
                ));
            }
        }
        let topics = if req.body.is_empty() {
            TopicConfigSerializeWrapper::default()
        } else if req.version >= 37 {
            RegisterBrokerBody::decode(&req.body, h.compressed, 64 << 20)?
                .topic_config_serialize_wrapper
        } else {
            from_json("TopicConfigSerializeWrapper", &req.body)?
        };
        let timeout = h
            .heartbeat_timeout_millis
            .filter(|t| *t > 0)
            .unwrap_or(self.config.broker_timeout.as_millis() as i64);
        let result = self.routes.write().register(
            Registration {
                cluster: h.cluster_name.clone(),
                broker_name: h.broker_name.clone(),
                broker_addr: h.broker_addr.clone(),
                broker_id: h.broker_id,
                ha_server_addr: h.ha_server_addr,
                timeout_ms: Some(timeout),
                topics,
                channel_id: Some(channel.id()),
            },
            now_ms(),
        );
        tracing::debug!(cluster = %h.cluster_name, broker = %h.broker_name, id = h.broker_id, addr = %h.broker_addr, "broker registered");
        let order = self.kv.list(ORDER_TOPIC_CONFIG).unwrap_or_default();
        Ok(RemotingCommand::success(req)
            .with_header(&RegisterBrokerResponseHeader {
                ha_server_addr: result.ha_server_addr,
                master_addr: result.master_addr,
            })
            .with_body(to_json(&KvTable { table: order })))
    }

    fn unregister_broker(&self, req: &RemotingCommand) -> Reply {
        let h: UnregisterBrokerRequestHeader = req.header()?;
        if let Some(b) = self.routes.write().unregister(
            &h.cluster_name,
            &h.broker_addr,
            &h.broker_name,
            h.broker_id,
        ) {
            tracing::info!(cluster = %b.cluster, broker = %b.broker_name, addr = %b.broker_addr, "broker unregistered");
        }
        Ok(RemotingCommand::success(req))
    }

    fn query_data_version(&self, req: &RemotingCommand) -> Reply {
        let h: BrokerHeartbeatRequestHeader = req.header()?;
        let theirs: DataVersion = if req.body.is_empty() {
            DataVersion::default()
        } else {
            from_json("DataVersion", &req.body)?
        };
        let ours = self
            .routes
            .write()
            .data_version(&h.cluster_name, &h.broker_addr, now_ms());
        let changed = ours != Some(theirs);
        let mut resp = RemotingCommand::success(req);
        resp.ext_fields.insert("changed", changed.to_string());
        if let Some(v) = ours {
            resp.body = to_json(&v).into();
        }
        Ok(resp)
    }

    fn route(&self, req: &RemotingCommand) -> Result<RemotingCommand, Failure> {
        let h: GetRouteInfoRequestHeader = req.header()?;
        let route = self.routes.read().route(&h.topic);
        Ok(match route {
            Some(mut route) => {
                if self.config.order_message_enable {
                    route.order_topic_conf = self.kv.get(ORDER_TOPIC_CONFIG, &h.topic);
                }
                RemotingCommand::success(req).with_body(to_json(&route))
            }
            None => RemotingCommand::error(
                req,
                response_code::TOPIC_NOT_EXIST,
                format!(
                    "No topic route info in name server for the topic: {}, see https://rocketmq.apache.org/docs/bestPractice/06FAQ",
                    h.topic
                ),
            ),
        })
    }
}

fn topic_list(req: &RemotingCommand, topics: Vec<String>, addr: Option<String>) -> RemotingCommand {
    RemotingCommand::success(req).with_body(to_json(&TopicList {
        topic_list: topics,
        broker_addr: addr,
    }))
}

impl RequestHandler for Namesrv {
    async fn handle(&self, channel: &Channel, request: RemotingCommand) -> Option<RemotingCommand> {
        if let Some(denial) = self.acl.as_ref().and_then(|g| g.check(channel, &request)) {
            tracing::info!(code = request.code, peer = %channel.remote_addr(), remark = %denial.remark, "request refused by the ACL");
            let resp = RemotingCommand::error(&request, denial.code, denial.remark);
            self.metrics.answered(request.code, resp.code);
            return (!request.is_oneway()).then_some(resp);
        }
        let resp = match self.dispatch(channel, &request) {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(code = request.code, peer = %channel.remote_addr(), error = %e, "request failed");
                RemotingCommand::error(&request, response_code::SYSTEM_ERROR, e.to_string())
            }
        };
        self.metrics.answered(request.code, resp.code);
        Some(resp)
    }

    fn on_close(&self, channel: &Channel) {
        if let Some(acl) = &self.acl {
            acl.connection_closed(channel.id());
        }
        for b in self.routes.write().channel_closed(channel.id()) {
            tracing::info!(cluster = %b.cluster, broker = %b.broker_name, addr = %b.broker_addr, "broker connection closed; unregistered");
        }
    }
}
