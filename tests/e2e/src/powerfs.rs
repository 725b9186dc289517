//! A mounted `rmq-powerfs` (tests/powerfs): a directory whose contents lose power on command.
//! Whatever a process wrote there and did not make durable with fsync (file data) or a
//! directory fsync (entries) is gone after [`PowerFs::cut`].

use crate::process::bin_path;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `rmq-powerfs` process and its mountpoint; unmounted (and killed if need be) on drop.
pub struct PowerFs {
    child: Child,
    stdin: ChildStdin,
    replies: mpsc::Receiver<String>,
    root: PathBuf,
    _dir: tempfile::TempDir,
}

impl PowerFs {
    /// Mounts an empty volume on a fresh temporary directory. Needs `/dev/fuse` and root.
    pub fn mount() -> Self {
        assert!(
            Path::new("/dev/fuse").exists(),
            "/dev/fuse is missing: the power-loss suite needs FUSE (load the module with \
             `modprobe fuse`, or run in a VM/container that has /dev/fuse)"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("volume");
        std::fs::create_dir(&root).unwrap();
        let mut child = Command::new(bin_path("rmq-powerfs"))
            .arg(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn rmq-powerfs");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut fs = Self {
            child,
            stdin,
            replies,
            root,
            _dir: dir,
        };
        let ready = fs.reply();
        assert!(ready.starts_with("ready"), "rmq-powerfs: {ready}");
        fs
    }

    /// The mounted directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn reply(&mut self) -> String {
        self.replies
            .recv_timeout(Duration::from_secs(60))
            .expect("rmq-powerfs answered within 60 s")
    }

    fn command(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let reply = self.reply();
        assert!(!reply.starts_with("error"), "rmq-powerfs {line}: {reply}");
        reply
    }

    fn stats_of(reply: &str) -> serde_json::Value {
        let json = reply.split_once(' ').map_or("", |(_, j)| j);
        serde_json::from_str(json).unwrap()
    }

    /// Power loss: remounts the volume as the disk holds it. Stop every process using it
    /// first. Returns the volume's counters (`fileSyncs`, `dirSyncs`, `cuts`, ...).
    pub fn cut(&mut self) -> serde_json::Value {
        Self::stats_of(&self.command("cut"))
    }

    /// The next `n` fsyncs of files in a directory named `dir` (e.g. `commitlog`) fail with
    /// EIO and lose their pages.
    pub fn fail_fsyncs_in(&mut self, n: u32, dir: &str) {
        self.command(&format!("fail-fsync {n} {dir}"));
    }

    /// The volume's counters.
    pub fn stats(&mut self) -> serde_json::Value {
        Self::stats_of(&self.command("stats"))
    }
}

impl Drop for PowerFs {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A killed FUSE server leaves a dead mount behind.
        let _ = Command::new("umount").arg("-l").arg(&self.root).status();
    }
}
