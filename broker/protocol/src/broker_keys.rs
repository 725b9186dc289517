//! broker.conf keys whose meaning the broker and its control planes share.

/// Retention and disk-safety keys: what an rmq broker changes at runtime (UPDATE_BROKER_CONFIG)
/// without a restart, and what the control planes push instead of restarting it.
pub const RUNTIME_RETENTION_KEYS: &[&str] = &[
    "fileReservedTime",
    "deleteWhen",
    "diskMaxUsedSpaceRatio",
    "diskSpaceCleanForciblyRatio",
    "diskSpaceWarningLevelRatio",
    "cleanResourceInterval",
    "deleteCommitLogFilesInterval",
    "deleteFileBatchMax",
    "cleanFileForciblyEnable",
];
