//! The node user data run in a sandbox: `RMQ_ROOT` a temp dir, `RMQ_ARTEFACT_DIR` the binaries
//! instead of S3, `RMQ_NO_SYSTEMD=1` (the script execs the server), `RMQ_NO_EC2=1`; ports
//! overridden. Shared by `userdata_sandbox.rs` and `userdata_failover.rs`.

use super::params;
use rmq_aws::discovered::Discovered;
use rmq_aws::plan::plan;
use rmq_aws::resource::{ArtefactFile, Spec, State};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Kills the exec'd server (and what its script started) when the test ends, however it ends.
pub struct Node(pub Child);
impl Drop for Node {
    fn drop(&mut self) {
        // The script's process group: the server it exec'd and a controller it started.
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn bin_dir(extra: &[&str]) -> Option<PathBuf> {
    let dir = std::env::var_os("RMQ_BIN_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // target/<profile>/deps/<test> -> target/<profile>
            std::env::current_exe()
                .ok()?
                .parent()?
                .parent()
                .map(Path::to_path_buf)
        })?;
    let ok = ["rmq-namesrv", "rmq-broker"]
        .iter()
        .chain(extra)
        .all(|b| dir.join(b).is_file());
    if !ok {
        assert!(
            std::env::var("RMQ_AWS_REQUIRE_MOTO").as_deref() != Ok("1"),
            "rmq-namesrv/rmq-broker {extra:?} not in {} (cargo build -p rmq-namesrv -p rmq-broker -p rmq-controller, or set RMQ_BIN_DIR)",
            dir.display()
        );
        eprintln!(
            "skipped: build rmq-namesrv, rmq-broker and {extra:?} first (or set RMQ_BIN_DIR)"
        );
        return None;
    }
    Some(dir)
}

/// A port that was free on every address a moment ago.
///
/// Picked in 10000-19999, below the kernel's ephemeral range (32768-60999) that binding port 0
/// draws from: a port from that range can become the local port of any process's next outgoing
/// connection before the node binds it (on a busy CI machine a broker's HTTP port was taken so).
/// The rmqctl tests' clusters use 20000 and up.
pub fn free_port() -> u16 {
    const LOW: u32 = 10_000;
    const SPAN: u32 = 10_000;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let seed = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
    (0..SPAN)
        .map(|i| LOW + seed.wrapping_add(i.wrapping_mul(7_919)) % SPAN)
        .filter_map(|p| u16::try_from(p).ok())
        .find(|p| std::net::TcpListener::bind(("0.0.0.0", *p)).is_ok())
        .expect("a free port in 10000-19999")
}

/// A free port whose HTTP port (+ 7, the nodes' default `httpListenPort`) is free too and
/// differs from every port in `taken`.
pub fn free_node_port(taken: &[u16]) -> u16 {
    loop {
        let p = free_port();
        let http = p.saturating_add(7);
        let clash = taken.iter().any(|t| *t == p || *t == http);
        if !clash && std::net::TcpListener::bind(("0.0.0.0", http)).is_ok() {
            return p;
        }
    }
}

/// The user data of launch template `key`, resolved against `state`.
pub fn user_data(p: &rmq_aws::Plan, key: &str, state: &State) -> String {
    match &p.resource(key).unwrap().spec {
        Spec::LaunchTemplate {
            user_data: Some(u), ..
        } => u.resolve(state).unwrap(),
        other => panic!("{key}: {other:?}"),
    }
}

pub fn run(script: &Path, root: &Path, bins: &Path, env: &[(&str, String)], log: &Path) -> Node {
    let mut cmd = Command::new("bash");
    cmd.process_group(0);
    cmd.arg(script)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RMQ_ROOT", root)
        .env("RMQ_ARTEFACT_DIR", bins)
        .env("RMQ_NO_SYSTEMD", "1")
        .env("RMQ_NO_EC2", "1")
        .stdout(Stdio::from(std::fs::File::create(log).unwrap()))
        .stderr(Stdio::from(
            std::fs::File::options().append(true).open(log).unwrap(),
        ));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Node(cmd.spawn().unwrap())
}

/// The plan of `cluster` whose artefacts are the binaries in `bins`.
pub fn sandbox_plan_of(cluster: &rmq_model::ValidatedCluster, bins: &Path) -> rmq_aws::Plan {
    let mut found = Discovered::default();
    found.env.region = "us-east-1".into();
    found.env.azs = vec!["us-east-1a".into(), "us-east-1b".into()];
    found.env.latest_amis = [("x86_64".into(), "ami-1".into())].into();
    // As with --artefact-dir: the binaries the sandbox runs, with their checksums.
    found.env.artefact_files = ["rmq-namesrv", "rmq-broker", "rmq-controller"]
        .iter()
        .filter(|name| bins.join(name).is_file())
        .map(|name| ArtefactFile {
            name: (*name).into(),
            path: bins.join(name).display().to_string(),
            sha256: sha256_of(&bins.join(name)),
            embedded: None,
        })
        .collect();
    plan(cluster, &params("sandbox-artefacts", None), &found).unwrap()
}

/// Hex SHA-256 of a file, as `sha256sum` prints it.
pub fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
