//! Send-path headers: SEND_MESSAGE (V1 names), SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE (letter
//! names), the send response, and CONSUMER_SEND_MSG_BACK.

use crate::command_header;

command_header! {
    /// SEND_MESSAGE request header with the V1 field names (Go, Java with `sendSmartMsg=false`).
    pub struct SendMessageRequestHeader {
        producer_group: String => "producerGroup",
        topic: String => "topic",
        default_topic: Option<String> => "defaultTopic",
        default_topic_queue_nums: Option<i32> => "defaultTopicQueueNums",
        queue_id: i32 => "queueId",
        sys_flag: Option<i32> => "sysFlag",
        born_timestamp: Option<i64> => "bornTimestamp",
        flag: Option<i32> => "flag",
        properties: Option<String> => "properties",
        reconsume_times: Option<i32> => "reconsumeTimes",
        unit_mode: bool => "unitMode",
        batch: bool => "batch",
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
        broker_name: Option<String> => "bname",
    }
}

command_header! {
    /// SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request header: the same fields renamed `a`..`n`.
    pub struct SendMessageRequestHeaderV2 {
        producer_group: String => "a",
        topic: String => "b",
        default_topic: Option<String> => "c",
        default_topic_queue_nums: Option<i32> => "d",
        queue_id: i32 => "e",
        sys_flag: Option<i32> => "f",
        born_timestamp: Option<i64> => "g",
        flag: Option<i32> => "h",
        properties: Option<String> => "i",
        reconsume_times: Option<i32> => "j",
        unit_mode: bool => "k",
        max_reconsume_times: Option<i32> => "l",
        batch: bool => "m",
        broker_name: Option<String> => "n",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        Self {
            producer_group: v2.producer_group,
            topic: v2.topic,
            default_topic: v2.default_topic,
            default_topic_queue_nums: v2.default_topic_queue_nums,
            queue_id: v2.queue_id,
            sys_flag: v2.sys_flag,
            born_timestamp: v2.born_timestamp,
            flag: v2.flag,
            properties: v2.properties,
            reconsume_times: v2.reconsume_times,
            unit_mode: v2.unit_mode,
            batch: v2.batch,
            max_reconsume_times: v2.max_reconsume_times,
            broker_name: v2.broker_name,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        Self {
            producer_group: v1.producer_group,
            topic: v1.topic,
            default_topic: v1.default_topic,
            default_topic_queue_nums: v1.default_topic_queue_nums,
            queue_id: v1.queue_id,
            sys_flag: v1.sys_flag,
            born_timestamp: v1.born_timestamp,
            flag: v1.flag,
            properties: v1.properties,
            reconsume_times: v1.reconsume_times,
            unit_mode: v1.unit_mode,
            batch: v1.batch,
            max_reconsume_times: v1.max_reconsume_times,
            broker_name: v1.broker_name,
        }
    }
}

command_header! {
    /// Send response header. `msgId` is the offset message id of the stored record.
    pub struct SendMessageResponseHeader {
        msg_id: String => "msgId",
        queue_id: i32 => "queueId",
        queue_offset: i64 => "queueOffset",
        transaction_id: Option<String> => "transactionId",
        batch_uniq_id: Option<String> => "batchUniqId",
    }
}

command_header! {
    /// CONSUMER_SEND_MSG_BACK request header (a consumer reports a failed message).
    pub struct ConsumerSendMsgBackRequestHeader {
        offset: i64 => "offset",
        group: String => "group",
        delay_level: i32 => "delayLevel",
        origin_msg_id: Option<String> => "originMsgId",
        origin_topic: Option<String> => "originTopic",
        unit_mode: bool => "unitMode",
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExtFields;
    use crate::header::CommandHeader;

    #[test]
    fn v2_letters_map_to_v1_names() {
        let ext: ExtFields = [
            ("a", "PG"),
            ("b", "TopicTest"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "3"),
            ("f", "0"),
            ("g", "1700000000000"),
            ("h", "0"),
            ("i", "TAGS\u{1}TagA\u{2}"),
            ("j", "0"),
            ("k", "false"),
            ("m", "false"),
            ("n", "broker-a"),
        ]
        .into_iter()
        .collect();
        let v1: SendMessageRequestHeader =
            SendMessageRequestHeaderV2::read_from(&ext).unwrap().into();
        assert_eq!(v1.producer_group, "PG");
        assert_eq!(v1.topic, "TopicTest");
        assert_eq!(v1.queue_id, 3);
        assert_eq!(v1.born_timestamp, Some(1_700_000_000_000));
        assert_eq!(v1.properties.as_deref(), Some("TAGS\u{1}TagA\u{2}"));
        assert_eq!(v1.broker_name.as_deref(), Some("broker-a"));
        assert!(!v1.batch);
    }
}
