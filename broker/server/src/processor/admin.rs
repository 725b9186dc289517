//! Admin requests (the default processor): topics, subscription groups, offset and delay
//! progress tables, runtime info, broker config, stats and connection lists, as mqadmin,
//! rmqctl and slaves (metadata sync) send them.

use super::reply::{Reply, refuse, respond};
use super::stats::message_queue;
use crate::broker::Broker;
use crate::clients::ClientChannel;
use crate::state::now_ms;
use rmq_protocol::body::misc::{Connection, ConsumerConnection};
use rmq_protocol::body::route::perm;
use rmq_protocol::body::stats::{TopicOffset, encode_topic_stats};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::topic_config::TopicConfig;
use rmq_protocol::body::{from_json, to_json};
use rmq_protocol::header::client::{ConsumerGroupRequestHeader, ProducerGroupRequestHeader};
use rmq_protocol::header::topic::*;
use rmq_protocol::{RemotingCommand, names, request_code as rc, response_code as code};
use std::collections::BTreeMap;

/// Routes an admin request by code; codes nobody serves get REQUEST_CODE_NOT_SUPPORTED.
pub fn dispatch(b: &Broker, req: &RemotingCommand) -> Reply {
    match req.code {
        rc::UPDATE_AND_CREATE_TOPIC => update_topic(b, req),
        rc::DELETE_TOPIC_IN_BROKER => delete_topic(b, req),
        rc::GET_ALL_TOPIC_CONFIG => success_json(req, &b.topics.snapshot()),
        rc::GET_TOPIC_CONFIG => topic_config(b, req),
        rc::GET_TOPIC_NAME_LIST => topic_names(b, req),
        rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP => update_group(b, req),
        rc::DELETE_SUBSCRIPTIONGROUP => delete_group(b, req),
        rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG => success_json(req, &b.groups.snapshot()),
        rc::GET_SUBSCRIPTIONGROUP_CONFIG => group_config(b, req),
        rc::GET_ALL_CONSUMER_OFFSET => success_json(req, &b.offsets.snapshot()),
        rc::GET_ALL_DELAY_OFFSET => success_json(req, &b.delay_offsets.snapshot()),
        rc::GET_BROKER_RUNTIME_INFO => success_json(req, &super::runtime_info::runtime_info(b)),
        rc::GET_BROKER_HA_STATUS => {
            respond(RemotingCommand::success(req).with_body(b.ha.ha_runtime_info().to_string()))
        }
        rc::GET_BROKER_CONFIG => broker_config(b, req),
        rc::UPDATE_BROKER_CONFIG => super::retention::update_config(b, req),
        rc::DELETE_EXPIRED_COMMITLOG => super::retention::delete_expired(b, req),
        rc::CLEAN_EXPIRED_CONSUMEQUEUE => super::retention::clean_queues(b, req),
        rc::GET_TOPIC_STATS_INFO => topic_stats(b, req),
        rc::GET_CONSUME_STATS => super::stats::consume_stats(b, req),
        rc::VIEW_BROKER_STATS_DATA => super::stats::view_broker_stats_data(b, req),
        rc::GET_CONSUMER_CONNECTION_LIST => consumer_connections(b, req),
        rc::GET_PRODUCER_CONNECTION_LIST => producer_connections(b, req),
        rc::QUERY_TOPIC_CONSUME_BY_WHO => consumed_by(b, req),
        rmq_controller::codes::GET_BROKER_EPOCH_CACHE => {
            respond(crate::controller::epochs::serve(b, req))
        }
        rmq_controller::codes::NOTIFY_BROKER_ROLE_CHANGED => {
            b.role_changed.notify_one();
            respond(RemotingCommand::success(req))
        }
        other => refuse(
            req,
            code::REQUEST_CODE_NOT_SUPPORTED,
            format!(" request type {other} not supported"),
        ),
    }
}

/// A success response with `body` as JSON.
fn success_json<T: serde::Serialize>(req: &RemotingCommand, body: &T) -> Reply {
    respond(RemotingCommand::success(req).with_body(to_json(body)))
}

fn topic_config(b: &Broker, req: &RemotingCommand) -> Reply {
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

fn topic_names(b: &Broker, req: &RemotingCommand) -> Reply {
    success_json(
        req,
        &rmq_protocol::body::misc::TopicList {
            topic_list: b.topics.names(),
            broker_addr: Some(b.broker_addr.clone()),
        },
    )
}

fn update_group(b: &Broker, req: &RemotingCommand) -> Reply {
    let cfg: SubscriptionGroupConfig = from_json("SubscriptionGroupConfig", &req.body)?;
    if let Err(e) = names::validate_group(&cfg.group_name) {
        return refuse(req, code::INVALID_PARAMETER, e);
    }
    b.groups.upsert(cfg, now_ms());
    respond(RemotingCommand::success(req))
}

fn delete_group(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: DeleteSubscriptionGroupRequestHeader = req.header()?;
    b.groups.delete(&h.group_name, now_ms());
    if h.clean_offset {
        b.offsets.remove_group(&h.group_name);
        b.stats.items.remove_group(&h.group_name);
    }
    respond(RemotingCommand::success(req))
}

fn group_config(b: &Broker, req: &RemotingCommand) -> Reply {
    let group = req.ext_fields.get("group").unwrap_or_default();
    match b.groups.get(group) {
        Some(g) => success_json(req, &*g),
        None => refuse(
            req,
            code::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("group {group} not exist"),
        ),
    }
}

fn broker_config(b: &Broker, req: &RemotingCommand) -> Reply {
    let mut config = b.config.clone();
    config.retention = b.retention.config();
    config.broker_permission = b.permission();
    let mut resp = RemotingCommand::success(req).with_body(config.to_properties());
    resp.ext_fields.insert(
        "version",
        serde_json::to_string(&b.topics.data_version()).unwrap_or_default(),
    );
    respond(resp)
}

/// A client connection as admin tools list it.
fn connection(c: &ClientChannel) -> Connection {
    Connection {
        client_id: c.client_id.clone(),
        client_addr: c.channel.remote_addr().to_string(),
        language: c.language.name().into(),
        version: c.version,
    }
}

fn producer_connections(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: ProducerGroupRequestHeader = req.header()?;
    let set: Vec<Connection> = b
        .clients
        .producer_clients(&h.producer_group)
        .iter()
        .map(connection)
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

fn consumed_by(b: &Broker, req: &RemotingCommand) -> Reply {
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
            b.stats.items.remove_topic(&h.topic);
            b.register_now.notify_one();
            tracing::info!(topic = %h.topic, "topic deleted by admin");
            respond(RemotingCommand::success(req))
        }
        Err(e) => refuse(req, code::SYSTEM_ERROR, e.to_string()),
    }
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
                message_queue(b, &h.topic, q),
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
        connection_set: view.channels.iter().map(connection).collect(),
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
