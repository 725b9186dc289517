//! PULL_MESSAGE / LITE_PULL_MESSAGE headers and the pull sysFlag bits.

use crate::command_header;

/// Pull sysFlag bit: `commitOffset` is valid and should be stored.
pub const PULL_FLAG_COMMIT_OFFSET: i32 = 0x1;
/// Pull sysFlag bit: the broker may hold the request (long polling).
pub const PULL_FLAG_SUSPEND: i32 = 0x2;
/// Pull sysFlag bit: `subscription`/`expressionType` carry the filter.
pub const PULL_FLAG_SUBSCRIPTION: i32 = 0x4;
/// Pull sysFlag bit: class filter (unsupported).
pub const PULL_FLAG_CLASS_FILTER: i32 = 0x8;
/// Pull sysFlag bit: lite pull.
pub const PULL_FLAG_LITE_PULL: i32 = 0x10;

command_header! {
    /// PULL_MESSAGE request header.
    pub struct PullMessageRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: String => "topic",
        queue_id: i32 => "queueId",
        queue_offset: i64 => "queueOffset",
        max_msg_nums: i32 => "maxMsgNums",
        sys_flag: i32 => "sysFlag",
        commit_offset: i64 => "commitOffset",
        suspend_timeout_millis: i64 => "suspendTimeoutMillis",
        subscription: Option<String> => "subscription",
        sub_version: i64 => "subVersion",
        expression_type: Option<String> => "expressionType",
        max_msg_bytes: Option<i32> => "maxMsgBytes",
    }
}

command_header! {
    /// PULL_MESSAGE response header; every field is always present (Java unboxes them).
    pub struct PullMessageResponseHeader {
        suggest_which_broker_id: i64 => "suggestWhichBrokerId",
        next_begin_offset: i64 => "nextBeginOffset",
        min_offset: i64 => "minOffset",
        max_offset: i64 => "maxOffset",
        topic_sys_flag: Option<i32> => "topicSysFlag",
        group_sys_flag: Option<i32> => "groupSysFlag",
    }
}
