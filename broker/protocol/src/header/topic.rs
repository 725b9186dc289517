//! Admin headers for topics and subscription groups.

use crate::command_header;

command_header! {
    /// UPDATE_AND_CREATE_TOPIC request header (mqadmin updateTopic).
    pub struct CreateTopicRequestHeader {
        topic: String => "topic",
        default_topic: Option<String> => "defaultTopic",
        read_queue_nums: i32 => "readQueueNums",
        write_queue_nums: i32 => "writeQueueNums",
        perm: i32 => "perm",
        topic_filter_type: Option<String> => "topicFilterType",
        topic_sys_flag: Option<i32> => "topicSysFlag",
        order: bool => "order",
        attributes: Option<String> => "attributes",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_BROKER, GET_TOPIC_STATS_INFO, QUERY_TOPIC_CONSUME_BY_WHO request header.
    pub struct TopicRequestHeader {
        topic: String => "topic",
    }
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP request header.
    pub struct DeleteSubscriptionGroupRequestHeader {
        group_name: String => "groupName",
        clean_offset: bool => "cleanOffset",
    }
}

command_header! {
    /// GET_CONSUME_STATS request header.
    pub struct GetConsumeStatsRequestHeader {
        consumer_group: String => "consumerGroup",
        topic: Option<String> => "topic",
    }
}

command_header! {
    /// VIEW_BROKER_STATS_DATA request header (mqadmin statsAll, rocketmq-exporter): one stats
    /// item, by name (`TOPIC_PUT_NUMS`, `GROUP_GET_NUMS`, ...) and key (`topic`, `topic@group`,
    /// the cluster name).
    pub struct ViewBrokerStatsDataRequestHeader {
        stats_name: String => "statsName",
        stats_key: String => "statsKey",
    }
}
