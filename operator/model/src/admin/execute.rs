//! [`Admin::execute`]: runs a plan's actions in order, reports each, and stops at the first
//! failure with what was done and what was not (nothing is skipped silently).

use super::client::Admin;
use super::error::AdminError;
use crate::defaults::OWNERSHIP_NAMESPACE;
use crate::plan::{Action, BrokerRef, OwnedKey};
use rmq_protocol::body::subscription::SubscriptionGroupConfig;
use rmq_protocol::body::to_json;
use rmq_protocol::body::topic_config::TopicConfig;
use rmq_protocol::header::namesrv::{
    DeleteTopicFromNamesrvRequestHeader, KvConfigKeyRequestHeader, PutKvConfigRequestHeader,
};
use rmq_protocol::header::topic::{
    CreateTopicRequestHeader, DeleteSubscriptionGroupRequestHeader, TopicRequestHeader,
};
use rmq_protocol::{RemotingCommand, names, request_code as rc};

/// What happened to one action.
#[derive(Debug)]
pub enum Outcome {
    /// The action took effect.
    Done,
    /// Failed; later actions were not run.
    Failed(AdminError),
}

/// The result of [`Admin::execute`].
#[derive(Debug, Default)]
pub struct ApplyReport {
    /// Actions applied, in order.
    pub done: Vec<Action>,
    /// The action that failed, with the error.
    pub failed: Option<(Action, AdminError)>,
    /// Actions not attempted because of the failure.
    pub not_done: Vec<Action>,
}

impl ApplyReport {
    /// True if every action was applied.
    pub fn ok(&self) -> bool {
        self.failed.is_none()
    }
}

/// The UPDATE_AND_CREATE_TOPIC header for `config` (attributes as `+key=value,...`).
pub fn create_topic_header(config: &TopicConfig) -> CreateTopicRequestHeader {
    let attributes = config
        .attributes
        .iter()
        .map(|(k, v)| format!("+{}={v}", k.trim_start_matches('+')))
        .collect::<Vec<_>>()
        .join(",");
    CreateTopicRequestHeader {
        topic: config.topic_name.clone(),
        default_topic: Some(names::AUTO_CREATE_TOPIC_KEY.to_owned()),
        read_queue_nums: config.read_queue_nums,
        write_queue_nums: config.write_queue_nums,
        perm: config.perm,
        topic_filter_type: Some(config.topic_filter_type.clone()),
        topic_sys_flag: Some(config.topic_sys_flag),
        order: config.order,
        attributes: (!attributes.is_empty()).then_some(attributes),
    }
}

impl Admin {
    /// Runs `actions` in order, calling `on_step` after each; stops at the first failure.
    pub async fn execute(
        &self,
        actions: &[Action],
        mut on_step: impl FnMut(&Action, &Outcome),
    ) -> ApplyReport {
        let mut report = ApplyReport::default();
        let mut iter = actions.iter();
        for action in iter.by_ref() {
            match self.apply_one(action).await {
                Ok(()) => {
                    on_step(action, &Outcome::Done);
                    report.done.push(action.clone());
                }
                Err(e) => {
                    let outcome = Outcome::Failed(e);
                    on_step(action, &outcome);
                    if let Outcome::Failed(e) = outcome {
                        report.failed = Some((action.clone(), e));
                    }
                    break;
                }
            }
        }
        report.not_done = iter.cloned().collect();
        report
    }

    /// Applies one action.
    pub async fn apply_one(&self, action: &Action) -> Result<(), AdminError> {
        match action {
            Action::Own {
                key,
                manager,
                name_servers,
                ..
            } => self.record_owner(key, manager, name_servers).await,
            Action::CreateTopic { broker, config, .. }
            | Action::UpdateTopic { broker, config, .. } => {
                let req = RemotingCommand::request_with(
                    rc::UPDATE_AND_CREATE_TOPIC,
                    &create_topic_header(config),
                );
                let what = format!("UPDATE_AND_CREATE_TOPIC {}", config.topic_name);
                self.call(&broker.addr, req, &what).await.map(drop)
            }
            Action::DeleteTopic {
                cluster,
                topic,
                brokers,
                name_servers,
            } => {
                self.delete_topic(cluster, topic, brokers, name_servers)
                    .await
            }
            Action::CreateGroup { broker, config, .. }
            | Action::UpdateGroup { broker, config, .. } => {
                let req = group_request(config);
                let what = format!("UPDATE_AND_CREATE_SUBSCRIPTIONGROUP {}", config.group_name);
                self.call(&broker.addr, req, &what).await.map(drop)
            }
            Action::DeleteGroup { group, brokers, .. } => self.delete_group(group, brokers).await,
            Action::Disown { key, name_servers } => self.forget_owner(key, name_servers).await,
        }
    }

    /// Sends one request per address, built by `req`; stops at the first failure.
    async fn call_each<A: AsRef<str>>(
        &self,
        addrs: &[A],
        req: impl Fn() -> RemotingCommand,
        what: &str,
    ) -> Result<(), AdminError> {
        for addr in addrs {
            self.call(addr.as_ref(), req(), what).await?;
        }
        Ok(())
    }

    async fn record_owner(
        &self,
        key: &OwnedKey,
        manager: &str,
        name_servers: &[String],
    ) -> Result<(), AdminError> {
        let header = PutKvConfigRequestHeader {
            namespace: OWNERSHIP_NAMESPACE.to_owned(),
            key: key.kv_key(),
            value: manager.to_owned(),
        };
        let req = || RemotingCommand::request_with(rc::PUT_KV_CONFIG, &header);
        self.call_each(name_servers, req, "PUT_KV_CONFIG (ownership record)")
            .await
    }

    async fn forget_owner(
        &self,
        key: &OwnedKey,
        name_servers: &[String],
    ) -> Result<(), AdminError> {
        let header = KvConfigKeyRequestHeader {
            namespace: OWNERSHIP_NAMESPACE.to_owned(),
            key: key.kv_key(),
        };
        let req = || RemotingCommand::request_with(rc::DELETE_KV_CONFIG, &header);
        self.call_each(name_servers, req, "DELETE_KV_CONFIG (ownership record)")
            .await
    }

    /// Deletes `topic` from every master in `brokers`, then its route from every nameserver.
    async fn delete_topic(
        &self,
        cluster: &str,
        topic: &str,
        brokers: &[BrokerRef],
        name_servers: &[String],
    ) -> Result<(), AdminError> {
        let in_broker = TopicRequestHeader {
            topic: topic.to_owned(),
        };
        self.call_each(
            &masters(brokers),
            || RemotingCommand::request_with(rc::DELETE_TOPIC_IN_BROKER, &in_broker),
            &format!("DELETE_TOPIC_IN_BROKER {topic}"),
        )
        .await?;
        let in_namesrv = DeleteTopicFromNamesrvRequestHeader {
            topic: topic.to_owned(),
            cluster_name: Some(cluster.to_owned()),
        };
        self.call_each(
            name_servers,
            || RemotingCommand::request_with(rc::DELETE_TOPIC_IN_NAMESRV, &in_namesrv),
            &format!("DELETE_TOPIC_IN_NAMESRV {topic}"),
        )
        .await
    }

    /// Deletes `group` from every master in `brokers`; its consumer offsets are kept.
    async fn delete_group(&self, group: &str, brokers: &[BrokerRef]) -> Result<(), AdminError> {
        let header = DeleteSubscriptionGroupRequestHeader {
            group_name: group.to_owned(),
            clean_offset: false,
        };
        self.call_each(
            &masters(brokers),
            || RemotingCommand::request_with(rc::DELETE_SUBSCRIPTIONGROUP, &header),
            &format!("DELETE_SUBSCRIPTIONGROUP {group}"),
        )
        .await
    }
}

/// The addresses of `brokers`.
fn masters(brokers: &[BrokerRef]) -> Vec<&str> {
    brokers.iter().map(|b| b.addr.as_str()).collect()
}

fn group_request(config: &SubscriptionGroupConfig) -> RemotingCommand {
    RemotingCommand::request(rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).with_body(to_json(config))
}
