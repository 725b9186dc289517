//! `rmqctl aws plan|apply|destroy|secrets` arguments (feature `aws`); the commands are in
//! `crate::aws`.

use super::namesrv::NamesrvArg;
use crate::output::Output;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `rmqctl aws ...`.
#[derive(Debug, Subcommand)]
pub enum AwsCommand {
    /// Show what `apply` would create, update and delete (read-only).
    Plan(PlanArgs),
    /// Create or converge the cluster's resources, then reconcile topics and consumer groups.
    Apply(ApplyArgs),
    /// Delete every resource tagged for the cluster (data volumes are snapshotted first).
    Destroy(DestroyArgs),
    /// The SSM parameters of `spec.security`'s secrets: `/rmq/<cluster>/<secret>/<key>`.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

/// `rmqctl aws secrets ...`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Write DIR/<secret>/<key> files (the layout `rmqctl local up --secrets-dir` takes) as
    /// SecureString parameters /rmq/<cluster>/<secret>/<key>; an existing one is overwritten
    /// (rotation: the nodes pick it up within a minute). Values are never printed.
    Put(SecretsPutArgs),
    /// List the cluster's parameters: names, versions and dates, never values.
    List(SecretsListArgs),
}

/// Where the parameters are.
#[derive(Debug, Args, Clone)]
pub struct SecretsTarget {
    /// The cluster's name (metadata.name of its RocketMQCluster).
    #[arg(long)]
    pub cluster: String,
    /// AWS region (the cluster's: parameters are regional).
    #[arg(long, env = "AWS_REGION")]
    pub region: String,
    /// Endpoint override (e.g. a moto_server).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Turn SDK retries off (tests).
    #[arg(long, hide = true)]
    pub no_retries: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `rmqctl aws secrets put`.
#[derive(Debug, Args)]
pub struct SecretsPutArgs {
    /// Cluster and region.
    #[command(flatten)]
    pub target: SecretsTarget,
    /// Directory of the secrets: DIR/<secret name>/<key> files.
    #[arg(long, value_name = "DIR")]
    pub from_dir: PathBuf,
    /// Only this secret (a directory of DIR; repeatable) [default: every one].
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    /// KMS key (id, ARN or alias) to encrypt with [default: the account's alias/aws/ssm].
    #[arg(long)]
    pub kms_key_id: Option<String>,
}

/// `rmqctl aws secrets list`.
#[derive(Debug, Args)]
pub struct SecretsListArgs {
    /// Cluster and region.
    #[command(flatten)]
    pub target: SecretsTarget,
}

/// Which cluster, where, and the AWS settings the cluster spec does not carry.
#[derive(Debug, Args, Clone)]
pub struct Target {
    /// YAML files: exactly one RocketMQCluster, plus any RocketMQTopic / RocketMQConsumerGroup.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<PathBuf>,
    /// AWS region.
    #[arg(long, env = "AWS_REGION")]
    pub region: String,
    /// Endpoint override (e.g. a moto_server); credentials then come from the environment or
    /// profile files, never from the instance metadata service.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Turn SDK retries off (tests).
    #[arg(long, hide = true)]
    pub no_retries: bool,
    /// Value of the rmq:stack tag the node role's IAM policy is scoped to [default: cluster name].
    #[arg(long)]
    pub stack_id: Option<String>,
    /// Use this existing VPC (with --subnet-ids) instead of creating one.
    #[arg(long, requires = "subnet_ids")]
    pub vpc_id: Option<String>,
    /// Private subnets of --vpc-id, one per zone (2 or 3), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub subnet_ids: Vec<String>,
    /// Security group of existing bastion hosts allowed to SSH to the nodes (with --vpc-id).
    #[arg(long)]
    pub bastion_security_group: Option<String>,
    /// CIDR of a new VPC.
    #[arg(long, default_value = "10.0.0.0/16")]
    pub vpc_cidr: String,
    /// Zones of a new VPC, comma-separated [default: the first --az-count of the region].
    #[arg(long, value_delimiter = ',')]
    pub azs: Vec<String>,
    /// Number of zones of a new VPC (2 or 3).
    #[arg(long, default_value_t = 2)]
    pub az_count: usize,
    /// One NAT gateway in zone 1 instead of one per zone.
    #[arg(long)]
    pub single_nat: bool,
    /// Bastion hosts in a new VPC (0-4) [default: 1 with a new VPC, 0 with --vpc-id].
    #[arg(long)]
    pub bastion_count: Option<i32>,
    /// EC2 key pair for SSH (bastion and nodes).
    #[arg(long)]
    pub key_pair: Option<String>,
    /// The only CIDR allowed to SSH to the bastion, e.g. 203.0.113.4/32.
    #[arg(long)]
    pub remote_access_cidr: Option<String>,
    /// Also open 9876/10911 to the whole VPC CIDR (else only to the clients security group).
    #[arg(long)]
    pub allow_clients_from_vpc: bool,
    /// Instance type of the nameservers.
    #[arg(long, default_value = "t3.medium")]
    pub namesrv_instance_type: String,
    /// Instance type of the brokers.
    #[arg(long, default_value = "m6i.large")]
    pub broker_instance_type: String,
    /// Instance type of the bastion hosts.
    #[arg(long, default_value = "t3.micro")]
    pub bastion_instance_type: String,
    /// AMI of every instance [default: the newest Amazon Linux 2023 x86_64; kept once used].
    #[arg(long)]
    pub ami_id: Option<String>,
    /// Instance profile (name or ARN) of the node role (see `plan --print-iam-policy`).
    #[arg(long)]
    pub instance_profile: Option<String>,
    /// S3 bucket for the binaries (created and tagged for the cluster if it does not exist).
    #[arg(long, env = "RMQ_ARTEFACT_BUCKET")]
    pub artefact_bucket: String,
    /// Key prefix of the binaries [default: rmq/<cluster>/<version>/].
    #[arg(long)]
    pub artefact_prefix: Option<String>,
    /// Region of the artefact bucket [default: --region].
    #[arg(long)]
    pub artefact_region: Option<String>,
    /// Directory holding rmq-namesrv and rmq-broker to upload [default: next to rmqctl, if
    /// they are there; else they must already be in the bucket].
    #[arg(long)]
    pub artefact_dir: Option<PathBuf>,
    /// EBS type of the data volumes when the spec has no storageClass.
    #[arg(long, default_value = "gp3")]
    pub volume_type: String,
    /// KMS key of the data volumes [default: the account's default EBS key].
    #[arg(long)]
    pub volume_kms_key: Option<String>,
    /// Existing CloudWatch Logs group the nodes ship their logs and metrics to; with it the
    /// cluster also gets its CloudWatch alarms and dashboard `rmq-<cluster>`.
    #[arg(long)]
    pub log_group: Option<String>,
    /// SNS topic ARN the alarms notify (with --log-group) [default: alarms without actions].
    #[arg(long)]
    pub alarm_topic_arn: Option<String>,
    /// Messages a consumer group may be behind on a topic before the lag alarm fires.
    #[arg(long, default_value_t = rmq_aws::params::DEFAULT_CONSUMER_LAG_ALARM)]
    pub consumer_lag_alarm_threshold: i64,
    /// Bytes the slaves of a group may be behind their master before the replication alarm
    /// fires.
    #[arg(long, default_value_t = rmq_aws::params::DEFAULT_REPLICATION_LAG_ALARM_BYTES)]
    pub replication_lag_alarm_bytes: i64,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
}

/// `rmqctl aws plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Cluster and settings.
    #[command(flatten)]
    pub target: Target,
    /// Print the node role's least-privilege IAM policy (and trust policy) and stop.
    #[arg(long)]
    pub print_iam_policy: bool,
}

/// `rmqctl aws apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Cluster and settings.
    #[command(flatten)]
    pub target: Target,
    /// Seconds each waiter may take.
    #[arg(long, default_value_t = 900)]
    pub wait_timeout: u64,
    /// Delete the data volumes of removed brokers without a final snapshot.
    #[arg(long)]
    pub no_snapshot: bool,
    /// Do not replace instances after their launch template changed (they pick it up when
    /// replaced for another reason).
    #[arg(long)]
    pub no_roll: bool,
    /// Nameservers to reconcile topics and groups through [default: the cluster's addresses].
    #[command(flatten)]
    pub namesrv: NamesrvArg,
    /// Do not reconcile topics and consumer groups.
    #[arg(long)]
    pub skip_topics: bool,
    /// Confirm the plan's deletes (scale-in, untracked or duplicate resources); without it an
    /// apply that deletes anything asks on a terminal and refuses otherwise.
    #[arg(long)]
    pub yes: bool,
    /// Remove a stale apply lock (one whose holder stopped renewing it) before taking it; a
    /// live lock is never removed.
    #[arg(long)]
    pub break_lock: bool,
    /// Roll without the readiness gate: wait for each replaced node's Auto Scaling group only,
    /// not for the node to register with the nameservers (and a slave to catch up).
    #[arg(long)]
    pub skip_readiness: bool,
    /// Seconds each replaced node may take to be ready before the roll stops.
    #[arg(long, default_value_t = 900)]
    pub ready_timeout: u64,
    /// Bytes a replaced slave may be behind its master and count as caught up.
    #[arg(long, default_value_t = rmq_aws::readiness::DEFAULT_CATCH_UP_BYTES)]
    pub catch_up_bytes: i64,
    /// Test hook: stop before action N.
    #[arg(long, hide = true, env = "RMQ_AWS_FAIL_AFTER")]
    pub fail_after: Option<usize>,
}

/// `rmqctl aws destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Cluster and settings (the artefact bucket/prefix say which artefacts to remove).
    #[command(flatten)]
    pub target: Target,
    /// Really delete (without it the plan is printed and nothing changes).
    #[arg(long)]
    pub yes: bool,
    /// Delete data volumes without a final snapshot.
    #[arg(long)]
    pub no_snapshot: bool,
    /// Seconds each waiter may take.
    #[arg(long, default_value_t = 900)]
    pub wait_timeout: u64,
    /// Remove a stale apply lock (one whose holder stopped renewing it) before taking it.
    #[arg(long)]
    pub break_lock: bool,
}
