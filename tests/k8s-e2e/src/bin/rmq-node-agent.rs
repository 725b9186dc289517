//! `rmq-node-agent`: makes pods real on a control plane without kubelets (see the crate docs).
//! Runs until SIGTERM/SIGINT, then stops every process it started.

use anyhow::Context as _;
use clap::Parser;
use rmq_k8s_e2e::agent::{Config, node, pods::Runner, pv};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Test node agent: runs pods of the rmq image as local processes")]
struct Args {
    /// Node name.
    #[arg(long, default_value = "rmq-test-node")]
    node: String,
    /// State directory (pods, volumes, logs, the hosts file).
    #[arg(long)]
    state_dir: PathBuf,
    /// Directory holding rmq-namesrv, rmq-broker, rmq-operator.
    #[arg(long, env = "RMQ_BIN_DIR")]
    bin_dir: PathBuf,
    /// Image repositories that map to --bin-dir (repeatable).
    #[arg(long = "image", default_value = "rmq")]
    images: Vec<String>,
    /// LD_PRELOAD shim that turns wildcard binds into the pod address.
    #[arg(long)]
    shim: Option<PathBuf>,
    /// API server URL given to pods (KUBERNETES_SERVICE_HOST/PORT).
    #[arg(long, env = "RMQ_K8S_APISERVER")]
    apiserver: String,
    /// Most seconds a terminating container gets before SIGKILL.
    #[arg(long, default_value_t = 10)]
    max_grace_seconds: u64,
}

fn host_port(url: &str) -> anyhow::Result<(String, u16)> {
    let rest = url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let rest = rest.split('/').next().unwrap_or(rest);
    let (h, p) = rest
        .rsplit_once(':')
        .context("apiserver URL needs a port")?;
    Ok((h.to_owned(), p.parse().context("apiserver port")?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // ring as the process's rustls provider, before any kube client exists (a workspace build
    // also enables aws-lc-rs through the AWS SDK; rustls will not choose between them itself).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RMQ_AGENT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn")),
        )
        .init();
    let args = Args::parse();
    std::fs::create_dir_all(&args.state_dir).context("creating the state dir")?;
    let cfg = Config {
        node: args.node,
        state_dir: std::fs::canonicalize(&args.state_dir)?,
        bin_dir: std::fs::canonicalize(&args.bin_dir)?,
        images: args.images,
        shim: args.shim.map(std::fs::canonicalize).transpose()?,
        apiserver: host_port(&args.apiserver)?,
        max_grace_seconds: args.max_grace_seconds,
    };
    rmq_k8s_e2e::agent::hosts::write_in_place(&cfg.hosts_file(), "127.0.0.1 localhost\n")?;
    let client = kube::Client::try_default().await.context("kube client")?;
    node::ensure(&client, &cfg)
        .await
        .context("registering the node")?;
    tracing::info!(node = %cfg.node, hosts = %cfg.hosts_file().display(), "node agent ready");
    tokio::spawn(node::run(client.clone(), cfg.clone()));
    let mut runner = Runner::new(client.clone(), cfg.clone());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        if let Err(e) = pv::provision(&client, &cfg).await {
            tracing::warn!(error = %e, "volume provisioning pass failed");
        }
        if let Err(e) = runner.pass().await {
            tracing::warn!(error = %e, "pod pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("stopping every pod process");
    runner.stop_all().await;
    Ok(())
}
