//! Request and response codes of the controller's remoting protocol (RocketMQ 5).

/// A master asks to change its group's in-sync replica set.
pub const ALTER_SYNC_STATE_SET: i32 = 1001;
/// Elect a master (a broker asking for the role, or an operator's `mqadmin electMaster`).
pub const ELECT_MASTER: i32 = 1002;
/// A broker with an id announces itself and learns the group's master.
pub const REGISTER_BROKER: i32 = 1003;
/// The master, its epoch and the in-sync set of a group.
pub const GET_REPLICA_INFO: i32 = 1004;
/// The controller's own metadata (leader, peers) for `mqadmin getControllerMetaData`.
pub const GET_METADATA_INFO: i32 = 1005;
/// In-sync sets and members of groups (`mqadmin getSyncStateSet`).
pub const GET_SYNC_STATE_DATA: i32 = 1006;
/// A broker's epoch history (entries of `(epoch, start offset)`).
pub const GET_BROKER_EPOCH_CACHE: i32 = 1007;
/// The controller tells a broker its role changed.
pub const NOTIFY_BROKER_ROLE_CHANGED: i32 = 1008;
/// Remove members (or a whole group) from the controller's state.
pub const CLEAN_BROKER_DATA: i32 = 1011;
/// The id a new member of a group should apply for.
pub const GET_NEXT_BROKER_ID: i32 = 1012;
/// A new member claims an id.
pub const APPLY_BROKER_ID: i32 = 1013;

/// The requesting master's epoch is not the current one (it was superseded).
pub const FENCED_MASTER_EPOCH: i32 = 2000;
/// The in-sync set's epoch the request is based on is not the current one.
pub const FENCED_SYNC_STATE_SET_EPOCH: i32 = 2001;
/// The requester is not the group's master.
pub const INVALID_MASTER: i32 = 2002;
/// A named replica is not a member of the group.
pub const INVALID_REPLICAS: i32 = 2003;
/// The master is gone and no replica could be elected.
pub const MASTER_NOT_AVAILABLE: i32 = 2004;
/// The request is malformed.
pub const INVALID_REQUEST: i32 = 2005;
/// A named replica is not alive.
pub const BROKER_NOT_ALIVE: i32 = 2006;
/// This controller is not the leader; ask the leader.
pub const NOT_LEADER: i32 = 2007;
/// The group is unknown.
pub const BROKER_METADATA_NOT_EXIST: i32 = 2008;
/// A clean request names members that cannot be removed.
pub const INVALID_CLEAN_BROKER_METADATA: i32 = 2009;
/// The broker must apply for an id first.
pub const BROKER_NEED_TO_BE_REGISTERED: i32 = 2010;
/// The master is alive: no election needed.
pub const MASTER_STILL_EXIST: i32 = 2011;
/// No replica qualifies for the election asked for.
pub const ELECT_MASTER_FAILED: i32 = 2012;
/// The in-sync set change is not allowed.
pub const ALTER_SYNC_STATE_SET_FAILED: i32 = 2013;
/// The id is taken by another broker.
pub const BROKER_ID_INVALID: i32 = 2014;

/// A broker's liveness report to the controller (Java 5's `BROKER_HEARTBEAT`, shared with the
/// nameserver's code table). Any controller replica accepts it: liveness is not replicated.
pub const BROKER_HEARTBEAT: i32 = 904;

/// Raft between controller replicas (rmq's own codes, never sent by Java peers): an
/// `AppendEntries` request as JSON in the body; the answer is `SUCCESS` with the response as
/// JSON, or [`RAFT_ERROR`] with openraft's `RaftError` as JSON.
pub const RAFT_APPEND_ENTRIES: i32 = 40_001;
/// Raft `RequestVote` between controller replicas (see [`RAFT_APPEND_ENTRIES`]).
pub const RAFT_VOTE: i32 = 40_002;
/// Raft `InstallSnapshot` (one chunk) between controller replicas (see [`RAFT_APPEND_ENTRIES`]).
pub const RAFT_INSTALL_SNAPSHOT: i32 = 40_003;
/// The answer to a Raft request the receiving replica refused (body: openraft's `RaftError`).
pub const RAFT_ERROR: i32 = 40_100;
