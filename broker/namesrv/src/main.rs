//! `rmq-namesrv` binary: parse settings, serve, stop gracefully on SIGTERM/SIGINT.

use clap::Parser;
use rmq_namesrv::config::{Args, NamesrvConfig};
use rmq_namesrv::server::NamesrvServer;
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
    let config = match NamesrvConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rmq-namesrv: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let server = match NamesrvServer::bind(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rmq-namesrv: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = server
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // The same line the Java nameserver prints; scripts wait for it.
    println!("The Name Server boot success. serializeType=JSON, address {addr}");
    let stop = CancellationToken::new();
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        rmq_protocol::net::shutdown_signal().await;
        tracing::info!("stopping nameserver");
        signal_stop.cancel();
    });
    server.run(stop).await;
    std::process::ExitCode::SUCCESS
}
