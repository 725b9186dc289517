//! The controller's request and response headers and JSON bodies, with the field names of
//! Java's classes (`remoting/.../protocol/header/controller/`, `body/SyncStateSet`,
//! `ElectMasterResponseBody`, `BrokerMemberGroup`, `BrokerReplicasInfo`), so that Java brokers
//! and `mqadmin` read them. Broker ids are `Long` in Java: `i64` here.

use rmq_protocol::command_header;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

command_header! {
    /// CONTROLLER_GET_NEXT_BROKER_ID request.
    pub struct GetNextBrokerIdRequestHeader {
        cluster_name: String => "clusterName",
        broker_name: String => "brokerName",
    }
}

command_header! {
    /// CONTROLLER_GET_NEXT_BROKER_ID response.
    pub struct GetNextBrokerIdResponseHeader {
        cluster_name: String => "clusterName",
        broker_name: String => "brokerName",
        next_broker_id: Option<i64> => "nextBrokerId",
    }
}

command_header! {
    /// CONTROLLER_APPLY_BROKER_ID request; `registerCheckCode` is `address;token`.
    pub struct ApplyBrokerIdRequestHeader {
        cluster_name: String => "clusterName",
        broker_name: String => "brokerName",
        applied_broker_id: i64 => "appliedBrokerId",
        register_check_code: String => "registerCheckCode",
    }
}

command_header! {
    /// CONTROLLER_APPLY_BROKER_ID response.
    pub struct ApplyBrokerIdResponseHeader {
        cluster_name: String => "clusterName",
        broker_name: String => "brokerName",
    }
}

command_header! {
    /// CONTROLLER_REGISTER_BROKER request.
    pub struct RegisterBrokerToControllerRequestHeader {
        cluster_name: String => "clusterName",
        broker_name: String => "brokerName",
        broker_id: i64 => "brokerId",
        broker_address: String => "brokerAddress",
    }
}

command_header! {
    /// CONTROLLER_REGISTER_BROKER response: the master when one is alive.
    pub struct RegisterBrokerToControllerResponseHeader {
        cluster_name: String => "clusterName",
        broker_name: String => "brokerName",
        master_broker_id: Option<i64> => "masterBrokerId",
        master_address: Option<String> => "masterAddress",
        master_epoch: Option<i32> => "masterEpoch",
        sync_state_set_epoch: Option<i32> => "syncStateSetEpoch",
    }
}

command_header! {
    /// CONTROLLER_ELECT_MASTER request. `brokerId` -1 or absent: nobody asks (the controller
    /// elects); `designateElect`: an admin names the broker (`mqadmin electMaster`).
    pub struct ElectMasterRequestHeader {
        cluster_name: Option<String> => "clusterName",
        broker_name: String => "brokerName",
        broker_id: Option<i64> => "brokerId",
        designate_elect: bool => "designateElect",
    }
}

command_header! {
    /// CONTROLLER_ELECT_MASTER response and NOTIFY_BROKER_ROLE_CHANGED request (same fields).
    pub struct ElectMasterResponseHeader {
        master_broker_id: Option<i64> => "masterBrokerId",
        master_address: Option<String> => "masterAddress",
        master_epoch: Option<i32> => "masterEpoch",
        sync_state_set_epoch: Option<i32> => "syncStateSetEpoch",
    }
}

command_header! {
    /// CONTROLLER_ALTER_SYNC_STATE_SET request (the new set is the [`SyncStateSetBody`]).
    pub struct AlterSyncStateSetRequestHeader {
        broker_name: String => "brokerName",
        master_broker_id: i64 => "masterBrokerId",
        master_epoch: i32 => "masterEpoch",
    }
}

command_header! {
    /// CONTROLLER_ALTER_SYNC_STATE_SET response.
    pub struct AlterSyncStateSetResponseHeader {
        new_sync_state_set_epoch: i32 => "newSyncStateSetEpoch",
    }
}

command_header! {
    /// CONTROLLER_GET_REPLICA_INFO request.
    pub struct GetReplicaInfoRequestHeader {
        broker_name: String => "brokerName",
    }
}

command_header! {
    /// CONTROLLER_GET_REPLICA_INFO response (the in-sync set is the [`SyncStateSetBody`]).
    pub struct GetReplicaInfoResponseHeader {
        master_broker_id: Option<i64> => "masterBrokerId",
        master_address: Option<String> => "masterAddress",
        master_epoch: Option<i32> => "masterEpoch",
    }
}

command_header! {
    /// CONTROLLER_GET_METADATA_INFO response: the Raft group, its leader, whether the answering
    /// replica leads, and every peer as `id:host:port;`.
    pub struct GetMetaDataResponseHeader {
        group: String => "group",
        controller_leader_id: Option<String> => "controllerLeaderId",
        controller_leader_address: Option<String> => "controllerLeaderAddress",
        is_leader: bool => "isLeader",
        peers: String => "peers",
    }
}

command_header! {
    /// CLEAN_BROKER_DATA request; `brokerControllerIdsToClean` is `1;2` (empty: the group).
    pub struct CleanControllerBrokerDataRequestHeader {
        cluster_name: Option<String> => "clusterName",
        broker_name: String => "brokerName",
        broker_controller_ids_to_clean: Option<String> => "brokerControllerIdsToClean",
        is_clean_living_broker: bool => "isCleanLivingBroker",
    }
}

command_header! {
    /// BROKER_HEARTBEAT to the controller (Java's `BrokerHeartbeatRequestHeader`).
    pub struct BrokerHeartbeatRequestHeader {
        cluster_name: String => "clusterName",
        broker_addr: String => "brokerAddr",
        broker_name: String => "brokerName",
        broker_id: Option<i64> => "brokerId",
        epoch: Option<i32> => "epoch",
        max_offset: Option<i64> => "maxOffset",
        confirm_offset: Option<i64> => "confirmOffset",
        heartbeat_timeout_mills: Option<i64> => "heartbeatTimeoutMills",
        election_priority: Option<i32> => "electionPriority",
    }
}

/// Java's `SyncStateSet`: an in-sync set and its epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStateSetBody {
    /// The in-sync broker ids.
    #[serde(default)]
    pub sync_state_set: BTreeSet<i64>,
    /// Its epoch.
    #[serde(default)]
    pub sync_state_set_epoch: i32,
}

/// Java's `BrokerMemberGroup`: the members of a group by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerMemberGroup {
    /// The cluster.
    pub cluster: String,
    /// The group (`brokerName`).
    pub broker_name: String,
    /// Address of every member, by id.
    pub broker_addrs: BTreeMap<i64, String>,
}

/// Java's `ElectMasterResponseBody`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElectMasterResponseBody {
    /// The group's members (set when a new master was elected).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub broker_member_group: Option<BrokerMemberGroup>,
    /// The in-sync set after the election.
    #[serde(default)]
    pub sync_state_set: BTreeSet<i64>,
}

/// Java's `BrokerReplicasInfo`: the answer to CONTROLLER_GET_SYNC_STATE_DATA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerReplicasInfo {
    /// Per group.
    pub replicas_info_table: BTreeMap<String, ReplicasInfo>,
}

/// One group in [`BrokerReplicasInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicasInfo {
    /// The master (absent when the group has none).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub master_broker_id: Option<i64>,
    /// The master's address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub master_address: Option<String>,
    /// The master epoch.
    pub master_epoch: i32,
    /// The in-sync set's epoch.
    pub sync_state_set_epoch: i32,
    /// Members in the in-sync set.
    pub in_sync_replicas: Vec<ReplicaIdentity>,
    /// The other members.
    pub not_in_sync_replicas: Vec<ReplicaIdentity>,
}

/// One member in [`ReplicasInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaIdentity {
    /// The group.
    pub broker_name: String,
    /// The member's id.
    pub broker_id: i64,
    /// Its address.
    pub broker_address: String,
    /// Whether it heartbeats to the answering controller.
    pub alive: bool,
}

/// Broker ids are `u64` in the state and `Long` on the wire.
pub fn wire_id(id: crate::BrokerId) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// Epochs are `u32` in the state and `Integer` on the wire.
pub fn wire_epoch(epoch: u32) -> i32 {
    i32::try_from(epoch).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_protocol::ExtFields;
    use rmq_protocol::header::CommandHeader;

    #[test]
    fn headers_use_the_java_field_names() {
        let h = GetMetaDataResponseHeader {
            group: "g".into(),
            controller_leader_id: Some("n0".into()),
            controller_leader_address: Some("127.0.0.1:9878".into()),
            is_leader: true,
            peers: "n0:127.0.0.1:9878;".into(),
        };
        let mut ext = ExtFields::new();
        h.write_to(&mut ext);
        assert_eq!(ext.get("isLeader"), Some("true"));
        assert_eq!(ext.get("controllerLeaderAddress"), Some("127.0.0.1:9878"));
        let ext: ExtFields = [
            ("clusterName", "c"),
            ("brokerName", "b"),
            ("brokerId", "-1"),
            ("designateElect", "false"),
            ("invokeTime", "1700000000000"),
        ]
        .into_iter()
        .collect();
        let e = ElectMasterRequestHeader::read_from(&ext).unwrap();
        assert_eq!((e.broker_id, e.designate_elect), (Some(-1), false));
        let ext: ExtFields = [("brokerName", "b"), ("masterBrokerId", "1")]
            .into_iter()
            .collect();
        let err = AlterSyncStateSetRequestHeader::read_from(&ext).unwrap_err();
        assert!(err.to_string().contains("masterEpoch"), "{err}");
    }

    #[test]
    fn bodies_read_and_write_java_json() {
        // as fastjson writes a SyncStateSet
        let java = r#"{"syncStateSet":[2,1],"syncStateSetEpoch":3}"#;
        let s: SyncStateSetBody = serde_json::from_str(java).unwrap();
        assert_eq!(s.sync_state_set, BTreeSet::from([1, 2]));
        let info = BrokerReplicasInfo {
            replicas_info_table: BTreeMap::from([(
                "b".to_owned(),
                ReplicasInfo {
                    master_broker_id: Some(1),
                    master_address: Some("a:1".into()),
                    master_epoch: 2,
                    sync_state_set_epoch: 3,
                    in_sync_replicas: vec![ReplicaIdentity {
                        broker_name: "b".into(),
                        broker_id: 1,
                        broker_address: "a:1".into(),
                        alive: true,
                    }],
                    not_in_sync_replicas: vec![],
                },
            )]),
        };
        let json = serde_json::to_string(&info).unwrap();
        assert!(
            json.contains(r#""replicasInfoTable":{"b":{"masterBrokerId":1"#),
            "{json}"
        );
        assert!(
            json.contains(r#""inSyncReplicas":[{"brokerName":"b","brokerId":1"#),
            "{json}"
        );
        let group = BrokerMemberGroup {
            cluster: "c".into(),
            broker_name: "b".into(),
            broker_addrs: BTreeMap::from([(1, "a:1".into())]),
        };
        let body = ElectMasterResponseBody {
            broker_member_group: Some(group),
            sync_state_set: BTreeSet::from([1]),
        };
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            r#"{"brokerMemberGroup":{"cluster":"c","brokerName":"b","brokerAddrs":{"1":"a:1"}},"syncStateSet":[1]}"#
        );
        // fastjson may write map keys unquoted: serde_json cannot read that, but we only read
        // bodies Java builds from sets and plain objects (never integer-keyed maps).
        assert_eq!(wire_id(u64::MAX), i64::MAX);
    }
}
