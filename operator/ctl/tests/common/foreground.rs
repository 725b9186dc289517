//! A foreground `rmqctl local up` (it supervises its nodes and restarts a dead one) for the
//! tests that kill nodes under it; SIGTERM on drop, which stops its nodes.

use super::LocalCluster;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running `rmqctl local up`, its stderr in a file next to the state directory.
pub struct Foreground {
    child: Child,
    stderr: PathBuf,
}

impl Foreground {
    /// Starts `rmqctl local up -f file` with `state` as its state directory, ports from `base`,
    /// a dead node restarted after `restart_delay_s` seconds.
    pub fn start(file: &Path, state: &Path, base: u16, restart_delay_s: u32) -> Self {
        let stderr = state.with_extension("stderr");
        let child = Command::new(env!("CARGO_BIN_EXE_rmqctl"))
            .args(["local", "up", "--timeout", "120", "--restart-delay"])
            .arg(restart_delay_s.to_string())
            .arg("--base-port")
            .arg(base.to_string())
            .arg("--state-dir")
            .arg(state)
            .arg("-f")
            .arg(file)
            .env_remove("NAMESRV_ADDR")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Self { child, stderr }
    }

    /// Waits until it exits (after `rmqctl local down`, say): how it ended.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    /// What it wrote so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until its output holds `needle`; panics (with the output and the cluster's
    /// diagnostics) if rmqctl exits first or `limit` passes.
    pub fn wait_for(&mut self, needle: &str, limit: Duration, c: &LocalCluster) {
        let start = Instant::now();
        while !self.stderr().contains(needle) {
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!(
                    "rmqctl exited ({s}):\n{}\n{}",
                    self.stderr(),
                    c.diagnostics()
                );
            }
            assert!(
                start.elapsed() < limit,
                "no {needle:?} after {limit:?}:\n{}\n{}",
                self.stderr(),
                c.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..300 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
    }
}
