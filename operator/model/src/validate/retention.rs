//! `spec.brokers.retention`: the three broker.conf keys of time- and space-based retention,
//! checked against their limits and against `spec.brokers.config`, which may repeat a key only
//! with the same value.

use super::{ValidationError, range};
use crate::defaults;
use crate::types::RetentionSpec;
use serde::Serialize;
use std::collections::BTreeMap;

/// Retention that passed validation: what every broker.conf carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retention {
    /// Hours a commit-log segment is kept after its newest message (`fileReservedTime`).
    pub hours: u32,
    /// Hours of the day at which expired segments are deleted (`deleteWhen`, `04` or `04;16`).
    pub delete_when: String,
    /// Disk usage in percent above which the oldest segments go whatever their age
    /// (`diskMaxUsedSpaceRatio`).
    pub max_disk_used_percent: u32,
}

impl Default for Retention {
    /// The model's defaults (72 hours, `04`, 75%).
    fn default() -> Self {
        Self {
            hours: u32::try_from(defaults::retention_hours()).unwrap_or(72),
            delete_when: defaults::retention_delete_when(),
            max_disk_used_percent: u32::try_from(defaults::max_disk_used_percent()).unwrap_or(75),
        }
    }
}

/// broker.conf key of `hours`.
pub const FILE_RESERVED_TIME: &str = "fileReservedTime";
/// broker.conf key of `delete_when`.
pub const DELETE_WHEN: &str = "deleteWhen";
/// broker.conf key of `max_disk_used_percent`.
pub const DISK_MAX_USED_SPACE_RATIO: &str = "diskMaxUsedSpaceRatio";

/// The broker.conf keys `spec.brokers.retention` sets, with the field that sets each.
pub const RETENTION_KEYS: &[(&str, &str)] = &[
    (FILE_RESERVED_TIME, "spec.brokers.retention.hours"),
    (DELETE_WHEN, "spec.brokers.retention.deleteWhen"),
    (
        DISK_MAX_USED_SPACE_RATIO,
        "spec.brokers.retention.maxDiskUsedPercent",
    ),
];

impl Retention {
    /// The `(key, value)` lines of broker.conf, in [`RETENTION_KEYS`] order.
    pub fn broker_conf(&self) -> [(&'static str, String); 3] {
        [
            (FILE_RESERVED_TIME, self.hours.to_string()),
            (DELETE_WHEN, self.delete_when.clone()),
            (
                DISK_MAX_USED_SPACE_RATIO,
                self.max_disk_used_percent.to_string(),
            ),
        ]
    }
}

/// True if `v` is one or more two-digit hours 00-23 separated by `;` (`04`, `04;16`).
pub fn is_delete_when(v: &str) -> bool {
    v.split(';').all(|h| {
        h.len() == 2
            && h.bytes().all(|b| b.is_ascii_digit())
            && h.parse::<u8>().is_ok_and(|h| h < 24)
    })
}

/// Checks `spec` and that `config` repeats none of its keys with another value. Returns the
/// validated retention and `config` without the retention keys (they are rendered once, from
/// the typed fields).
pub(super) fn check_retention(
    spec: &RetentionSpec,
    config: &BTreeMap<String, String>,
    errs: &mut Vec<ValidationError>,
) -> (Retention, BTreeMap<String, String>) {
    let hours = range(
        spec.hours,
        defaults::MIN_RETENTION_HOURS,
        defaults::MAX_RETENTION_HOURS,
        "spec.brokers.retention.hours",
        "set how many hours messages are kept, e.g. 72 (3 days); at most 87600 (10 years)",
        errs,
    );
    if !is_delete_when(&spec.delete_when) {
        errs.push(ValidationError::new(
            "spec.brokers.retention.deleteWhen",
            format!(
                "{:?} is not a list of hours of the day",
                spec.delete_when
            ),
            "write two-digit hours 00-23 separated by ';', e.g. \"04\" or \"04;16\" (quote it in YAML)",
        ));
    }
    let percent = range(
        spec.max_disk_used_percent,
        defaults::MIN_DISK_USED_PERCENT,
        defaults::MAX_DISK_USED_PERCENT,
        "spec.brokers.retention.maxDiskUsedPercent",
        "set the disk usage (percent) above which the oldest messages are deleted, e.g. 75",
        errs,
    );
    let retention = Retention {
        hours,
        delete_when: spec.delete_when.clone(),
        max_disk_used_percent: percent,
    };
    let typed = [
        spec.hours.to_string(),
        spec.delete_when.clone(),
        spec.max_disk_used_percent.to_string(),
    ];
    let mut rest = config.clone();
    for ((key, field), want) in RETENTION_KEYS.iter().zip(typed) {
        let Some(have) = rest.remove(*key) else {
            continue;
        };
        if have != want {
            errs.push(ValidationError::new(
                format!("spec.brokers.config.{key}"),
                format!("{key}={have:?} conflicts with {field} ({want:?}), which sets the same broker.conf key"),
                format!("remove {key} from spec.brokers.config and set {field} to the value you want"),
            ));
        }
    }
    (retention, rest)
}
