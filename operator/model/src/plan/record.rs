//! [`Observed::record`]: what an executed action changed, written into an observation, so a
//! caller that keeps one observation for many plans (the operator's per-cluster cache) plans the
//! next object against the state its own actions produced instead of observing again. Pure.

use super::key::OwnedKey;
use super::model::{Action, BrokerRef, Observed, ObservedBroker};

impl Observed {
    /// Applies `action` (which was executed successfully) to this observation.
    pub fn record(&mut self, action: &Action) {
        match action {
            Action::Own {
                key,
                manager,
                name_servers,
                ..
            } => {
                let records = self.owners.entry(key.clone()).or_default();
                for ns in name_servers {
                    records.insert(ns.clone(), manager.clone());
                }
            }
            Action::Disown { key, name_servers } => self.disown(key, name_servers),
            Action::CreateTopic {
                cluster,
                broker,
                config,
            }
            | Action::UpdateTopic {
                cluster,
                broker,
                config,
                ..
            } => {
                if let Some(m) = self.master_mut(cluster, broker) {
                    m.topics.insert(config.topic_name.clone(), config.clone());
                }
            }
            Action::CreateGroup {
                cluster,
                broker,
                config,
            }
            | Action::UpdateGroup {
                cluster,
                broker,
                config,
                ..
            } => {
                if let Some(m) = self.master_mut(cluster, broker) {
                    m.groups.insert(config.group_name.clone(), config.clone());
                }
            }
            Action::DeleteTopic {
                cluster,
                topic,
                brokers,
                ..
            } => {
                for b in brokers {
                    if let Some(m) = self.master_mut(cluster, b) {
                        m.topics.remove(topic);
                    }
                }
            }
            Action::DeleteGroup {
                cluster,
                group,
                brokers,
            } => {
                for b in brokers {
                    if let Some(m) = self.master_mut(cluster, b) {
                        m.groups.remove(group);
                    }
                }
            }
        }
    }

    fn disown(&mut self, key: &OwnedKey, name_servers: &[String]) {
        if let Some(records) = self.owners.get_mut(key) {
            for ns in name_servers {
                records.remove(ns);
            }
            if records.is_empty() {
                self.owners.remove(key);
            }
        }
    }

    /// The observed master `broker` of `cluster` (matched by group name and address).
    fn master_mut(&mut self, cluster: &str, broker: &BrokerRef) -> Option<&mut ObservedBroker> {
        self.clusters
            .get_mut(cluster)?
            .masters
            .iter_mut()
            .find(|m| m.name == broker.name && m.addr == broker.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::ObservedCluster;
    use crate::plan::{Desired, ObjectKind, plan};
    use crate::validate::TopicDecl;
    use crate::{MessageType, TopicPerm};
    use rmq_protocol::body::topic_config::TopicConfig;

    fn observed() -> Observed {
        let master = |name: &str, addr: &str| ObservedBroker {
            name: name.into(),
            addr: addr.into(),
            ..ObservedBroker::default()
        };
        let mut o = Observed {
            name_servers: vec!["ns0:9876".into(), "ns1:9876".into()],
            ..Observed::default()
        };
        o.clusters.insert(
            "c".into(),
            ObservedCluster {
                name: "c".into(),
                masters: vec![master("a", "a:10911"), master("b", "b:10911")],
                groups_without_master: Vec::new(),
            },
        );
        o
    }

    fn declaring(name: &str, manager: &str) -> Desired {
        Desired {
            manager: manager.into(),
            topics: vec![TopicDecl {
                cluster: "c".into(),
                name: name.into(),
                queues: 4,
                perm: TopicPerm::ReadWrite,
                message_type: MessageType::Normal,
                attributes: Default::default(),
            }],
            ..Desired::default()
        }
    }

    fn record_all(o: &mut Observed, actions: &[Action]) {
        for a in actions {
            o.record(a);
        }
    }

    /// Plans `desired` against `o` and records the actions.
    fn converge(o: &mut Observed, desired: &Desired) {
        let actions = plan(desired, o).expect("plan");
        record_all(o, &actions);
    }

    #[test]
    fn a_recorded_plan_leaves_nothing_to_do() {
        let mut o = observed();
        let desired = declaring("orders", "m1");
        let actions = plan(&desired, &o).expect("plan");
        assert_eq!(actions.len(), 3, "own + create on 2 masters: {actions:?}");
        record_all(&mut o, &actions);
        assert!(
            o.clusters["c"]
                .masters
                .iter()
                .all(|m| m.topics.contains_key("orders"))
        );
        let again = plan(&desired, &o).expect("plan");
        assert!(again.is_empty(), "recorded state converged: {again:?}");
    }

    #[test]
    fn recorded_deletion_removes_topic_and_records() {
        let mut o = observed();
        converge(&mut o, &declaring("orders", "m1"));
        let prune = Desired {
            manager: "m1".into(),
            scope: ["c".to_owned()].into(),
            ..Desired::default()
        };
        let deletions = plan(&prune, &o).expect("plan");
        assert_eq!(deletions.len(), 2, "delete + disown: {deletions:?}");
        record_all(&mut o, &deletions);
        assert!(o.clusters["c"].masters.iter().all(|m| m.topics.is_empty()));
        assert!(o.owners.is_empty());
        assert!(plan(&prune, &o).expect("plan").is_empty());
    }

    #[test]
    fn another_managers_objects_are_untouched() {
        let mut o = observed();
        converge(&mut o, &declaring("orders", "m1"));
        converge(&mut o, &declaring("payments", "m2"));
        let key = OwnedKey {
            kind: ObjectKind::Topic,
            cluster: "c".into(),
            name: "payments".into(),
        };
        assert_eq!(
            o.owners[&key].len(),
            2,
            "m2 owns payments on both nameservers"
        );
        assert!(o.clusters["c"].masters.iter().all(|m| m.topics.len() == 2));
    }

    #[test]
    fn an_unknown_master_is_ignored() {
        let mut o = observed();
        let before = o.clone();
        o.record(&Action::CreateTopic {
            cluster: "c".into(),
            broker: BrokerRef {
                name: "z".into(),
                addr: "z:1".into(),
            },
            config: TopicConfig::new("t", 1),
        });
        assert_eq!(o, before);
    }
}
