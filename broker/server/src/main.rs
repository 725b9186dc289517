//! `rmq-broker` binary: read settings, start, serve, stop gracefully on SIGTERM/SIGINT.

use clap::Parser;
use rmq_broker::config::{Args, BrokerConfig};
use rmq_broker::server::BrokerServer;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rmq_broker::process::init_tracing();
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
    server.run(rmq_protocol::net::stop_on_signal()).await;
    std::process::ExitCode::SUCCESS
}
