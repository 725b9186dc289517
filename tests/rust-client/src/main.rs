//! rmq-harness-rust: drives the unmodified `rocketmq-client-rust` crate (crates.io; the
//! mxsm/rocketmq-rust remoting client) for rmq's end-to-end tests.
//!
//! Same CLI and JSON conventions as the Java and Go harnesses (tests/harness.md): stdout carries
//! exactly one JSON line, logs go to stderr. Exit codes: 0 ok, 1 ran but not ok, 2 usage error,
//! 3 fatal (client could not start, watchdog), 4 not supported by this client.
//!
//! Scenarios: `produce` (sync | async | oneway | batch), `pull` (DefaultLitePullConsumer,
//! subscribe + poll, auto-commit), `consume` (DefaultMQPushConsumer, concurrently), `version`.

mod bodies;
mod cli;
mod consume;
mod produce;
mod report;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig, TelemetryHandle};
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};
use serde_json::{Value, json};

use crate::cli::Outcome;

/// Name reported as `client`.
pub const CLIENT: &str = "rust";
/// The resolved `rocketmq-client-rust` version (from Cargo.lock, see build.rs).
pub const CLIENT_VERSION: &str = env!("RMQ_CLIENT_VERSION");

pub const USAGE: &str = "usage: rmq-harness-rust <scenario> [options]
  produce --namesrv ADDR --topic T --count N [--mode sync|async|oneway|batch] [--tag TAG] [--keys]
          [--body-size B] [--group G] [--prefix P] [--start S] [--batch-size K] [--delay-level L]
          [--send-timeout-ms MS] [--retries R] [--inflight M] [--timeout-ms MS] [--out FILE]
  pull    --namesrv ADDR --topic T --group G --expect N [--timeout-ms MS] [--tag EXPR]
          [--from first|last|timestamp:MS] [--prefix P] [--start S] [--linger-ms MS] [--pull-batch B]
          [--out FILE]                                       (DefaultLitePullConsumer: subscribe + poll)
  consume --namesrv ADDR --topic T --group G --expect N [same options as pull] [--consume-threads T]
          [--broadcast]                                      (DefaultMQPushConsumer, concurrently)
  version
common: [--instance NAME] [--log-dir DIR]  (see tests/harness.md)
logging: RMQ_HARNESS_RUST_LOG=error|warn|info|debug|trace (default warn, to stderr)";

/// The real stdout (fd 1 is pointed at stderr so that nothing but the result line reaches it).
static RESULT_OUT: std::sync::OnceLock<std::sync::Mutex<std::fs::File>> =
    std::sync::OnceLock::new();

/// An insertion-ordered JSON object (serde_json's Map sorts its keys), so lines start with
/// `ok, scenario, client, clientVersion` like the other harnesses'.
#[derive(Default)]
pub struct Obj(Vec<(String, Value)>);

impl Obj {
    pub fn insert(&mut self, k: String, v: Value) {
        match self.0.iter_mut().find(|(key, _)| *key == k) {
            Some(e) => e.1 = v,
            None => self.0.push((k, v)),
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&Value::String(k.clone()).to_string());
            s.push(':');
            s.push_str(&v.to_string());
        }
        s.push('}');
        s
    }
}

/// Writes the single result line to the real stdout.
pub fn emit_line(v: &Obj) {
    let mut line = v.to_json();
    line.push('\n');
    if let Some(out) = RESULT_OUT.get() {
        let mut f = out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = f.write_all(line.as_bytes());
        let _ = f.flush();
    } else {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

/// Base of every result object.
pub fn result(scenario: &str, ok: bool) -> Obj {
    let mut m = Obj::default();
    m.insert("ok".into(), json!(ok));
    m.insert("scenario".into(), json!(scenario));
    m.insert("client".into(), json!(CLIENT));
    m.insert("clientVersion".into(), json!(CLIENT_VERSION));
    m
}

#[allow(unsafe_code)]
fn redirect_stdout() {
    use std::os::fd::FromRawFd;
    // SAFETY: plain fd juggling at startup, before any other thread exists.
    unsafe {
        let saved = libc::dup(1);
        if saved >= 0 && libc::dup2(2, 1) >= 0 {
            let _ = RESULT_OUT.set(std::sync::Mutex::new(std::fs::File::from_raw_fd(saved)));
        }
    }
}

fn init_logging() {
    let level = match std::env::var("RMQ_HARNESS_RUST_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "off" => None,
        "error" => Some(tracing::Level::ERROR),
        "info" => Some(tracing::Level::INFO),
        "debug" => Some(tracing::Level::DEBUG),
        "trace" => Some(tracing::Level::TRACE),
        _ => Some(tracing::Level::WARN),
    };
    if let Some(level) = level {
        let _ = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .try_init();
    }
}

/// Kills the process (exit 3, with a `fatal` JSON line) if no result appeared `after` from now.
pub fn watchdog(after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let mut m = Obj::default();
        m.insert("ok".into(), json!(false));
        m.insert("client".into(), json!(CLIENT));
        m.insert("clientVersion".into(), json!(CLIENT_VERSION));
        m.insert(
            "fatal".into(),
            json!(format!(
                "watchdog: no result {} ms after start",
                after.as_millis()
            )),
        );
        emit_line(&m);
        std::process::exit(3);
    });
}

/// The client crate's runtime plumbing (as in its examples/support).
pub struct Rt {
    owner: RuntimeOwner,
    pub client: Arc<ClientRuntime>,
}

impl Rt {
    pub fn new() -> Result<Self, String> {
        let mut config = RuntimeConfig {
            thread_name: "rmq-harness-rust".to_string(),
            ..Default::default()
        };
        // The push consumer runs every listener call on the client runtime's metadata-io
        // blocking lane, whose default queue is 8 x cores deep: with a backlog, admission fails
        // (runtime.capacity.exhausted), the batch counts as failed and is sent back for retry
        // (the same happens against the Apache broker). A deep queue keeps that client-side
        // limit out of broker tests.
        let lanes = &mut config.blocking_lane_policies;
        lanes.metadata_io.max_queue_depth = lanes.metadata_io.max_queue_depth.max(65_536);
        lanes.storage_io.max_queue_depth = lanes.storage_io.max_queue_depth.max(65_536);
        let owner = RuntimeOwner::plan(config)
            .map_err(|e| format!("runtime config: {e}"))?
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let client = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig::default(),
            TelemetryHandle::noop(),
        )
        .map_err(|e| format!("client runtime: {e}"))?;
        Ok(Self { owner, client })
    }

    /// Best-effort, bounded shutdown.
    pub async fn shutdown(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.shutdown()).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.owner.shutdown_tasks()).await;
        let _ = self.owner.shutdown_background();
    }
}

fn main() -> ExitCode {
    redirect_stdout();
    init_logging();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(scenario) = args.first().cloned() else {
        eprintln!("rmq-harness-rust: usage error: missing scenario\n{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rmq-harness-rust: fatal: tokio: {e}");
            return ExitCode::from(3);
        }
    };
    let outcome = match scenario.as_str() {
        "produce" => runtime.block_on(produce::run(rest)),
        "pull" => runtime.block_on(consume::run(rest, true)),
        "consume" => runtime.block_on(consume::run(rest, false)),
        "query" => Outcome::Unsupported(
            "query by key / msgId is not implemented by the Rust harness".into(),
        ),
        "version" => {
            emit_line(&result("version", true));
            Outcome::Ok
        }
        "-h" | "--help" | "help" => {
            eprintln!("{USAGE}");
            Outcome::Ok
        }
        other => Outcome::Usage(format!("unknown scenario '{other}'")),
    };
    let code = match outcome {
        Outcome::Ok => 0,
        Outcome::NotOk => 1,
        Outcome::Usage(msg) => {
            eprintln!("rmq-harness-rust: usage error: {msg}\n{USAGE}");
            2
        }
        Outcome::Fatal(msg) => {
            eprintln!("rmq-harness-rust: fatal: {msg}");
            let mut m = result(&scenario, false);
            m.insert("fatal".into(), json!(msg));
            emit_line(&m);
            3
        }
        Outcome::Unsupported(msg) => {
            let mut m = result(&scenario, false);
            m.insert("unsupported".into(), json!(msg));
            emit_line(&m);
            4
        }
    };
    // The client's background tasks must not hold the process up.
    runtime.shutdown_timeout(Duration::from_secs(2));
    ExitCode::from(code)
}
