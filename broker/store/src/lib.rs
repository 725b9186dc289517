//! rmq message store: commit log segments, consume queues, checkpoint and crash recovery.
