//! Disk usage of the file system holding a path, computed exactly as `df` computes it.
//!
//! `statvfs(2)` reports `f_blocks` (size), `f_bfree` (free, including the blocks reserved for
//! root) and `f_bavail` (free for unprivileged users), all in `f_frsize` units. `df` shows
//! `used = f_blocks - f_bfree` and `avail = f_bavail` and its `Use%` is
//! `used / (used + avail)`: the reserved blocks count neither as used nor as available, so a
//! file system is "100 % full" when an ordinary process can no longer write. `1 - avail/total`
//! would instead report ext4's default 5 % reserve as used space and never reach 100 %.

use std::io;
use std::path::Path;

/// Space on the file system holding a path, in bytes (see the module docs for the meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskUsage {
    /// Bytes in use: `(f_blocks - f_bfree) * f_frsize` (`df`'s "Used").
    pub used_bytes: u64,
    /// Bytes an unprivileged process can still write: `f_bavail * f_frsize` (`df`'s "Avail").
    pub available_bytes: u64,
    /// Size of the file system: `f_blocks * f_frsize` (`df`'s "1B-blocks"; includes the blocks
    /// reserved for root, so it can exceed `used_bytes + available_bytes`).
    pub total_bytes: u64,
}

impl DiskUsage {
    /// Used fraction as `df` shows it: `used / (used + available)`, in `0.0..=1.0` (0 for a
    /// file system without blocks, such as some pseudo file systems).
    pub fn ratio(&self) -> f64 {
        let denominator = self.used_bytes as f64 + self.available_bytes as f64;
        if denominator <= 0.0 {
            return 0.0;
        }
        (self.used_bytes as f64 / denominator).clamp(0.0, 1.0)
    }
}

/// The usage of the file system holding `path` (which must exist).
pub fn disk_usage(path: &Path) -> io::Result<DiskUsage> {
    let s = rustix::fs::statvfs(path)?;
    let unit = if s.f_frsize > 0 {
        s.f_frsize
    } else {
        s.f_bsize
    };
    Ok(DiskUsage {
        used_bytes: s.f_blocks.saturating_sub(s.f_bfree).saturating_mul(unit),
        available_bytes: s.f_bavail.saturating_mul(unit),
        total_bytes: s.f_blocks.saturating_mul(unit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `df --output=used,avail -B1 <dir>`: (used, avail) in bytes.
    fn df(dir: &Path) -> Option<(u64, u64)> {
        let out = std::process::Command::new("df")
            .args(["--output=used,avail", "-B1"])
            .arg(dir)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let mut fields = text.lines().nth(1)?.split_whitespace();
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    }

    #[test]
    fn ratio_matches_df() {
        let dir = tempfile::tempdir().unwrap();
        let Some((used, avail)) = df(dir.path()) else {
            eprintln!("skipping: `df --output=used,avail -B1` is not available here");
            return;
        };
        let u = disk_usage(dir.path()).unwrap();
        let expected = used as f64 / (used + avail) as f64;
        // other processes write to the same file system between the two measurements
        assert!(
            (u.ratio() - expected).abs() < 0.005,
            "ours {u:?} ratio {} vs df used {used} avail {avail} ratio {expected}",
            u.ratio()
        );
        let slack = 256 << 20;
        assert!(u.used_bytes.abs_diff(used) < slack, "{u:?} vs {used}");
        assert!(
            u.available_bytes.abs_diff(avail) < slack,
            "{u:?} vs {avail}"
        );
        assert!(u.total_bytes >= u.used_bytes + u.available_bytes);
    }

    #[test]
    fn ratio_ignores_reserved_blocks() {
        // 100 blocks, 5 reserved for root, none available to users: df says 100 % full
        let full = DiskUsage {
            used_bytes: 95,
            available_bytes: 0,
            total_bytes: 100,
        };
        assert_eq!(full.ratio(), 1.0);
        let half = DiskUsage {
            used_bytes: 45,
            available_bytes: 45,
            total_bytes: 100,
        };
        assert_eq!(half.ratio(), 0.5);
        assert_eq!(DiskUsage::default().ratio(), 0.0);
        assert!(disk_usage(Path::new("/nonexistent/rmq")).is_err());
    }
}
