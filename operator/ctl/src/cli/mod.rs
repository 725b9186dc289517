//! The command line: `rmqctl local up|status|down`, `apply`, `get`, `top`, `route`, `crd`, and
//! (feature `aws`) `aws plan|apply|destroy` in [`aws`]. Arguments only: the commands live in
//! their own modules and read these types, never the other way round.

#[cfg(feature = "aws")]
pub mod aws;
mod metrics;
mod namesrv;
mod security;

pub use metrics::{ScrapeArgs, TopArgs};
pub use namesrv::NamesrvArg;
pub use security::SecurityArgs;

use crate::output::Output;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// rmqctl: run an rmq cluster locally, reconcile topics and consumer groups, inspect clusters.
#[derive(Debug, Parser)]
#[command(name = "rmqctl", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a cluster as local processes (the embedded default).
    #[command(subcommand)]
    Local(LocalCommand),
    /// Reconcile topics and consumer groups from files against a running cluster (rmq or Apache
    /// RocketMQ): create, update, and delete what rmqctl created and is no longer declared.
    Apply(ApplyArgs),
    /// Show clusters, topics or consumer groups, or one table of the brokers' metrics.
    Get(GetArgs),
    /// Live table per topic and consumer group (rates, lag) from every broker's `/metrics`,
    /// refreshed every `--interval` until Ctrl-C.
    Top(TopArgs),
    /// Show the route (brokers and queues) of a topic.
    Route(RouteArgs),
    /// Print the CustomResourceDefinitions.
    Crd(CrdArgs),
    /// Provision the cluster on AWS with the SDK: plan, apply, destroy.
    #[cfg(feature = "aws")]
    #[command(subcommand)]
    Aws(Box<aws::AwsCommand>),
}

/// `rmqctl local ...`.
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Start the nameservers and brokers of a RocketMQCluster, wait until every broker is
    /// registered, then reconcile the topics and consumer groups of the files.
    Up(UpArgs),
    /// Show the local cluster's processes and whether they are registered.
    Status(LocalTarget),
    /// Stop the local cluster gracefully (data is kept; `up` again resumes it).
    Down(DownArgs),
}

/// Where a local cluster's state lives.
#[derive(Debug, Args, Clone)]
pub struct LocalTarget {
    /// The cluster's state directory [default: ./.rmq-local/<cluster>].
    #[arg(long, env = "RMQ_LOCAL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Cluster name (to find ./.rmq-local/<cluster> when several exist).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Files naming the cluster (the RocketMQCluster document is used to find the state dir).
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `rmqctl local up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// YAML files: exactly one RocketMQCluster, plus any RocketMQTopic / RocketMQConsumerGroup.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<PathBuf>,
    /// The cluster's state directory (data, logs, pids) [default: ./.rmq-local/<cluster>].
    #[arg(long, env = "RMQ_LOCAL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Return once the cluster is ready and leave it running (stop it with `local down`).
    #[arg(long)]
    pub detach: bool,
    /// Directory of the secrets `spec.security` names: `<DIR>/<secret name>/<key>` files
    /// (`plain_acl.yml`; `accessKey`, `secretKey`; `tls.crt`, `tls.key`, `ca.crt`) [default:
    /// `secrets` next to the file declaring the RocketMQCluster].
    #[arg(long, env = "RMQ_LOCAL_SECRETS_DIR", value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// Directory holding rmq-namesrv, rmq-broker (and rmq-controller for `failover:
    /// Automatic`) [default: next to rmqctl].
    #[arg(long, env = "RMQ_BIN_DIR")]
    pub bin_dir: Option<PathBuf>,
    /// First nameserver port; nameserver i listens on BASE+i, controller i on BASE+200+i,
    /// broker k (group by group, master first) on BASE+1035+10k (the defaults give 9876 and
    /// 10911, 10921, ...).
    #[arg(long, default_value_t = 9876)]
    pub base_port: u16,
    /// Seconds to wait for every node to start and register.
    #[arg(long, default_value_t = 90)]
    pub timeout: u64,
    /// In the foreground, seconds to wait before starting again a node that exited on its own
    /// (at most 5 restarts per node within 5 minutes). With `failover: Automatic`, a master
    /// back before `spec.controller.brokerTimeoutMs` stays master; one back later rejoins as a
    /// replica of the master elected meanwhile.
    #[arg(long, default_value_t = 1, value_name = "SECONDS")]
    pub restart_delay: u64,
    /// Also delete topics and groups rmqctl created in this cluster that the files no longer
    /// declare (as `rmqctl apply` does). Off by default, so restarting with fewer files never
    /// deletes data.
    #[arg(long)]
    pub prune: bool,
    /// Output format of the final table.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `rmqctl local down`.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// Which cluster.
    #[command(flatten)]
    pub target: LocalTarget,
    /// Seconds to wait for a graceful stop before killing.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

/// `rmqctl apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// YAML files with RocketMQTopic / RocketMQConsumerGroup documents (RocketMQCluster documents
    /// only widen the set of clusters whose rmqctl-owned objects may be deleted).
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<PathBuf>,
    /// The nameservers.
    #[command(flatten)]
    pub namesrv: NamesrvArg,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete rmqctl-owned objects of this cluster that no file declares (repeatable);
    /// clusters the files mention are always in scope.
    #[arg(long = "prune-cluster")]
    pub prune_clusters: Vec<String>,
    /// Owner recorded for what this apply creates (others' objects are never deleted).
    #[arg(long, default_value = rmq_model::defaults::MANAGER_RMQCTL)]
    pub manager: String,
    /// Output format of the plan (table = one line per action).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `rmqctl get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// What to show.
    #[arg(value_enum)]
    pub what: GetWhat,
    /// The nameservers.
    #[command(flatten)]
    pub namesrv: NamesrvArg,
    /// Only this cluster.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Include system topics and groups (retry/DLQ topics, broker-internal groups).
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Endpoints and interval of `get metrics`.
    #[command(flatten, next_help_heading = "Options of `get metrics`")]
    pub scrape: ScrapeArgs,
}

/// What `get` shows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GetWhat {
    /// Clusters, broker groups and brokers.
    #[value(alias = "clusters")]
    Cluster,
    /// Topics on every master.
    #[value(alias = "topic")]
    Topics,
    /// Consumer groups on every master.
    #[value(alias = "group")]
    Groups,
    /// Per topic and consumer group: stored messages, rates and lag, from the brokers'
    /// `/metrics` (two scrapes `--interval` apart).
    Metrics,
}

/// `rmqctl route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Topic name.
    pub topic: String,
    /// The nameservers.
    #[command(flatten)]
    pub namesrv: NamesrvArg,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `rmqctl crd`.
#[derive(Debug, Args)]
pub struct CrdArgs {
    /// Output format (table prints YAML too).
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Yaml)]
    pub output: Output,
}
