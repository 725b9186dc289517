//! Spawning and stopping rmq processes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Where the rmq binaries are: `RMQ_BIN_DIR`, else the cargo target dir this test runs from.
pub fn bin_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("RMQ_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("current exe");
            // target/<profile>/deps/<test> -> target/<profile>
            exe.parent()
                .and_then(|p| p.parent())
                .expect("target dir")
                .to_path_buf()
        });
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found: build it first with `cargo build -p rmq-broker -p rmq-namesrv` \
         (or set RMQ_BIN_DIR to the directory holding the binaries)",
        path.display()
    );
    path
}

/// Spawns `cmd`, forwards its output to a log file and waits for a stdout line containing
/// `ready`; returns the child and that line.
fn try_spawn_until(mut cmd: Command, ready: &str, log: PathBuf) -> Result<(Child, String), String> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let ready_line = ready.to_owned();
    let log_out = log.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_out)
            .unwrap();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(&ready_line) {
                let _ = tx.send(line.clone());
            }
            let _ = writeln!(f, "{line}");
        }
    });
    std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(f, "{line}");
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) => Ok((child, line)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("process did not print {ready:?} within 30 s"))
        }
    }
}

/// [`try_spawn_until`], panicking when the process does not come up.
fn spawn_until(cmd: Command, ready: &str, log: PathBuf) -> (Child, String) {
    try_spawn_until(cmd, ready, log).unwrap_or_else(|e| panic!("{e}"))
}

fn stop(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // SIGTERM first for a graceful stop, then SIGKILL.
        unsafe_free_kill(child.id(), libc::SIGTERM);
        for _ in 0..100 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Sends a signal with the `kill` command (the workspace forbids unsafe code).
pub fn unsafe_free_kill(pid: u32, signal: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

/// Where [`free_port`] looks: below Linux's ephemeral range (32768-60999), so no outgoing
/// connection takes a port between the check and the server's bind (or its restart).
const FIXED_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A TCP port that was free on 127.0.0.1 a moment ago, for settings such as `haListenPort`
/// that must stay the same across restarts. Ports come from [`FIXED_PORTS`], from a start that
/// differs per process (test binaries run side by side) and never twice in one process (the
/// port of an earlier call may not be bound yet).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    static SEED: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let span = u32::from(FIXED_PORTS.end - FIXED_PORTS.start);
    let seed = *SEED.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        std::process::id().wrapping_mul(7919) ^ nanos
    });
    for _ in 0..span {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIXED_PORTS.start + u16::try_from(seed.wrapping_add(step) % span).unwrap_or(0);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIXED_PORTS:?} on 127.0.0.1");
}

/// The address of the last `http listening addr=IP:PORT` line in `log` (empty if none).
fn http_addr_in(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .rev()
        .filter_map(|l| l.split("http listening addr=").nth(1))
        .find_map(|rest| rest.split_whitespace().next())
        .unwrap_or_default()
        .to_owned()
}

/// A running nameserver.
pub struct NamesrvProc {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// `127.0.0.1:port` of its HTTP listener (`/healthz`, `/readyz`).
    pub http_addr: String,
    _dir: tempfile::TempDir,
}

impl NamesrvProc {
    /// Starts a nameserver on an ephemeral port.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts a nameserver on `port` (0 = ephemeral); its HTTP port is ephemeral.
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts a nameserver on `port` with `conf` written to its namesrv.conf (`-c`).
    pub fn start_with(port: u16, conf: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(bin_path("rmq-namesrv"));
        cmd.args(["--listen-addr", "127.0.0.1", "--listen-port"])
            .arg(port.to_string())
            .args(["--http-listen-port", "0", "--kv-config-path"])
            .arg(dir.path().join("kv.json"));
        if !conf.is_empty() {
            let file = dir.path().join("namesrv.conf");
            let text: String = conf.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            std::fs::write(&file, text).unwrap();
            cmd.arg("-c").arg(file);
        }
        let log = dir.path().join("namesrv.log");
        let (child, line) = spawn_until(cmd, "boot success", log.clone());
        let addr = line.rsplit(' ').next().unwrap().to_owned();
        Self {
            child,
            addr,
            http_addr: http_addr_in(&log),
            _dir: dir,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the nameserver logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("namesrv.log")).unwrap_or_default()
    }
}

impl Drop for NamesrvProc {
    fn drop(&mut self) {
        stop(&mut self.child);
        print_tail_if_panicking("nameserver", &self._dir.path().join("namesrv.log"));
    }
}

/// While a test is failing, prints the last lines of a process log to stderr (cargo shows it
/// with the failure), so a CI log says what the broker or nameserver did.
fn print_tail_if_panicking(what: &str, log: &std::path::Path) {
    if !std::thread::panicking() {
        return;
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(60)..];
    eprintln!("--- last {} lines of the {what} log ---", tail.len());
    for l in tail {
        eprintln!("{l}");
    }
}

/// Broker settings for a test.
#[derive(Clone, Debug)]
pub struct BrokerOpts {
    /// brokerName.
    pub name: String,
    /// Extra broker.conf keys.
    pub set: Vec<(String, String)>,
    /// Fixed port (0: a free one picked at start, below the ephemeral range; a restart reuses
    /// it).
    pub port: u16,
    /// The store directory (`None`: `store` in the broker's temporary directory).
    pub store_dir: Option<PathBuf>,
}

impl Default for BrokerOpts {
    fn default() -> Self {
        Self {
            name: "broker-a".into(),
            set: vec![("mappedFileSizeCommitLog".into(), "67108864".into())],
            port: 0,
            store_dir: None,
        }
    }
}

/// A running broker (restartable on the same store and port).
pub struct BrokerProc {
    child: Option<Child>,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// `127.0.0.1:port` of its HTTP listener (`/healthz`, `/readyz`).
    pub http_addr: String,
    /// The store directory.
    pub store: PathBuf,
    namesrv: String,
    opts: BrokerOpts,
    dir: tempfile::TempDir,
}

impl BrokerProc {
    /// Starts a broker registered with `namesrv` (`;`-separated for several). Without an
    /// explicit `haListenPort` (`httpListenPort`) it gets a free one, so a restart on the same
    /// main port does not need `listenPort + 1` (`+ 7`) to be free; without a port, a free one
    /// outside the ephemeral range (a restart binds it again).
    pub fn start(namesrv: &str, opts: BrokerOpts) -> Self {
        let mut opts = opts;
        let port_chosen = opts.port == 0;
        if port_chosen {
            opts.port = free_port();
        }
        let mut chosen = Vec::new();
        for key in ["haListenPort", "httpListenPort"] {
            if !opts.set.iter().any(|(k, _)| k == key) {
                opts.set.push((key.into(), free_port().to_string()));
                chosen.push(key);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store = opts
            .store_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("store"));
        let mut b = Self {
            child: None,
            addr: String::new(),
            http_addr: String::new(),
            store,
            namesrv: namesrv.to_owned(),
            opts,
            dir,
        };
        // A port picked free can be taken by another test before the broker binds it: pick
        // again (only ports chosen here; a test's own ports stay as they are).
        for attempt in 1..=3 {
            match b.try_spawn() {
                Ok(()) => return b,
                Err(e)
                    if attempt < 3
                        && (port_chosen || !chosen.is_empty())
                        && b.log().contains("Address already in use") =>
                {
                    eprintln!("broker start: {e}; a picked port was taken, picking again");
                    if port_chosen {
                        b.opts.port = free_port();
                    }
                    for (k, v) in &mut b.opts.set {
                        if chosen.contains(&k.as_str()) {
                            *v = free_port().to_string();
                        }
                    }
                }
                Err(e) => panic!("{e}: {}", b.log()),
            }
        }
        b
    }

    fn spawn(&mut self) {
        if let Err(e) = self.try_spawn() {
            panic!("{e}: {}", self.log());
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(bin_path("rmq-broker"));
        cmd.args([
            "-n",
            &self.namesrv,
            "--listen-addr",
            "127.0.0.1",
            "--broker-ip1",
            "127.0.0.1",
        ])
        .args(["--listen-port", &self.opts.port.to_string()])
        .args(["--broker-name", &self.opts.name])
        .arg("--store-dir")
        .arg(&self.store);
        for (k, v) in &self.opts.set {
            cmd.arg("--set").arg(format!("{k}={v}"));
        }
        let (child, line) =
            try_spawn_until(cmd, "boot success", self.dir.path().join("broker.log"))?;
        // "The broker[broker-a, 127.0.0.1:PORT] boot success..."
        let addr = line
            .split(", ")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .unwrap()
            .to_owned();
        self.opts.port = addr.rsplit(':').next().unwrap().parse().unwrap();
        self.addr = addr;
        self.http_addr = http_addr_in(&self.dir.path().join("broker.log"));
        self.child = Some(child);
        // Registration happens right after boot; give it a moment.
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Graceful stop (SIGTERM) and wait; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        unsafe_free_kill(c.id(), libc::SIGTERM);
        for _ in 0..200 {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        c.wait().ok().and_then(|s| s.code())
    }

    /// Starts again on the same store and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Starts after a kill or stop.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "broker still running");
        self.spawn();
    }

    /// The broker log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop(&mut c);
        }
        print_tail_if_panicking("broker", &self.dir.path().join("broker.log"));
    }
}
