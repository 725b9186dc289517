//! `rmq-bench`: the native load driver of `bench/run.sh`, a drop-in for the Java driver
//! (`bench/driver`): the same commands, arguments and one-JSON-line-per-phase output, over
//! rmq-protocol's async client instead of the official Java client.
//!
//! ```text
//! rmq-bench net  [--seconds S] [--rtt-count N]
//! rmq-bench load --namesrv A --broker B --topic T --plan P [--backlog-topic T2]
//!                [--warmup-ms W] [--measure-ms M] [--initial-warmup-ms X] [--phase-timeout-ms T]
//!                [--inflight K] [--rate R] [--max-inflight K] [--broker-pid PID | --broker-pid-file F]
//!                [--clk-tck 100] [--watch-broker-name N --ready-file F] [--create-topics T1,T2 --queues 8]
//!                [--idle-ms M] [--cpu N] [--workers N] [--settle-ms S] [--e2e-topic T3]
//! ```
//!
//! Plans: see [`plan`]. `--cpu N` pins every thread of the driver to core N; `--workers N` sets
//! the async runtime's worker threads (default 1: one core's worth of driver).

mod args;
mod backlog;
mod client;
mod e2e;
mod host;
mod json;
mod latency;
mod load;
mod net;
mod pace;
mod phases;
mod plan;
mod procfs;
mod scale;
mod ticker;
mod window;

use args::Args;
use json::{Obj, emit};

const USAGE: &str = "usage: rmq-bench net|load [--name value]...
  net  [--seconds S] [--rtt-count N]           loopback TCP bandwidth and 1-byte round trip
  load --namesrv A --broker B --topic T --plan P [--backlog-topic T2] [--warmup-ms W]
       [--measure-ms M] [--initial-warmup-ms X] [--phase-timeout-ms T] [--inflight K]
       [--rate R] [--max-inflight K] [--broker-pid PID | --broker-pid-file F] [--clk-tck 100]
       [--watch-broker-name N --ready-file F] [--create-topics T1,T2 --queues 8] [--idle-ms M]
       [--cpu N] [--workers N] [--settle-ms S] [--e2e-topic T3]
plan: comma list of sync:SIZE:THREADS, async:SIZE, open:SIZE[:RATE], openpct:SIZE:PCT,
      e2e:SIZE:RATE, fill:SIZE:COUNT, consume, scale:TOPICS:GROUPS:RATE";

/// Pins this thread (and so every thread it starts later) to core `cpu`.
fn pin(cpu: usize) -> Result<(), String> {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let Some(core) = cores.iter().find(|c| c.id == cpu) else {
        let ids: Vec<String> = cores.iter().map(|c| c.id.to_string()).collect();
        return Err(format!(
            "--cpu {cpu}: no such core available to this process (cores: {})",
            ids.join(",")
        ));
    };
    if !core_affinity::set_for_current(*core) {
        return Err(format!("--cpu {cpu}: the kernel refused to pin the driver"));
    }
    Ok(())
}

fn load(args: Args) -> Result<i32, String> {
    let cpu = args.opt_num::<usize>("cpu")?;
    if let Some(cpu) = cpu {
        pin(cpu)?;
    }
    let workers = args.num("workers", 1usize)?.max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let load = load::Load::new(args)?;
    let mut info = Obj::phase("driver");
    info.set("driver", "native");
    info.set("workers", workers);
    if let Some(cpu) = cpu {
        info.set("cpu", cpu);
    }
    emit(&info);
    runtime.block_on(load.run())
}

fn run(argv: Vec<String>) -> Result<i32, String> {
    let Some(cmd) = argv.first() else {
        return Err(USAGE.into());
    };
    let args = Args::parse(argv[1..].iter().cloned())?;
    match cmd.as_str() {
        "net" => {
            emit(&net::run(&args)?);
            Ok(0)
        }
        "load" => load(args),
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(0)
        }
        other => Err(format!("unknown command '{other}'\n{USAGE}")),
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(argv) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rmq-bench: {e}");
            2
        }
    };
    std::process::exit(code);
}
