//! broker.conf keys of retention and disk safety (Java names and defaults): how long commit-log
//! segments are kept, when they are deleted, and the disk ratios at which cleaning is forced and
//! writes are refused.

use super::ConfigError;
use super::parse::{boolean, invalid, positive_ms};
use std::time::Duration;

/// Retention and disk-safety settings; the only settings UPDATE_BROKER_CONFIG changes at runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct RetentionConfig {
    /// Segments whose newest message is older than this are deleted at a `delete_when` hour
    /// (`fileReservedTime`, hours; fractions of an hour are accepted).
    pub file_reserved_time: Duration,
    /// Hours of the day (local time) at which expired segments are deleted (`deleteWhen`,
    /// `04` or `04;16`).
    pub delete_when: Vec<u8>,
    /// Above this disk usage (percent) the oldest segments are deleted whatever their age
    /// (`diskMaxUsedSpaceRatio`, clamped to 10..=95 like the Java broker).
    pub disk_max_used_percent: u8,
    /// Above this disk usage (percent) cleaning runs at once, pass after pass, without waiting
    /// for the cleaning interval (`diskSpaceCleanForciblyRatio`).
    pub clean_forcibly_percent: u8,
    /// Above this disk usage (percent) the broker refuses writes until space returns
    /// (`diskSpaceWarningLevelRatio`).
    pub warning_percent: u8,
    /// How often disk usage is checked and a cleaning pass may run (`cleanResourceInterval`).
    pub clean_interval: Duration,
    /// Pause between two segment deletions of one pass (`deleteCommitLogFilesInterval`).
    pub delete_files_interval: Duration,
    /// Most segments one pass deletes (`deleteFileBatchMax`).
    pub delete_batch_max: usize,
    /// Whether a disk above `disk_max_used_percent` deletes segments that are not yet expired
    /// (`cleanFileForciblyEnable`).
    pub clean_forcibly_enable: bool,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            file_reserved_time: Duration::from_secs(72 * 3600),
            delete_when: vec![4],
            disk_max_used_percent: 75,
            clean_forcibly_percent: 85,
            warning_percent: 90,
            clean_interval: Duration::from_secs(10),
            delete_files_interval: Duration::from_millis(100),
            delete_batch_max: 10,
            clean_forcibly_enable: true,
        }
    }
}

/// The keys [`RetentionConfig::apply`] handles.
pub const KEYS: &[&str] = rmq_protocol::broker_keys::RUNTIME_RETENTION_KEYS;

impl RetentionConfig {
    /// Applies one of [`KEYS`]; `origin` names the file, flag or request for errors.
    pub fn apply(&mut self, key: &str, v: &str, origin: &str) -> Result<(), ConfigError> {
        match key {
            "fileReservedTime" => self.file_reserved_time = hours(origin, key, v)?,
            "deleteWhen" => self.delete_when = delete_when(origin, key, v)?,
            "diskMaxUsedSpaceRatio" => {
                self.disk_max_used_percent = percent(origin, key, v)?.clamp(10, 95);
            }
            "diskSpaceCleanForciblyRatio" => self.clean_forcibly_percent = percent(origin, key, v)?,
            "diskSpaceWarningLevelRatio" => self.warning_percent = percent(origin, key, v)?,
            "cleanResourceInterval" => self.clean_interval = positive_ms(origin, key, v)?,
            "deleteCommitLogFilesInterval" => {
                self.delete_files_interval = super::parse::millis(origin, key, v)?;
            }
            "deleteFileBatchMax" => {
                self.delete_batch_max = super::parse::positive(origin, key, v, "a positive count")?
                    .try_into()
                    .unwrap_or(usize::MAX);
            }
            "cleanFileForciblyEnable" => self.clean_forcibly_enable = boolean(origin, key, v)?,
            _ => {}
        }
        Ok(())
    }

    /// The settings as properties lines (GET_BROKER_CONFIG).
    pub fn to_properties(&self) -> Vec<String> {
        let when: Vec<String> = self.delete_when.iter().map(|h| format!("{h:02}")).collect();
        vec![
            format!("fileReservedTime={}", format_hours(self.file_reserved_time)),
            format!("deleteWhen={}", when.join(";")),
            format!("diskMaxUsedSpaceRatio={}", self.disk_max_used_percent),
            format!(
                "diskSpaceCleanForciblyRatio={}",
                self.clean_forcibly_percent
            ),
            format!("diskSpaceWarningLevelRatio={}", self.warning_percent),
            format!("cleanResourceInterval={}", self.clean_interval.as_millis()),
            format!(
                "deleteCommitLogFilesInterval={}",
                self.delete_files_interval.as_millis()
            ),
            format!("deleteFileBatchMax={}", self.delete_batch_max),
            format!("cleanFileForciblyEnable={}", self.clean_forcibly_enable),
        ]
    }
}

/// Hours as written: a whole number when it is one, else up to six decimals.
fn format_hours(d: Duration) -> String {
    let h = format!("{:.6}", d.as_secs_f64() / 3600.0);
    h.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A positive number of hours (`72`, or `0.01` for tests).
fn hours(origin: &str, key: &str, v: &str) -> Result<Duration, ConfigError> {
    v.parse::<f64>()
        .ok()
        .filter(|h| h.is_finite() && *h > 0.0 && *h <= 87_600.0)
        .map(|h| Duration::from_secs_f64(h * 3600.0))
        .ok_or_else(|| invalid(origin, key, v, "hours between 0 and 87600 (default 72)"))
}

/// `04` or `04;16`: hours of the day, 00 to 23.
fn delete_when(origin: &str, key: &str, v: &str) -> Result<Vec<u8>, ConfigError> {
    let expected = "hours of the day 00-23 separated by ';', like 04 or 04;16";
    let mut out = Vec::new();
    for part in v.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let h: u8 = part
            .parse()
            .ok()
            .filter(|h| *h < 24)
            .ok_or_else(|| invalid(origin, key, v, expected))?;
        out.push(h);
    }
    if out.is_empty() {
        return Err(invalid(origin, key, v, expected));
    }
    Ok(out)
}

/// A percentage: `75`, or the fraction Java's system properties use (`0.75`).
fn percent(origin: &str, key: &str, v: &str) -> Result<u8, ConfigError> {
    let n: f64 = v.parse().map_err(|_| {
        invalid(
            origin,
            key,
            v,
            "a percentage 1-99 (or a fraction like 0.90)",
        )
    })?;
    let pct = if n > 0.0 && n < 1.0 { n * 100.0 } else { n };
    if !(1.0..100.0).contains(&pct) {
        return Err(invalid(
            origin,
            key,
            v,
            "a percentage 1-99 (or a fraction like 0.90)",
        ));
    }
    Ok(pct.round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_defaults_and_values() {
        let mut r = RetentionConfig::default();
        assert_eq!(r.file_reserved_time, Duration::from_secs(72 * 3600));
        r.apply("fileReservedTime", "48", "t").unwrap();
        assert_eq!(r.file_reserved_time, Duration::from_secs(48 * 3600));
        r.apply("fileReservedTime", "0.001", "t").unwrap();
        assert_eq!(r.file_reserved_time, Duration::from_millis(3600));
        assert!(
            r.to_properties()
                .contains(&"fileReservedTime=0.001".to_owned())
        );
        r.apply("deleteWhen", "04;16", "t").unwrap();
        assert_eq!(r.delete_when, vec![4, 16]);
        r.apply("diskMaxUsedSpaceRatio", "99", "t").unwrap();
        assert_eq!(r.disk_max_used_percent, 95, "clamped like Java");
        r.apply("diskSpaceWarningLevelRatio", "0.90", "t").unwrap();
        assert_eq!(r.warning_percent, 90);
        let props = r.to_properties();
        assert!(props.contains(&"deleteWhen=04;16".to_owned()), "{props:?}");
        assert!(props.contains(&"diskMaxUsedSpaceRatio=95".to_owned()));
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        let mut r = RetentionConfig::default();
        for (k, v) in [
            ("fileReservedTime", "-1"),
            ("fileReservedTime", "soon"),
            ("deleteWhen", "24"),
            ("deleteWhen", "4am"),
            ("deleteWhen", ";"),
            ("diskSpaceWarningLevelRatio", "150"),
            ("cleanResourceInterval", "0"),
        ] {
            let e = r.apply(k, v, "broker.conf").unwrap_err().to_string();
            assert!(e.contains(k) && e.contains(v), "{e}");
        }
        assert_eq!(
            r,
            RetentionConfig::default(),
            "a refused value changes nothing"
        );
    }
}
