//! Topic and group naming rules (Java `TopicValidator`), and the system topics and prefixes.
//! The delay topic's name is part of the stored message format: [`crate::message::SCHEDULE_TOPIC`].

use crate::message::SCHEDULE_TOPIC;

/// Retry topic prefix.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Dead letter topic prefix.
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
/// The auto-create key topic.
pub const AUTO_CREATE_TOPIC_KEY: &str = "TBW102";
/// Half (prepared) transaction messages.
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Transaction op records.
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Half messages checked too often.
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Self test topic.
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
/// Longest topic name.
pub const MAX_TOPIC_LEN: usize = 127;
/// Longest group name.
pub const MAX_GROUP_LEN: usize = 120;

/// Topics clients may not send to directly.
pub const NOT_ALLOWED_SEND_TOPICS: &[&str] = &[
    SCHEDULE_TOPIC,
    TRANS_HALF_TOPIC,
    TRANS_OP_HALF_TOPIC,
    TRANS_CHECK_MAX_TIME_TOPIC,
];

fn valid_chars(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
}

/// Checks a topic name; the error says what is wrong.
pub fn validate_topic(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("the topic name is blank".into());
    }
    let max =
        if name.starts_with(RETRY_GROUP_TOPIC_PREFIX) || name.starts_with(DLQ_GROUP_TOPIC_PREFIX) {
            255
        } else {
            MAX_TOPIC_LEN
        };
    if name.len() > max {
        return Err(format!(
            "the topic name {name:?} is {} characters long; the limit is {max}",
            name.len()
        ));
    }
    if !valid_chars(name) {
        return Err(format!(
            "the topic name {name:?} contains illegal characters; use only letters, digits, %, |, _ and -"
        ));
    }
    Ok(())
}

/// Checks a consumer or producer group name.
pub fn validate_group(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("the group name is blank".into());
    }
    if name.len() > MAX_GROUP_LEN {
        return Err(format!(
            "the group name {name:?} is {} characters long; the limit is {MAX_GROUP_LEN}",
            name.len()
        ));
    }
    if !valid_chars(name) {
        return Err(format!(
            "the group name {name:?} contains illegal characters; use only letters, digits, %, |, _ and -"
        ));
    }
    Ok(())
}

/// `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// `%DLQ%<group>`.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

/// True for topics the broker owns (schedule, transactions, rmq_sys_ ...).
pub fn is_system_topic(topic: &str) -> bool {
    NOT_ALLOWED_SEND_TOPICS.contains(&topic)
        || topic == AUTO_CREATE_TOPIC_KEY
        || topic == SELF_TEST_TOPIC
        || topic.starts_with("rmq_sys_")
        || topic == "RMQ_SYS_TRACE_TOPIC"
        || topic == "OFFSET_MOVED_EVENT"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_rules() {
        assert!(validate_topic("Topic_A-1|x%").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("a b").unwrap_err().contains("illegal"));
        assert!(validate_topic(&"t".repeat(128)).is_err());
        assert!(validate_topic(&format!("%RETRY%{}", "g".repeat(200))).is_ok());
        assert!(validate_group(&"g".repeat(121)).is_err());
        assert_eq!(retry_topic("g"), "%RETRY%g");
        assert!(is_system_topic("SCHEDULE_TOPIC_XXXX"));
        assert!(!is_system_topic("orders"));
    }
}
