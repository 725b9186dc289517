//! `rmq-broker` binary: read settings, start, serve, stop gracefully on SIGTERM/SIGINT.

use clap::Parser;
use rmq_broker::config::{Args, BrokerConfig};
use rmq_broker::server::BrokerServer;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RMQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = match BrokerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rmq-broker: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if config.namesrv_addrs.is_empty() {
        tracing::warn!(
            "no nameserver configured (namesrvAddr / -n): clients will not find this broker"
        );
    }
    let server = match BrokerServer::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rmq-broker: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let b = server.broker().clone();
    // The same line the Java broker prints; scripts wait for it.
    println!(
        "The broker[{}, {}] boot success. serializeType=JSON and name server is {}",
        b.config.broker_name,
        b.broker_addr,
        b.config.namesrv_addrs.join(";")
    );
    let stop = CancellationToken::new();
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        rmq_protocol::net::shutdown_signal().await;
        signal_stop.cancel();
    });
    server.run(stop).await;
    std::process::ExitCode::SUCCESS
}
