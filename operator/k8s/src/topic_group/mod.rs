//! The `RocketMQTopic` and `RocketMQConsumerGroup` controllers: one controller, generic over the
//! CR kind ([`Managed`]), reconciling one way from the CR to every master of the referenced
//! `RocketMQCluster` (same namespace) through the admin protocol (rmq-model's `plan` +
//! `admin`), modelled on Strimzi's unidirectional topic operator.
//!
//! - **Apply** (`apply`): validate the CR, find the cluster and its nameservers (the same
//!   Service DNS names the brokers use), observe the masters, plan, execute. Missing objects are
//!   created, differing ones updated — so a change made behind the operator's back (drift) is
//!   reverted on the next resync (`--resync-seconds`).
//! - **Ownership**: each CR records itself (`rmq-operator/<ns>/<kind>/<name>`) as the owner in
//!   the nameservers' KV store before creating; cleanup deletes only what that record says it
//!   owns, so two CRs, `rmqctl apply` and hand-made topics never delete each other's objects.
//! - **Finalizer** (`rmq.dev/topic`, `rmq.dev/consumergroup`, `cleanup`): deleting the CR
//!   deletes the topic (every master, then the nameservers' routes) or the group (offsets are
//!   kept). When the cluster itself is gone there is nothing left to delete and the finalizer is
//!   just removed.
//! - **`rmq.dev/managed: "false"`** (`cleanup::unmanage`): stop managing one object: the
//!   finalizer is removed, the broker object is left as it is, status says `Managed=False`.
//! - `report`: status conditions and Events of both kinds.
//!
//! The two kinds differ only in [`Managed`] (the CR side: `topic.rs`, `group.rs`) and in
//! rmq-model's [`Declared`](rmq_model::plan::Declared) (the broker side: config, diff, actions).

mod apply;
mod cleanup;
mod controller;
mod group;
mod managed;
mod report;
mod topic;

#[cfg(test)]
mod tests;

pub use controller::run;
pub use managed::{MANAGED_CONDITION, Managed};
