//! Test support for rmqctl's process tests: run rmqctl, find the rmq binaries, allocate free
//! ports, keep a local cluster's lifetime tied to a guard, run the Java client harness.
#![allow(clippy::unwrap_used, dead_code)]

pub mod foreground;

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `examples/<name>`.
pub fn example(name: &str) -> String {
    repo().join("examples").join(name).display().to_string()
}

/// `operator/ctl/tests/fixtures/<name>`.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Directory of rmq-broker and rmq-namesrv: `RMQ_BIN_DIR`, else next to rmqctl. Fails with the
/// command that builds them.
pub fn bin_dir() -> PathBuf {
    let dir = std::env::var_os("RMQ_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_BIN_EXE_rmqctl"))
                .parent()
                .unwrap()
                .to_path_buf()
        });
    for b in ["rmq-broker", "rmq-namesrv"] {
        assert!(
            dir.join(b).is_file(),
            "{} not found: build rmq-broker first: `cargo build -p rmq-broker -p rmq-namesrv` \
             (same CARGO_TARGET_DIR as this test), or set RMQ_BIN_DIR to the directory holding them",
            dir.join(b).display()
        );
    }
    dir
}

/// The result of one rmqctl run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts exit 0 and returns self.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "rmqctl failed:\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// stdout and stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs rmqctl with `args` (no inherited NAMESRV_ADDR; RMQ_BIN_DIR passes through).
pub fn rmqctl(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_rmqctl"))
        .args(args)
        .env_remove("NAMESRV_ADDR")
        .env_remove("RMQ_LOCAL_STATE_DIR")
        .output()
        .unwrap();
    Run::from(out)
}

/// The rows of `rmqctl get <what> --namesrv <ns> -o json`.
pub fn get(ns: &str, what: &str) -> Vec<Value> {
    match rmqctl(&["get", what, "--namesrv", ns, "-o", "json"])
        .ok()
        .json()
    {
        Value::Array(rows) => rows,
        other => panic!("`get {what}` printed no JSON array: {other}"),
    }
}

static PORTS: Mutex<u16> = Mutex::new(0);

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A base port for `local up --base-port` whose nameserver ports (`ns`) and broker ports
/// (`brokers`, main + HA each) are free; below the kernel's ephemeral range.
pub fn base_port(ns: u16, brokers: u16) -> u16 {
    let mut next = PORTS.lock().unwrap();
    if *next == 0 {
        *next = 20000 + (std::process::id() % 200) as u16 * 20;
    }
    loop {
        let b = *next;
        *next += 7;
        if *next > 28000 {
            *next = 20000;
        }
        let ns_ok = (0..ns).all(|i| free(b + i));
        let br_ok = (0..brokers)
            .all(|k| free(b + 1035 + 10 * k) && free(b + 1036 + 10 * k) && free(b + 1033 + 10 * k));
        if ns_ok && br_ok {
            *next += 1100 + 10 * brokers;
            return b;
        }
    }
}

/// A local cluster started with `local up --detach`; stopped (`local down`) on drop.
pub struct LocalCluster {
    pub state_dir: PathBuf,
    pub namesrv: String,
    _tmp: Option<tempfile::TempDir>,
}

impl LocalCluster {
    /// `rmqctl local up --detach -f files...` on free ports in a temp state dir.
    pub fn up(files: &[&str], ns: u16, brokers: u16) -> (Self, Run) {
        bin_dir();
        let tmp = tempfile::tempdir().unwrap();
        let state_dir = tmp.path().join("state");
        let c = Self {
            state_dir,
            namesrv: String::new(),
            _tmp: Some(tmp),
        };
        let run = c.start(files, base_port(ns, brokers));
        (c, run)
    }

    /// The cluster recorded in `state_dir` (started by the test itself); `local down` on drop.
    pub fn at(state_dir: PathBuf) -> Self {
        Self {
            state_dir,
            namesrv: String::new(),
            _tmp: None,
        }
    }

    /// Runs `local up --detach` for this state dir.
    pub fn start(&self, files: &[&str], base: u16) -> Run {
        let base = base.to_string();
        let mut args = vec![
            "local",
            "up",
            "--detach",
            "--timeout",
            "120",
            "--base-port",
            &base,
        ];
        let dir = self.state_dir.display().to_string();
        args.extend(["--state-dir", &dir]);
        for f in files {
            args.extend(["-f", f]);
        }
        rmqctl(&args)
    }

    /// `local up` again with the same files and the recorded base port.
    pub fn restart(&self, files: &[&str]) -> Run {
        self.start(files, self.base())
    }

    /// The base port recorded in the state file (first nameserver's port).
    pub fn base(&self) -> u16 {
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(self.state_dir.join("state.json")).unwrap(),
        )
        .unwrap();
        let addr = state["nodes"][0]["address"].as_str().unwrap();
        addr.rsplit_once(':').unwrap().1.parse().unwrap()
    }

    /// The namesrvAddr from the state file.
    pub fn namesrv(&self) -> String {
        let state: Value = serde_json::from_str(
            &std::fs::read_to_string(self.state_dir.join("state.json")).unwrap(),
        )
        .unwrap();
        state["namesrvAddr"].as_str().unwrap().to_owned()
    }

    /// `local down`.
    pub fn down(&self) -> Run {
        rmqctl(&[
            "local",
            "down",
            "--state-dir",
            &self.state_dir.display().to_string(),
        ])
    }

    /// `local status -o json`.
    pub fn status(&self) -> Run {
        rmqctl(&[
            "local",
            "status",
            "-o",
            "json",
            "--state-dir",
            &self.state_dir.display().to_string(),
        ])
    }

    /// A node's log (for failure messages).
    pub fn log(&self, node: &str) -> String {
        std::fs::read_to_string(self.state_dir.join("logs").join(format!("{node}.log")))
            .unwrap_or_default()
    }
}

impl LocalCluster {
    /// The node table and the last lines of every node's log, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut out = format!(
            "ports: base {}\n{}",
            self.base(),
            rmqctl(&[
                "local",
                "status",
                "--state-dir",
                &self.state_dir.display().to_string()
            ])
            .all()
        );
        if let Ok(rd) = std::fs::read_dir(self.state_dir.join("logs")) {
            for e in rd.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(12)..].join("\n");
                out.push_str(&format!("\n--- {} ---\n{tail}\n", e.path().display()));
            }
        }
        out
    }

    /// Runs the Java 5.x harness against this cluster and asserts `ok`.
    pub fn java_ok(&self, args: &[&str]) -> Value {
        let v = java(args);
        assert_eq!(v["ok"], true, "{args:?}: {v}\n{}", self.diagnostics());
        v
    }
}

impl LocalCluster {
    /// The Java client produces `count` messages `<prefix>-<i>` to `topic`; returns its result.
    pub fn produce(&self, topic: &str, count: usize, prefix: &str) -> Value {
        let (ns, count) = (self.namesrv(), count.to_string());
        self.java_ok(&[
            "produce",
            "--namesrv",
            &ns,
            "--topic",
            topic,
            "--count",
            &count,
            "--prefix",
            prefix,
        ])
    }

    /// The Java client consumes `expect` messages `<prefix>-*` from `topic` as `group` (more
    /// harness flags in `extra`); returns its result.
    pub fn consume(
        &self,
        topic: &str,
        group: &str,
        expect: usize,
        prefix: &str,
        extra: &[&str],
    ) -> Value {
        let (ns, expect) = (self.namesrv(), expect.to_string());
        let mut args = vec![
            "consume",
            "--namesrv",
            &ns,
            "--topic",
            topic,
            "--group",
            group,
            "--expect",
            &expect,
            "--prefix",
            prefix,
        ];
        args.extend(extra);
        self.java_ok(&args)
    }
}

/// Asserts that `text` contains `needle`, showing `text` when it does not.
pub fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.state_dir.join("state.json").exists() {
            let _ = self.down();
        }
    }
}

pub use rmq_e2e::harness::harness_var;

/// Runs the Java 5.x harness and returns its JSON result line.
pub fn java(args: &[&str]) -> Value {
    let harness = harness_var("RMQ_JAVA_HARNESS_5");
    let out = Command::new(&harness).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON from {harness} {args:?}:\nstdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(line).unwrap()
}
