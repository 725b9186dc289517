//! What one check of the cleaning loop does, from the disk reading, the hour and the settings.
//! Pure: no clock, no disk.

use crate::config::RetentionConfig;
use std::time::Duration;

/// Why a cleaning pass runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The hour is one of `deleteWhen`: expired segments go.
    Time,
    /// DELETE_EXPIRED_COMMITLOG asked for it: expired segments go whatever the hour.
    Manual,
    /// The disk is above `diskMaxUsedSpaceRatio`: the oldest segments go whatever their age.
    DiskAboveMax,
    /// The disk is above `diskSpaceCleanForciblyRatio`: as above, pass after pass.
    DiskCritical,
}

impl Trigger {
    /// How the log names it.
    pub fn describe(self) -> &'static str {
        match self {
            Trigger::Time => "deleteWhen hour",
            Trigger::Manual => "DELETE_EXPIRED_COMMITLOG request",
            Trigger::DiskAboveMax => "disk above diskMaxUsedSpaceRatio",
            Trigger::DiskCritical => "disk above diskSpaceCleanForciblyRatio",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Refuse writes until the next check (disk at or above `diskSpaceWarningLevelRatio`).
    pub refuse_writes: bool,
    /// A pass to run now: why, and whether segments that are not yet expired may go.
    pub pass: Option<(Trigger, bool)>,
    /// When to check again.
    pub next_check: Duration,
}

/// Decides one check: `ratio` is the disk usage (0..1), `hour` the local hour of day,
/// `manual` whether a DELETE_EXPIRED_COMMITLOG pass is pending.
pub fn decide(cfg: &RetentionConfig, ratio: f64, hour: u8, manual: bool) -> Decision {
    let pct = ratio * 100.0;
    let critical = pct >= f64::from(cfg.clean_forcibly_percent);
    let above_max = pct > f64::from(cfg.disk_max_used_percent);
    let force = cfg.clean_forcibly_enable;
    let pass = if critical {
        Some((Trigger::DiskCritical, force))
    } else if above_max {
        Some((Trigger::DiskAboveMax, force))
    } else if manual {
        Some((Trigger::Manual, false))
    } else if cfg.delete_when.contains(&hour) {
        Some((Trigger::Time, false))
    } else {
        None
    };
    let next_check = if critical {
        cfg.clean_interval.min(Duration::from_secs(1))
    } else {
        cfg.clean_interval
    };
    Decision {
        refuse_writes: pct >= f64::from(cfg.warning_percent),
        pass,
        next_check,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RetentionConfig {
        RetentionConfig::default()
    }

    #[test]
    fn a_quiet_disk_deletes_only_at_the_hour() {
        let d = decide(&cfg(), 0.30, 3, false);
        assert_eq!(d.pass, None);
        assert!(!d.refuse_writes);
        assert_eq!(d.next_check, Duration::from_secs(10));
        assert_eq!(
            decide(&cfg(), 0.30, 4, false).pass,
            Some((Trigger::Time, false))
        );
        assert_eq!(
            decide(&cfg(), 0.30, 3, true).pass,
            Some((Trigger::Manual, false))
        );
    }

    #[test]
    fn the_ratios_escalate() {
        assert_eq!(
            decide(&cfg(), 0.76, 3, false).pass,
            Some((Trigger::DiskAboveMax, true))
        );
        let critical = decide(&cfg(), 0.86, 3, false);
        assert_eq!(critical.pass, Some((Trigger::DiskCritical, true)));
        assert!(!critical.refuse_writes);
        assert_eq!(critical.next_check, Duration::from_secs(1));
        let full = decide(&cfg(), 0.90, 3, false);
        assert!(full.refuse_writes);
        assert_eq!(full.pass, Some((Trigger::DiskCritical, true)));
    }

    #[test]
    fn forcible_cleaning_can_be_turned_off() {
        let mut c = cfg();
        c.clean_forcibly_enable = false;
        assert_eq!(
            decide(&c, 0.80, 3, false).pass,
            Some((Trigger::DiskAboveMax, false))
        );
    }
}
