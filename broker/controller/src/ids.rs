//! How the controller names the members of a broker group.

/// A broker's id in its group as the controller assigns them (Java's `brokerId`).
pub type BrokerId = u64;

/// The id of a group's first member (Java's `MixAll.FIRST_BROKER_CONTROLLER_ID`).
pub const FIRST_BROKER_ID: BrokerId = 1;
