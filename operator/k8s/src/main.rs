//! `rmq-operator`: `run` (the default) starts the controllers, `crd` prints the CRDs.
//!
//! `run` serves `/metrics` and `/healthz` at once, waits for the leader Lease (unless
//! `--leader-election=false`), then runs the cluster, topic and consumer-group controllers
//! until SIGTERM/SIGINT: controllers finish their in-flight reconciles, the Lease is released
//! so a standby takes over immediately, and the process exits 0. Losing the Lease exits 1 (the
//! pod restarts and stands by).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use kube::Client;
use rmq_model::protocol::net::shutdown_signal;
use rmq_model::{RocketMQCluster, RocketMQConsumerGroup, RocketMQTopic};
use rmq_operator::context::{Context, Settings, scoped};
use rmq_operator::http::Health;
use rmq_operator::leader::{Leadership, LeaseConfig};
use rmq_operator::metrics::Metrics;
use rmq_operator::shutdown::{self, Shutdown};
use rmq_operator::{cluster, topic_group};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Parser)]
#[command(
    args_conflicts_with_subcommands = true,
    name = "rmq-operator",
    version,
    about = "Kubernetes operator for rmq (RocketMQ-compatible) clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controllers (the default when no subcommand is given).
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML.
    Crd,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "RMQ_OPERATOR_WATCH_NAMESPACE")]
    watch_namespace: Option<String>,
    /// Address of /metrics and /healthz.
    #[arg(
        long,
        env = "RMQ_OPERATOR_METRICS_ADDR",
        default_value = "0.0.0.0:8080"
    )]
    metrics_addr: SocketAddr,
    /// Image of cluster pods when a cluster sets neither spec.image nor spec.version.
    #[arg(long, env = "RMQ_OPERATOR_DEFAULT_IMAGE", default_value_t = Settings::default().default_image)]
    default_image: String,
    /// imagePullPolicy of cluster pods.
    #[arg(long, env = "RMQ_OPERATOR_IMAGE_PULL_POLICY")]
    image_pull_policy: Option<String>,
    /// Cluster DNS domain appended to Service names (`cluster.local`); empty = `<svc>.<ns>.svc`.
    #[arg(long, env = "RMQ_OPERATOR_CLUSTER_DOMAIN")]
    cluster_domain: Option<String>,
    /// Seconds between re-checks of topics and consumer groups (drift is reverted then).
    #[arg(long, env = "RMQ_OPERATOR_RESYNC_SECONDS", default_value_t = 60)]
    resync_seconds: u64,
    /// Elect a leader through a Lease before running controllers.
    #[arg(long, env = "RMQ_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Namespace of the leader Lease (default: POD_NAMESPACE, else `default`).
    #[arg(long, env = "RMQ_OPERATOR_LEASE_NAMESPACE")]
    lease_namespace: Option<String>,
    /// Name of the leader Lease.
    #[arg(long, env = "RMQ_OPERATOR_LEASE_NAME", default_value = "rmq-operator")]
    lease_name: String,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "RMQ_LOG", default_value = "info,kube=warn")]
    log: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // ring as the process's rustls provider, before any kube client exists (a workspace build
    // also enables aws-lc-rs through the AWS SDK; rustls will not choose between them itself).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Crd) => {
            print!(
                "{}",
                rmq_model::crd::crds_yaml().context("rendering the CRDs")?
            );
            Ok(())
        }
        Some(Command::Run(args)) => run(*args).await,
        None => run(cli.run).await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&args.log))
        .init();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "rmq-operator starting");
    let client = connect(args.watch_namespace.as_deref()).await?;
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health {
        ready: Default::default(),
    });
    let (stop_http, http_shutdown) = shutdown::channel();
    let http = tokio::spawn(rmq_operator::http::serve(
        args.metrics_addr,
        metrics.clone(),
        health.clone(),
        http_shutdown,
    ));
    let shutdown = on_signal();
    let leadership = if args.leader_election {
        health.ready.store(true, Ordering::Relaxed);
        tokio::select! {
            l = Leadership::acquire(client.clone(), lease_config(&args)) => Some(l),
            _ = shutdown.clone().wait() => {
                stop_http.fire();
                let _ = http.await;
                return Ok(());
            }
        }
    } else {
        None
    };
    metrics.leader.set(1);
    health.ready.store(true, Ordering::Relaxed);
    let ctx = Arc::new(Context::new(client, metrics.clone(), settings(&args)));
    let lost_leadership = lead(ctx, args.watch_namespace, shutdown, leadership.as_ref()).await;
    metrics.leader.set(0);
    if let Some(l) = &leadership
        && !lost_leadership
    {
        l.release().await;
    }
    stop_http.fire();
    let _ = http.await;
    if lost_leadership {
        anyhow::bail!("lost the leader lease; exiting so a fresh replica stands by");
    }
    tracing::info!("stopped");
    Ok(())
}

/// A client, once listing RocketMQClusters (in `namespace`, or everywhere) proved the CRDs are
/// installed and the operator may read them.
async fn connect(namespace: Option<&str>) -> anyhow::Result<Client> {
    let client = Client::try_default()
        .await
        .context("no Kubernetes credentials (in-cluster service account or KUBECONFIG)")?;
    scoped::<RocketMQCluster>(&client, namespace)
        .list(&kube::api::ListParams::default().limit(1))
        .await
        .context("cannot list RocketMQClusters: are the CRDs installed? (helm install charts/rmq-operator, or `rmq-operator crd | kubectl apply -f -`)")?;
    Ok(client)
}

/// A shutdown that fires on SIGTERM or SIGINT.
fn on_signal() -> Shutdown {
    let (stop, shutdown) = shutdown::channel();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight reconciles");
        stop.fire();
    });
    shutdown
}

/// The leader Lease: named by the flags, in `--lease-namespace`, else the pod's namespace.
fn lease_config(args: &RunArgs) -> LeaseConfig {
    let namespace = args
        .lease_namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .unwrap_or_else(|| "default".to_owned());
    let identity = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("rmq-operator-{}", std::process::id()));
    LeaseConfig {
        namespace,
        name: args.lease_name.clone(),
        identity,
        duration: Duration::from_secs(15),
        retry: Duration::from_secs(2),
    }
}

fn settings(args: &RunArgs) -> Settings {
    Settings {
        default_image: args.default_image.clone(),
        image_pull_policy: args.image_pull_policy.clone(),
        cluster_domain: args.cluster_domain.clone().filter(|d| !d.is_empty()),
        resync: Duration::from_secs(args.resync_seconds.max(1)),
        ..Settings::default()
    }
}

/// Runs the three controllers until `shutdown` (false) or until `leadership` is lost (true).
async fn lead(
    ctx: Arc<Context>,
    ns: Option<String>,
    shutdown: Shutdown,
    leadership: Option<&Leadership>,
) -> bool {
    let controllers = async {
        tokio::join!(
            cluster::run(ctx.clone(), ns.clone(), shutdown.clone().wait()),
            topic_group::run::<RocketMQTopic>(ctx.clone(), ns.clone(), shutdown.clone().wait()),
            topic_group::run::<RocketMQConsumerGroup>(
                ctx.clone(),
                ns.clone(),
                shutdown.clone().wait()
            ),
        )
    };
    let lost = async {
        match leadership {
            Some(l) => l.keep().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = controllers => false,
        _ = lost => true,
    }
}
