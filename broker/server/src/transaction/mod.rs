//! Transactional messages (reference §5.8).
//!
//! - Prepare: a send with `TRAN_MSG=true` is stored as a *half message* in
//!   `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 (real topic/queue in `REAL_TOPIC`/`REAL_QID`,
//!   `__transactionId__` = `UNIQ_KEY`, transaction bits reset so it gets a queue unit);
//!   consumers never see it.
//! - END_TRANSACTION ([`crate::processor`] → [`Transactions::resolve`]): commit stores the
//!   message in its real queue, then an *op record* in `RMQ_SYS_TRANS_OP_HALF_TOPIC`; rollback
//!   only writes the op record.
//! - Check-back ([`check`]): unresolved halves older than `transactionTimeOut` are re-appended
//!   with `TRANSACTION_CHECK_TIMES + 1` and CHECK_TRANSACTION_STATE goes to a producer of the
//!   group, at most `transactionCheckMax` times, every `transactionCheckInterval`.
//! - Restarts: progress is the `CID_RMQ_SYS_TRANS` consumer offset of the half and op queues;
//!   the resolved set is rebuilt from the op queue ([`OpBook`]), so nothing is lost and — thanks
//!   to the transaction id on op records — nothing is committed twice.

mod check;
mod op_book;
mod resolve;
#[cfg(test)]
mod tests;

pub use check::{CheckService, spawn as spawn_checker};
pub use op_book::{OpBook, parse_op_body};
pub use resolve::{CHECK_GROUP, OP_TAG, Transactions, prepare_half, txn_id};
