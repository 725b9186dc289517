//! What a request needs: the topics and groups it touches with the permission each needs
//! (`PlainAccessResource.parse` of ACL 1.0, extended with the codes ACL 2.0's
//! `DefaultAuthorizationContextBuilder` covers for remoting clients), and the admin-only codes.

use crate::perm::Perm;
use rmq_protocol::ExtFields;
use rmq_protocol::body::heartbeat::HeartbeatData;
use rmq_protocol::body::lock::LockBatchRequestBody;
use rmq_protocol::request_code as rc;
use std::fmt;

/// Request codes that `rmq_protocol::request_code` does not name (values from Java's
/// `RequestCode`).
pub mod extra_code {
    /// RESET_CONSUMER_OFFSET_IN_BROKER.
    pub const RESET_CONSUMER_OFFSET_IN_BROKER: i32 = 212;
    /// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST.
    pub const UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST: i32 = 225;
    /// CLONE_GROUP_OFFSET.
    pub const CLONE_GROUP_OFFSET: i32 = 314;
    /// CLEAN_UNUSED_TOPIC.
    pub const CLEAN_UNUSED_TOPIC: i32 = 316;
    /// UPDATE_NAMESRV_CONFIG.
    pub const UPDATE_NAMESRV_CONFIG: i32 = 318;
    /// UPDATE_AND_GET_GROUP_FORBIDDEN.
    pub const UPDATE_AND_GET_GROUP_FORBIDDEN: i32 = 353;
    /// RECALL_MESSAGE (5.3.2+).
    pub const RECALL_MESSAGE: i32 = 370;
    /// UPDATE_AND_CREATE_STATIC_TOPIC.
    pub const UPDATE_AND_CREATE_STATIC_TOPIC: i32 = 513;
    /// UPDATE_AND_CREATE_ACL_CONFIG (ACL 1.0 admin tool).
    pub const UPDATE_AND_CREATE_ACL_CONFIG: i32 = 50;
    /// DELETE_ACL_CONFIG (ACL 1.0 admin tool).
    pub const DELETE_ACL_CONFIG: i32 = 51;
    /// GET_BROKER_CLUSTER_ACL_INFO (ACL 1.0 admin tool).
    pub const GET_BROKER_CLUSTER_ACL_INFO: i32 = 52;
    /// UPDATE_GLOBAL_WHITE_ADDRS_CONFIG (ACL 1.0 admin tool).
    pub const UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: i32 = 53;
    /// GET_BROKER_CLUSTER_ACL_CONFIG (ACL 1.0 admin tool).
    pub const GET_BROKER_CLUSTER_ACL_CONFIG: i32 = 54;
    /// RESET_MASTER_FLUSH_OFFSET.
    pub const RESET_MASTER_FLUSH_OFFSET: i32 = 908;
    /// POP_MESSAGE.
    pub const POP_MESSAGE: i32 = 200_050;
    /// ACK_MESSAGE.
    pub const ACK_MESSAGE: i32 = 200_051;
    /// CHANGE_MESSAGE_INVISIBLETIME.
    pub const CHANGE_MESSAGE_INVISIBLETIME: i32 = 200_053;
    /// NOTIFICATION.
    pub const NOTIFICATION: i32 = 200_054;
    /// AUTH_CREATE_USER .. AUTH_DELETE_ACL: ACL 2.0 administration (3001..=3010).
    pub const AUTH_FIRST: i32 = 3001;
    /// The last ACL 2.0 administration code.
    pub const AUTH_LAST: i32 = 3010;
}

/// Codes only admin accounts may send. Java's ACL 1.0 list (`Permission.ADMIN_CODE`) is the
/// first nine; rmq adds the other codes that change a broker's or nameserver's state, which Java
/// lets any authenticated account send.
pub const ADMIN_CODES: &[i32] = &[
    rc::UPDATE_AND_CREATE_TOPIC,
    rc::UPDATE_BROKER_CONFIG,
    rc::DELETE_TOPIC_IN_BROKER,
    rc::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
    rc::DELETE_SUBSCRIPTIONGROUP,
    extra_code::UPDATE_AND_CREATE_STATIC_TOPIC,
    extra_code::UPDATE_AND_CREATE_ACL_CONFIG,
    extra_code::DELETE_ACL_CONFIG,
    extra_code::GET_BROKER_CLUSTER_ACL_INFO,
    // rmq additions
    rc::UPDATE_AND_CREATE_TOPIC_LIST,
    extra_code::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST,
    rc::WIPE_WRITE_PERM_OF_BROKER,
    rc::ADD_WRITE_PERM_OF_BROKER,
    extra_code::RESET_CONSUMER_OFFSET_IN_BROKER,
    rc::INVOKE_BROKER_TO_RESET_OFFSET,
    extra_code::CLONE_GROUP_OFFSET,
    rc::CLEAN_EXPIRED_CONSUMEQUEUE,
    extra_code::CLEAN_UNUSED_TOPIC,
    rc::DELETE_EXPIRED_COMMITLOG,
    extra_code::UPDATE_AND_GET_GROUP_FORBIDDEN,
    extra_code::RESET_MASTER_FLUSH_OFFSET,
    extra_code::UPDATE_GLOBAL_WHITE_ADDRS_CONFIG,
    extra_code::GET_BROKER_CLUSTER_ACL_CONFIG,
    rc::PUT_KV_CONFIG,
    rc::DELETE_KV_CONFIG,
    rc::DELETE_TOPIC_IN_NAMESRV,
    rc::REGISTER_TOPIC_IN_NAMESRV,
    extra_code::UPDATE_NAMESRV_CONFIG,
];

/// Whether only admin accounts may send `code`.
pub fn is_admin_only(code: i32) -> bool {
    ADMIN_CODES.contains(&code) || (extra_code::AUTH_FIRST..=extra_code::AUTH_LAST).contains(&code)
}

/// Prefix of a consumer group's retry topic (`MixAll.RETRY_GROUP_TOPIC_PREFIX`).
pub const RETRY_PREFIX: &str = "%RETRY%";
/// The message trace topic; sending to it needs no topic permission (`PlainPermissionManager`).
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

/// A thing permissions are granted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// A topic (never a retry topic: those are their group).
    Topic(String),
    /// A consumer group (`groupPerms`).
    Group(String),
}

impl Resource {
    /// The resource a topic name stands for: retry topics (`%RETRY%group`, and POP's
    /// `%RETRY%group+topic`) are their consumer group, as `KeyBuilder.parseGroup` reads them.
    pub fn of_topic(name: &str) -> Resource {
        match name.strip_prefix(RETRY_PREFIX) {
            Some(rest) => {
                let mut parts = rest.split('+');
                let group = match (parts.next(), parts.next(), parts.next()) {
                    (Some(g), Some(_), None) => g,
                    _ => rest,
                };
                Resource::Group(group.to_owned())
            }
            None => Resource::Topic(name.to_owned()),
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Topic(t) => write!(f, "topic:{t}"),
            Resource::Group(g) => write!(f, "group:{g}"),
        }
    }
}

/// One permission a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// On what.
    pub resource: Resource,
    /// Which permission (PUB, SUB or ANY).
    pub perm: Perm,
}

/// A body the permission check must read (HEART_BEAT, LOCK/UNLOCK_BATCH_MQ) is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request code {code}: the body cannot be read to check permissions: {reason}")]
pub struct BodyError {
    /// The request code.
    pub code: i32,
    /// The decoder's message.
    pub reason: String,
}

/// The permissions request `code` needs, read from its ext fields and, for heartbeats and queue
/// locks, its body. Codes not listed need none (beyond authentication).
pub fn needs(code: i32, fields: &ExtFields, body: &[u8]) -> Result<Vec<Need>, BodyError> {
    let mut out = Vec::new();
    let topic = |field: &str, perm: Perm, out: &mut Vec<Need>| {
        if let Some(name) = fields.get(field) {
            let resource = Resource::of_topic(name);
            // a message sent to a retry topic is a consumer's: it needs SUB on the group
            let perm = if matches!(resource, Resource::Group(_)) {
                Perm::SUB
            } else {
                perm
            };
            out.push(Need { resource, perm });
        }
    };
    let group = |field: &str, out: &mut Vec<Need>| {
        if let Some(name) = fields.get(field) {
            out.push(Need {
                resource: Resource::Group(name.to_owned()),
                perm: Perm::SUB,
            });
        }
    };
    match code {
        rc::SEND_MESSAGE | extra_code::RECALL_MESSAGE | rc::END_TRANSACTION => {
            topic("topic", Perm::PUB, &mut out)
        }
        rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE => topic("b", Perm::PUB, &mut out),
        rc::CONSUMER_SEND_MSG_BACK => group("group", &mut out),
        rc::PULL_MESSAGE
        | rc::LITE_PULL_MESSAGE
        | rc::QUERY_CONSUMER_OFFSET
        | rc::UPDATE_CONSUMER_OFFSET
        | extra_code::POP_MESSAGE
        | extra_code::ACK_MESSAGE
        | extra_code::CHANGE_MESSAGE_INVISIBLETIME
        | extra_code::NOTIFICATION => {
            topic("topic", Perm::SUB, &mut out);
            group("consumerGroup", &mut out);
        }
        rc::QUERY_MESSAGE => topic("topic", Perm::SUB, &mut out),
        // a producer's unregister carries an empty consumer group
        rc::UNREGISTER_CLIENT | rc::GET_CONSUMER_LIST_BY_GROUP
            if fields
                .get("consumerGroup")
                .is_some_and(|g| !g.trim().is_empty()) =>
        {
            group("consumerGroup", &mut out)
        }
        rc::GET_ROUTEINFO_BY_TOPIC => topic("topic", Perm::ANY, &mut out),
        rc::HEART_BEAT => heartbeat_needs(body, &mut out)?,
        rc::LOCK_BATCH_MQ | rc::UNLOCK_BATCH_MQ => lock_needs(code, body, &mut out)?,
        _ => {}
    }
    Ok(out)
}

fn sub(resource: Resource) -> Need {
    Need {
        resource,
        perm: Perm::SUB,
    }
}

fn heartbeat_needs(body: &[u8], out: &mut Vec<Need>) -> Result<(), BodyError> {
    let hb = HeartbeatData::decode(body).map_err(|e| BodyError {
        code: rc::HEART_BEAT,
        reason: e.to_string(),
    })?;
    for consumer in &hb.consumer_data_set {
        out.push(sub(Resource::Group(consumer.group_name.clone())));
        for s in &consumer.subscription_data_set {
            out.push(sub(Resource::of_topic(&s.topic)));
        }
    }
    Ok(())
}

fn lock_needs(code: i32, body: &[u8], out: &mut Vec<Need>) -> Result<(), BodyError> {
    let lock: LockBatchRequestBody = rmq_protocol::body::from_json("LockBatchRequestBody", body)
        .map_err(|e| BodyError {
            code,
            reason: e.to_string(),
        })?;
    out.push(sub(Resource::Group(lock.consumer_group.clone())));
    for mq in &lock.mq_set {
        out.push(sub(Resource::of_topic(&mq.topic)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> ExtFields {
        let mut f = ExtFields::new();
        for (k, v) in pairs {
            f.insert(k, v);
        }
        f
    }

    fn topic(t: &str, perm: Perm) -> Need {
        Need {
            resource: Resource::Topic(t.into()),
            perm,
        }
    }

    fn group(g: &str) -> Need {
        Need {
            resource: Resource::Group(g.into()),
            perm: Perm::SUB,
        }
    }

    #[test]
    fn retry_topics_name_their_group() {
        assert_eq!(
            Resource::of_topic("orders"),
            Resource::Topic("orders".into())
        );
        assert_eq!(
            Resource::of_topic("%RETRY%cg"),
            Resource::Group("cg".into())
        );
        assert_eq!(
            Resource::of_topic("%RETRY%cg+orders"),
            Resource::Group("cg".into())
        );
        // POP retry v1 cannot be split, as in Java
        assert_eq!(
            Resource::of_topic("%RETRY%cg_orders"),
            Resource::Group("cg_orders".into())
        );
        assert_eq!(
            Resource::of_topic("%DLQ%cg"),
            Resource::Topic("%DLQ%cg".into())
        );
        assert_eq!(Resource::Group("g".into()).to_string(), "group:g");
    }

    #[test]
    fn needs_per_code() {
        let f = fields(&[
            ("topic", "t"),
            ("consumerGroup", "cg"),
            ("group", "g"),
            ("b", "tb"),
        ]);
        let n = |code| needs(code, &f, b"").expect("needs");
        assert_eq!(n(rc::SEND_MESSAGE), [topic("t", Perm::PUB)]);
        assert_eq!(n(rc::SEND_MESSAGE_V2), [topic("tb", Perm::PUB)]);
        assert_eq!(n(rc::SEND_BATCH_MESSAGE), [topic("tb", Perm::PUB)]);
        assert_eq!(n(extra_code::RECALL_MESSAGE), [topic("t", Perm::PUB)]);
        assert_eq!(n(rc::END_TRANSACTION), [topic("t", Perm::PUB)]);
        assert_eq!(n(rc::CONSUMER_SEND_MSG_BACK), [group("g")]);
        for code in [
            rc::PULL_MESSAGE,
            rc::QUERY_CONSUMER_OFFSET,
            rc::UPDATE_CONSUMER_OFFSET,
            extra_code::POP_MESSAGE,
            extra_code::ACK_MESSAGE,
        ] {
            assert_eq!(n(code), [topic("t", Perm::SUB), group("cg")], "code {code}");
        }
        assert_eq!(n(rc::QUERY_MESSAGE), [topic("t", Perm::SUB)]);
        assert_eq!(n(rc::UNREGISTER_CLIENT), [group("cg")]);
        assert_eq!(n(rc::GET_ROUTEINFO_BY_TOPIC), [topic("t", Perm::ANY)]);
        assert!(n(rc::GET_BROKER_CONFIG).is_empty());
        // absent fields need nothing; a producer's unregister has no consumer group
        assert!(
            needs(rc::SEND_MESSAGE, &ExtFields::new(), b"")
                .expect("needs")
                .is_empty()
        );
        let producer = fields(&[("producerGroup", "pg"), ("consumerGroup", "")]);
        assert!(
            needs(rc::UNREGISTER_CLIENT, &producer, b"")
                .expect("needs")
                .is_empty()
        );
    }

    #[test]
    fn lock_bodies_name_group_and_topics() {
        let body = br#"{"consumerGroup":"cg","clientId":"c","onlyThisBroker":false,"mqSet":[{"topic":"t1","brokerName":"b","queueId":0},{"topic":"%RETRY%cg","brokerName":"b","queueId":0}]}"#;
        let n = needs(rc::LOCK_BATCH_MQ, &ExtFields::new(), body).expect("needs");
        assert_eq!(n, [group("cg"), group("cg"), topic("t1", Perm::SUB)]);
        let err = needs(rc::UNLOCK_BATCH_MQ, &ExtFields::new(), b"[").expect_err("bad body");
        assert_eq!(err.code, rc::UNLOCK_BATCH_MQ);
    }

    #[test]
    fn admin_codes() {
        for code in [17, 25, 215, 200, 207, 513, 50, 51, 52, 205, 222, 3001, 3010] {
            assert!(is_admin_only(code), "{code}");
        }
        for code in [10, 11, 34, 310, 26, 3011, 2999] {
            assert!(!is_admin_only(code), "{code}");
        }
    }
}
