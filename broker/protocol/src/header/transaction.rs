//! Transaction headers: END_TRANSACTION (producer → broker) and CHECK_TRANSACTION_STATE
//! (broker → producer).

use crate::command_header;

command_header! {
    /// END_TRANSACTION request header.
    pub struct EndTransactionRequestHeader {
        producer_group: String => "producerGroup",
        tran_state_table_offset: i64 => "tranStateTableOffset",
        commit_log_offset: i64 => "commitLogOffset",
        commit_or_rollback: i32 => "commitOrRollback",
        from_transaction_check: bool => "fromTransactionCheck",
        msg_id: Option<String> => "msgId",
        transaction_id: Option<String> => "transactionId",
        topic: Option<String> => "topic",
    }
}

command_header! {
    /// CHECK_TRANSACTION_STATE request header.
    pub struct CheckTransactionStateRequestHeader {
        topic: Option<String> => "topic",
        tran_state_table_offset: i64 => "tranStateTableOffset",
        commit_log_offset: i64 => "commitLogOffset",
        msg_id: Option<String> => "msgId",
        transaction_id: Option<String> => "transactionId",
        offset_msg_id: Option<String> => "offsetMsgId",
        broker_name: Option<String> => "bname",
    }
}
