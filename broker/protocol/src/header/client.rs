//! Client-session headers: unregister, consumer lists, broker-to-client notifications.

use crate::command_header;

command_header! {
    /// UNREGISTER_CLIENT request header.
    pub struct UnregisterClientRequestHeader {
        client_id: String => "clientID",
        producer_group: Option<String> => "producerGroup",
        consumer_group: Option<String> => "consumerGroup",
    }
}

command_header! {
    /// GET_CONSUMER_LIST_BY_GROUP, NOTIFY_CONSUMER_IDS_CHANGED and GET_CONSUMER_CONNECTION_LIST header.
    pub struct ConsumerGroupRequestHeader {
        consumer_group: String => "consumerGroup",
    }
}

command_header! {
    /// GET_PRODUCER_CONNECTION_LIST request header.
    pub struct ProducerGroupRequestHeader {
        producer_group: String => "producerGroup",
    }
}
