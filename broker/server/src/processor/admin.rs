//! Admin requests (the default processor): topics, subscription groups, runtime info, broker
//! config, stats and connection lists, as mqadmin and rmqctl send them.

use super::{Reply, refuse, respond};
use crate::broker::Broker;
use crate::state::now_ms;
use rmq_protocol::body::lock::MessageQueue;
use rmq_protocol::body::misc::{Connection, ConsumerConnection, KvTable};
use rmq_protocol::body::route::perm;
use rmq_protocol::body::stats::{
    OffsetWrapper, TopicOffset, encode_consume_stats, encode_topic_stats,
};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use rmq_protocol::body::{from_json, to_json};
use rmq_protocol::header::client::{ConsumerGroupRequestHeader, ProducerGroupRequestHeader};
use rmq_protocol::header::topic::*;
use rmq_protocol::net::Channel;
use rmq_protocol::{RemotingCommand, names, request_code as rc, response_code as code};
use std::collections::BTreeMap;

/// Routes an admin request by code.
pub fn dispatch(b: &Broker, _ch: &Channel, req: &RemotingCommand) -> Reply {
    match req.code {
        rc::UPDATE_AND_CREATE_TOPIC => update_topic(b, req),
        rc::DELETE_TOPIC_IN_BROKER => delete_topic(b, req),
        rc::GET_ALL_TOPIC_CONFIG => {
            respond(RemotingCommand::success(req).with_body(to_json(&b.topics.snapshot())))
        }
        rc::GET_TOPIC_CONFIG => {
            let h: TopicRequestHeader = req.header()?;
            match b.topics.get(&h.topic) {
                Some(t) => respond(
                    RemotingCommand::success(req)
                        .with_body(serde_json::json!({"topicConfig": *t}).to_string()),
                ),
                None => refuse(
                    req,
                    code::TOPIC_NOT_EXIST,
                    format!("No topic in this broker. topic: {}", h.topic),
                ),
            }
        }
        rc::GET_TOPIC_NAME_LIST => respond(RemotingCommand::success(req).with_body(to_json(
            &rmq_protocol::body::misc::TopicList {
                topic_list: b.topics.names(),
                broker_addr: Some(b.broker_addr.clone()),
            },
        ))),
        rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => {
            let cfg: SubscriptionGroupConfig = from_json("SubscriptionGroupConfig", &req.body)?;
            if let Err(e) = names::validate_group(&cfg.group_name) {
                return refuse(req, code::INVALID_PARAMETER, e);
            }
            b.groups.upsert(cfg, now_ms());
            respond(RemotingCommand::success(req))
        }
        rc::DELETE_SUBSCRIPTIONGROUP => {
            let h: DeleteSubscriptionGroupRequestHeader = req.header()?;
            b.groups.delete(&h.group_name, now_ms());
            if h.clean_offset {
                b.offsets.remove_group(&h.group_name);
            }
            respond(RemotingCommand::success(req))
        }
        rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => {
            respond(RemotingCommand::success(req).with_body(to_json(&b.groups.snapshot())))
        }
        rc::GET_SUBSCRIPTIONGROUP_CONFIG => {
            let group = req.ext_fields.get("group").unwrap_or_default();
            match b.groups.get(group) {
                Some(g) => respond(RemotingCommand::success(req).with_body(to_json(&*g))),
                None => refuse(
                    req,
                    code::SUBSCRIPTION_GROUP_NOT_EXIST,
                    format!("group {group} not exist"),
                ),
            }
        }
        rc::GET_ALL_CONSUMER_OFFSET => {
            respond(RemotingCommand::success(req).with_body(to_json(&b.offsets.snapshot())))
        }
        rc::GET_BROKER_RUNTIME_INFO => {
            respond(RemotingCommand::success(req).with_body(to_json(&runtime_info(b))))
        }
        rc::GET_BROKER_HA_STATUS => respond(
            RemotingCommand::success(req)
                .with_body(crate::ha::status::ha_runtime_info(b).to_string()),
        ),
        rc::GET_BROKER_CONFIG => {
            let mut resp = RemotingCommand::success(req).with_body(b.config.to_properties());
            resp.ext_fields.insert(
                "version",
                serde_json::to_string(&b.topics.data_version()).unwrap_or_default(),
            );
            respond(resp)
        }
        rc::UPDATE_BROKER_CONFIG => refuse(
            req,
            code::SYSTEM_ERROR,
            "rmq does not change broker settings at runtime; edit broker.conf and restart the broker (rolling restarts keep data)",
        ),
        rc::GET_TOPIC_STATS_INFO => topic_stats(b, req),
        rc::GET_CONSUME_STATS => consume_stats(b, req),
        rc::GET_CONSUMER_CONNECTION_LIST => consumer_connections(b, req),
        rc::GET_PRODUCER_CONNECTION_LIST => {
            let h: ProducerGroupRequestHeader = req.header()?;
            let set: Vec<Connection> = b
                .clients
                .producer_clients(&h.producer_group)
                .into_iter()
                .map(|c| Connection {
                    client_id: c.client_id,
                    client_addr: c.channel.remote_addr().to_string(),
                    language: c.language.name().into(),
                    version: c.version,
                })
                .collect();
            if set.is_empty() {
                return refuse(
                    req,
                    code::SYSTEM_ERROR,
                    format!("the producer group[{}] not exist", h.producer_group),
                );
            }
            respond(
                RemotingCommand::success(req)
                    .with_body(serde_json::json!({"connectionSet": set}).to_string()),
            )
        }
        rc::QUERY_TOPIC_CONSUME_BY_WHO => {
            let h: TopicRequestHeader = req.header()?;
            let mut groups = b.clients.groups_consuming(&h.topic);
            groups.extend(b.offsets.groups_of_topic(&h.topic));
            groups.sort();
            groups.dedup();
            respond(
                RemotingCommand::success(req)
                    .with_body(serde_json::json!({"groupList": groups}).to_string()),
            )
        }
        other => refuse(
            req,
            code::REQUEST_CODE_NOT_SUPPORTED,
            format!(" request type {other} not supported"),
        ),
    }
}

fn update_topic(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: CreateTopicRequestHeader = req.header()?;
    if let Err(e) = names::validate_topic(&h.topic) {
        return refuse(req, code::INVALID_PARAMETER, e);
    }
    if names::is_system_topic(&h.topic) && h.topic != names::SELF_TEST_TOPIC {
        return refuse(
            req,
            code::INVALID_PARAMETER,
            format!(
                "the topic[{}] is a system topic and cannot be changed",
                h.topic
            ),
        );
    }
    if h.read_queue_nums < 1 || h.write_queue_nums < 1 {
        return refuse(
            req,
            code::INVALID_PARAMETER,
            format!(
                "topic {}: readQueueNums and writeQueueNums must be >= 1 (got {} and {})",
                h.topic, h.read_queue_nums, h.write_queue_nums
            ),
        );
    }
    let attributes = parse_attributes(h.attributes.as_deref().unwrap_or(""));
    let cfg = TopicConfig {
        topic_name: h.topic.clone(),
        read_queue_nums: h.read_queue_nums,
        write_queue_nums: h.write_queue_nums,
        perm: h.perm & (perm::READ_WRITE | perm::INHERIT),
        topic_filter_type: h.topic_filter_type.unwrap_or_else(|| "SINGLE_TAG".into()),
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
        order: h.order,
        attributes,
    };
    match b.topics.upsert(cfg, now_ms()) {
        Ok(changed) => {
            if changed {
                tracing::info!(topic = %h.topic, read = h.read_queue_nums, write = h.write_queue_nums, perm = h.perm, "topic updated by admin");
                b.register_now.notify_one();
            }
            respond(RemotingCommand::success(req))
        }
        Err(e) => refuse(req, code::SYSTEM_ERROR, e.to_string()),
    }
}

/// Java's attribute syntax: `+key=value,-key` (adds and deletes); we keep the adds.
fn parse_attributes(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter_map(|a| a.trim().strip_prefix('+'))
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn delete_topic(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: TopicRequestHeader = req.header()?;
    if names::is_system_topic(&h.topic) {
        return refuse(
            req,
            code::INVALID_PARAMETER,
            format!(
                "the topic[{}] is a system topic and cannot be deleted",
                h.topic
            ),
        );
    }
    match b.topics.delete(&h.topic, now_ms()) {
        Ok(_) => {
            if let Err(e) = b.store.delete_topic(&h.topic) {
                tracing::warn!(topic = %h.topic, error = %e, "could not delete the topic's queues");
            }
            b.offsets.remove_topic(&h.topic);
            b.register_now.notify_one();
            tracing::info!(topic = %h.topic, "topic deleted by admin");
            respond(RemotingCommand::success(req))
        }
        Err(e) => refuse(req, code::SYSTEM_ERROR, e.to_string()),
    }
}

fn runtime_info(b: &Broker) -> KvTable {
    let (put_days, get_days) = b.stats.day_totals();
    let store = b.store.stats();
    let mut t = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        t.insert(k.to_owned(), v);
    };
    put("brokerVersionDesc", "V5_3_3".into());
    put(
        "brokerVersion",
        rmq_protocol::codes::version::CURRENT.to_string(),
    );
    put("brokerActive", "true".into());
    put("putTps", b.stats.put_tps());
    put("getTransferedTps", b.stats.get_tps());
    put("getTransferredTps", b.stats.get_tps());
    put("getFoundTps", b.stats.get_tps());
    put("sendThreadPoolQueueSize", "0".into());
    put("pullThreadPoolQueueSize", "0".into());
    put("sendThreadPoolQueueCapacity", "10000".into());
    put("pullThreadPoolQueueCapacity", "100000".into());
    put("sendThreadPoolQueueHeadWaitTimeMills", "0".into());
    put("pullThreadPoolQueueHeadWaitTimeMills", "0".into());
    put("pageCacheLockTimeMills", "0".into());
    put(
        "earliestMessageTimeStamp",
        store.earliest_message_time.unwrap_or(0).to_string(),
    );
    put(
        "commitLogDiskRatio",
        format!("{:.4}", store.disk_usage_ratio.unwrap_or(0.0)),
    );
    put(
        "commitLogMinOffset",
        b.store.min_physical_offset().to_string(),
    );
    put(
        "commitLogMaxOffset",
        b.store.max_physical_offset().to_string(),
    );
    put("msgPutTotalYesterdayMorning", put_days[0].to_string());
    put("msgPutTotalTodayMorning", put_days[1].to_string());
    put("msgPutTotalTodayNow", put_days[2].to_string());
    put("msgGetTotalYesterdayMorning", get_days[0].to_string());
    put("msgGetTotalTodayMorning", get_days[1].to_string());
    put("msgGetTotalTodayNow", get_days[2].to_string());
    put("bootTimestamp", b.boot_ms.to_string());
    put(
        "runtime",
        format!("[ {} seconds ]", (now_ms() - b.boot_ms) / 1000),
    );
    put("dispatchBehindBytes", "0".into());
    put("remainHowManyDataToFlush", "0".into());
    put("timerReadBehind", "0".into());
    put("timerOffsetBehind", "0".into());
    put("timerCongestNum", "0".into());
    put("timerEnqueueTps", "0.0".into());
    put("timerDequeueTps", "0.0".into());
    let (producers, consumers) = b.clients.counts();
    put("producerConnections", producers.to_string());
    put("consumerConnections", consumers.to_string());
    put("parkedPulls", b.holds.len().to_string());
    put("brokerRole", format!("{:?}", b.config.broker_role));
    t.insert("msgPutTotal".into(), b.stats.puts().to_string());
    crate::ha::status::runtime_info(b, &mut t);
    KvTable { table: t }
}

fn topic_stats(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: TopicRequestHeader = req.header()?;
    let Some(topic) = b.topics.get(&h.topic) else {
        return refuse(
            req,
            code::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist", h.topic),
        );
    };
    let entries: Vec<_> = (0..topic.write_queue_nums.max(topic.read_queue_nums))
        .map(|q| {
            let max = b.store.max_offset(&h.topic, q);
            let last = if max > 0 {
                b.store
                    .get_messages(&h.topic, q, max - 1, 1, 1 << 30, &|_| true)
                    .messages
                    .first()
                    .and_then(|m| rmq_protocol::message::decode_message(m).ok())
                    .map_or(0, |(m, _)| m.store_timestamp)
            } else {
                0
            };
            (
                MessageQueue {
                    topic: h.topic.clone(),
                    broker_name: b.config.broker_name.clone(),
                    queue_id: q,
                },
                TopicOffset {
                    min_offset: b.store.min_offset(&h.topic, q),
                    max_offset: max,
                    last_update_timestamp: last,
                },
            )
        })
        .collect();
    respond(RemotingCommand::success(req).with_body(encode_topic_stats(&entries)))
}

fn consume_stats(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: GetConsumeStatsRequestHeader = req.header()?;
    let topics: Vec<String> = match &h.topic {
        Some(t) if !t.is_empty() => vec![t.clone()],
        _ => b
            .topics
            .names()
            .into_iter()
            .filter(|t| !b.offsets.queues(&h.consumer_group, t).is_empty())
            .collect(),
    };
    let mut entries = Vec::new();
    for t in topics {
        let Some(cfg) = b.topics.get(&t) else {
            continue;
        };
        let committed = b.offsets.queues(&h.consumer_group, &t);
        for q in 0..cfg.read_queue_nums {
            let consumer = committed.get(&q).copied().unwrap_or(0);
            entries.push((
                MessageQueue {
                    topic: t.clone(),
                    broker_name: b.config.broker_name.clone(),
                    queue_id: q,
                },
                OffsetWrapper {
                    broker_offset: b.store.max_offset(&t, q),
                    consumer_offset: consumer,
                    pull_offset: consumer,
                    last_timestamp: 0,
                },
            ));
        }
    }
    respond(RemotingCommand::success(req).with_body(encode_consume_stats(&entries, 0.0)))
}

fn consumer_connections(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: ConsumerGroupRequestHeader = req.header()?;
    let Some(view) = b.clients.consumer_group(&h.consumer_group) else {
        return refuse(
            req,
            code::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{}] not online", h.consumer_group),
        );
    };
    let body = ConsumerConnection {
        connection_set: view
            .channels
            .iter()
            .map(|c| Connection {
                client_id: c.client_id.clone(),
                client_addr: c.channel.remote_addr().to_string(),
                language: c.language.name().into(),
                version: c.version,
            })
            .collect(),
        subscription_table: view
            .subscriptions
            .iter()
            .map(|s| (s.topic.clone(), (**s).clone()))
            .collect(),
        consume_type: Some(view.consume_type),
        message_model: Some(view.message_model),
        consume_from_where: Some(view.consume_from_where),
    };
    respond(RemotingCommand::success(req).with_body(to_json(&body)))
}
