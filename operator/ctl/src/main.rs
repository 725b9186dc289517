//! `rmqctl`: one CLI over rmq clusters — `local up|status|down` (the embedded default: processes
//! on 127.0.0.1), `apply -f` (topics and consumer groups against any RocketMQ nameserver), `get`,
//! `top`, `route`, `crd`.
//!
//! Modules: [`cli`] (arguments), [`apply`], [`get`], [`local`], [`metrics`] (`get metrics`,
//! `top`), [`output`], [`progress`], [`security`] (`--access-key`, `--tls-ca`), [`error`] (exit
//! codes: 2 bad input, 1 failure).

mod apply;
#[cfg(feature = "aws")]
mod aws;
mod cli;
mod error;
mod get;
mod hidden;
mod local;
mod metrics;
mod output;
mod progress;
mod security;

use clap::Parser;
use cli::{Cli, Command, LocalCommand};
use error::CtlError;
use output::Output;
use std::process::ExitCode;

async fn run(cli: Cli) -> Result<(), CtlError> {
    match cli.command {
        Command::Local(LocalCommand::Up(a)) => local::up(a).await,
        Command::Local(LocalCommand::Status(t)) => local::status(t).await,
        Command::Local(LocalCommand::Down(a)) => local::down(a).await,
        Command::Apply(a) => apply::run(a).await,
        Command::Get(a) => get::run(a).await,
        Command::Top(a) => metrics::top(a).await,
        Command::Route(a) => get::route(a).await,
        #[cfg(feature = "aws")]
        Command::Aws(c) => aws::run(*c).await,
        Command::Crd(a) => {
            let text = match a.output {
                Output::Json => {
                    rmq_model::crd::crds_json().map_err(|e| CtlError::Render(e.to_string()))?
                }
                _ => rmq_model::crd::crds_yaml().map_err(|e| CtlError::Render(e.to_string()))?,
            };
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RMQCTL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rmqctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rmqctl: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
