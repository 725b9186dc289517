//! `rmq-controller` binary: read controller.conf, start this replica, serve until
//! SIGTERM/SIGINT.

use clap::Parser;
use rmq_controller::config::{Args, ControllerConfig};
use rmq_controller::server::ControllerServer;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rmq_controller::process::init_tracing();
    let args = Args::parse();
    let config = match ControllerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rmq-controller: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let me = config.me().clone();
    let server = match ControllerServer::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rmq-controller: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = server
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // Java prints the same first words; scripts wait for them.
    println!(
        "The Controller Server boot success. serializeType=JSON, id {} address {} (listening on {addr})",
        me.id, me.addr
    );
    server.run(rmq_protocol::net::stop_on_signal()).await;
    std::process::ExitCode::SUCCESS
}
