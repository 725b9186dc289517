//! `rmq-powerfs MOUNTPOINT`: mounts an empty power-loss volume and takes commands on stdin, one
//! per line, answering one line each on stdout:
//!
//! - `cut`: power loss. The current mount is detached, and the volume is mounted again as the
//!   disk holds it (only what fsync made durable). Stop every process using the mount first: a
//!   process that survives the cut sees `EIO` on its open files. Answers `cut {stats}`.
//! - `fail-fsync N [DIR]`: the next N file fsyncs (of files in a directory named DIR, if
//!   given) fail with `EIO` and lose their pages. `armed N`.
//! - `stats`: `stats {"fileSyncs":..,"dirSyncs":..,"failedSyncs":..,"pagesLost":..,..}`.
//! - `quit` (or end of input): unmount and exit.
//!
//! Prints `ready MOUNTPOINT` once mounted. Needs root (or `fusermount3`) and `/dev/fuse`.

use fuser::{BackgroundSession, Config, MountOption};
use rmq_powerfs::fs::PowerFs;
use rmq_powerfs::volume::{Stats, Volume};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

fn mount(volume: &Arc<Mutex<Volume>>, at: &Path) -> std::io::Result<BackgroundSession> {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("rmq-powerfs".into()),
        MountOption::Subtype("rmq-powerfs".into()),
    ];
    config.n_threads = Some(2);
    fuser::spawn_mount(PowerFs::new(volume.clone()), at, &config)
}

/// How many mounts sit on `at` (from `/proc/self/mountinfo`; field 5 is the mount point).
fn mounts_at(at: &Path) -> usize {
    let want = at.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(want.as_ref()))
        .count()
}

fn stats_json(s: &Stats) -> String {
    serde_json::json!({
        "fileSyncs": s.file_syncs,
        "dirSyncs": s.dir_syncs,
        "failedSyncs": s.failed_syncs,
        "pagesLost": s.pages_lost,
        "bytesSynced": s.bytes_synced,
        "cuts": s.cuts,
    })
    .to_string()
}

/// The mounted volume and its session; replaced as a whole by a cut.
struct Mounted {
    volume: Arc<Mutex<Volume>>,
    session: BackgroundSession,
}

impl Mounted {
    fn locked(&self) -> std::sync::MutexGuard<'_, Volume> {
        self.volume.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cut(self, at: &Path) -> std::io::Result<Mounted> {
        let next = self.locked().after_power_cut();
        // Unmount (lazily) before the new mount: the kernel drops the old mount's page cache
        // with it. The old session's thread ends once the kernel lets go of the connection,
        // which a straggling reference can delay: it is joined in the background (it serves
        // only `EIO` from the dead volume meanwhile), and the new mount waits only for the
        // unmount itself.
        let before = mounts_at(at);
        let session = self.session;
        std::thread::spawn(move || {
            if let Err(e) = session.umount_and_join() {
                eprintln!("rmq-powerfs: old session: {e}");
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while mounts_at(at) >= before {
            if std::time::Instant::now() > deadline {
                return Err(std::io::Error::other(
                    "the old mount did not go away within 30 s",
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let volume = Arc::new(Mutex::new(next));
        let session = mount(&volume, at)?;
        Ok(Mounted { volume, session })
    }
}

fn serve(at: &Path) -> Result<(), String> {
    let volume = Arc::new(Mutex::new(Volume::new()));
    let session = mount(&volume, at).map_err(|e| format!("mounting {}: {e}", at.display()))?;
    let mut mounted = Mounted { volume, session };
    let mut out = std::io::stdout().lock();
    let say = |out: &mut std::io::StdoutLock<'_>, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    say(&mut out, format!("ready {}", at.display()));
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading commands: {e}"))?;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["cut"] => {
                mounted = mounted.cut(at).map_err(|e| format!("power cut: {e}"))?;
                let stats = stats_json(&mounted.locked().stats);
                say(&mut out, format!("cut {stats}"));
            }
            ["fail-fsync", n, dir @ ..] if dir.len() <= 1 => match n.parse::<u32>() {
                Ok(n) => {
                    let dir = dir.first().map(std::ffi::OsStr::new);
                    mounted.locked().fail_next_fsyncs(n, dir);
                    say(&mut out, format!("armed {n}"));
                }
                Err(_) => say(
                    &mut out,
                    format!("error: fail-fsync takes a count, not {n:?}"),
                ),
            },
            ["stats"] => say(
                &mut out,
                format!("stats {}", stats_json(&mounted.locked().stats)),
            ),
            ["quit"] => break,
            [] => {}
            _ => say(
                &mut out,
                format!("error: unknown command {line:?} (cut, fail-fsync N [DIR], stats, quit)"),
            ),
        }
    }
    mounted
        .session
        .umount_and_join()
        .map_err(|e| format!("unmounting {}: {e}", at.display()))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mountpoint] = args.as_slice() else {
        eprintln!(
            "usage: rmq-powerfs MOUNTPOINT   (then commands on stdin: cut, fail-fsync N [DIR], stats, quit)"
        );
        return ExitCode::from(2);
    };
    match serve(&PathBuf::from(mountpoint)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rmq-powerfs: {e}");
            ExitCode::FAILURE
        }
    }
}
