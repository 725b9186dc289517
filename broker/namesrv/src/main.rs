//! `rmq-namesrv` binary: parse settings, serve, stop gracefully on SIGTERM/SIGINT.

use clap::Parser;
use rmq_namesrv::config::{Args, NamesrvConfig};
use rmq_namesrv::server::NamesrvServer;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rmq_namesrv::process::init_tracing();
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
    server.run(rmq_protocol::net::stop_on_signal()).await;
    std::process::ExitCode::SUCCESS
}
