//! Child processes of a local cluster: spawning detached from rmqctl's terminal signals, checking
//! that a recorded pid is still the node we started (not a reused pid), SIGTERM/SIGKILL.

use std::fs::File;
use std::io;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Environment variables of rmq-broker / rmq-namesrv that would override the generated config;
/// removed from the children's environment.
fn overriding_env(key: &str) -> bool {
    key == "NAMESRV_ADDR" || key.starts_with("RMQ_BROKER_") || key.starts_with("RMQ_NAMESRV_")
}

/// Starts `bin args` in its own process group (Ctrl-C on rmqctl's terminal does not reach it;
/// rmqctl stops it in order), stdout and stderr appended to `log`.
pub fn spawn(bin: &Path, args: &[String], log: &Path, cwd: &Path) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        // Plain log files (tracing-subscriber honours NO_COLOR).
        .env("NO_COLOR", "1");
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(overriding_env) {
            cmd.env_remove(k);
        }
    }
    cmd.spawn()
}

fn proc_stat_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) S ...: the state follows the last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// True if `pid` runs (a zombie counts as stopped).
pub fn alive(pid: u32) -> bool {
    if Path::new("/proc/self/stat").exists() {
        return matches!(proc_stat_state(pid), Some(s) if s != 'Z' && s != 'X');
    }
    let Some(p) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    rustix::process::test_kill_process(p).is_ok()
}

/// True if `pid` runs and its command line mentions `marker` (the node's directory), so a
/// recycled pid is never mistaken for our node.
pub fn is_node(pid: u32, marker: &str) -> bool {
    if !alive(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains(marker),
        // No /proc (macOS): trust the pid file.
        Err(_) => true,
    }
}

fn signal(pid: u32, sig: rustix::process::Signal) -> io::Result<()> {
    let p = rustix::process::Pid::from_raw(pid as i32)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "pid 0"))?;
    rustix::process::kill_process(p, sig).map_err(io::Error::from)
}

/// Asks `pid` to stop gracefully.
pub fn terminate(pid: u32) -> io::Result<()> {
    signal(pid, rustix::process::Signal::TERM)
}

/// Kills `pid`.
pub fn kill(pid: u32) -> io::Result<()> {
    signal(pid, rustix::process::Signal::KILL)
}

/// The last `n` lines of a log file (for error messages).
pub fn log_tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
