//! `rmq-broker` binary: read settings, start, serve, stop gracefully on SIGTERM/SIGINT.

use clap::Parser;
use rmq_broker::config::{Args, BrokerConfig};
use rmq_broker::controller::{self, Ended};
use rmq_broker::server::{BrokerServer, print_boot_line};

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
    if config.controller.enabled {
        return match controller::run(config, rmq_protocol::net::stop_on_signal()).await {
            Ok(Ended::Stopped) => std::process::ExitCode::SUCCESS,
            Ok(Ended::RoleChanged) => {
                eprintln!("rmq-broker: {}", controller::reexec());
                std::process::ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("rmq-broker: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let server = match BrokerServer::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rmq-broker: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // The same line the Java broker prints; scripts wait for it.
    print_boot_line(server.broker());
    server.run(rmq_protocol::net::stop_on_signal()).await;
    std::process::ExitCode::SUCCESS
}
