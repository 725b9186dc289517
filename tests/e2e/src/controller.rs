//! `rmq-controller` replicas for the controller-mode suites: a 3-replica Raft group on
//! 127.0.0.1 with fixed ports (so a replica restarts on its address and store), and a client
//! that drives it as a broker group and `mqadmin` would (headers built by hand, with Java's
//! field names).

use crate::admin::Admin;
use crate::process::{bin_path, free_port, unsafe_free_kill};
use rmq_protocol::RemotingCommand;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One controller replica (its store survives restarts).
pub struct ControllerProc {
    child: Option<Child>,
    /// Its peer id (`n0`).
    pub id: String,
    /// `127.0.0.1:port`.
    pub addr: String,
    conf: PathBuf,
    dir: tempfile::TempDir,
}

/// Starts `n` replicas named `n0..`, each with `extra` keys in its controller.conf; waits
/// until each printed its boot line.
pub fn start_controllers(n: usize, extra: &[(&str, &str)]) -> Vec<ControllerProc> {
    let ids: Vec<(String, String)> = (0..n)
        .map(|i| (format!("n{i}"), format!("127.0.0.1:{}", free_port())))
        .collect();
    let peers: String = ids
        .iter()
        .map(|(id, addr)| format!("{id}-{addr};"))
        .collect();
    let mut procs: Vec<ControllerProc> = ids
        .into_iter()
        .map(|(id, addr)| {
            let dir = tempfile::tempdir().unwrap();
            let mut text = format!(
                "controllerDLegerGroup=rmq-e2e\ncontrollerDLegerPeers={peers}\n\
                 controllerDLegerSelfId={id}\ncontrollerStorePath={}\nlistenAddr=127.0.0.1\n",
                dir.path().join("store").display()
            );
            for (k, v) in extra {
                text.push_str(&format!("{k}={v}\n"));
            }
            let conf = dir.path().join("controller.conf");
            std::fs::write(&conf, text).unwrap();
            ControllerProc {
                child: None,
                id,
                addr,
                conf,
                dir,
            }
        })
        .collect();
    for p in &mut procs {
        p.start_again();
    }
    procs
}

impl ControllerProc {
    /// Starts the (stopped) replica on its address and store.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "controller {} still running", self.id);
        let mut cmd = Command::new(bin_path("rmq-controller"));
        cmd.arg("-c").arg(&self.conf);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn rmq-controller");
        let log = self.log_path();
        let (tx, rx) = mpsc::channel();
        for (stream, is_stdout) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
                true,
            ),
            (Box::new(child.stderr.take().unwrap()), false),
        ] {
            let (log, tx) = (log.clone(), tx.clone());
            std::thread::spawn(move || {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap();
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if is_stdout && line.contains("boot success") {
                        let _ = tx.send(());
                    }
                    let _ = writeln!(f, "{line}");
                }
            });
        }
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            panic!("controller {} did not boot:\n{}", self.id, self.log());
        }
        self.child = Some(child);
    }

    /// SIGKILL (a crash: nothing is flushed beyond what was fsynced).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the process runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("controller.log")
    }

    /// Everything the replica logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for ControllerProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_free_kill(c.id(), libc::SIGTERM);
            for _ in 0..60 {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            let text = self.log();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- last lines of controller {} ---", self.id);
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
    }
}

/// A request with header fields `fields` (Java's names) and an optional JSON body.
pub fn request(code: i32, fields: &[(&str, String)], body: Option<String>) -> RemotingCommand {
    let mut req = RemotingCommand::request(code);
    for (k, v) in fields {
        req.ext_fields.insert(k, v);
    }
    match body {
        Some(b) => req.with_body(b.into_bytes()),
        None => req,
    }
}

/// A header field of `resp` (empty when absent).
pub fn field(resp: &RemotingCommand, key: &str) -> String {
    resp.ext_fields.get(key).unwrap_or_default().to_owned()
}

/// The leader as `addr` answers `CONTROLLER_GET_METADATA_INFO` (1005): `(id, address)` when it
/// names one.
pub fn leader_seen_by(admin: &Admin, addr: &str) -> Option<(String, String)> {
    let resp = admin.invoke(addr, request(1005, &[], None))?;
    let addr = field(&resp, "controllerLeaderAddress");
    (resp.code == 0 && !addr.is_empty()).then(|| (field(&resp, "controllerLeaderId"), addr))
}

/// The leader, when a running replica says it is the leader.
pub fn find_leader(admin: &Admin, procs: &[ControllerProc]) -> Option<String> {
    procs.iter().filter(|p| p.running()).find_map(|p| {
        let resp = admin.invoke(&p.addr, request(1005, &[], None))?;
        (field(&resp, "isLeader") == "true").then(|| p.addr.clone())
    })
}
