//! Reading broker.conf values; every error names the origin, the key, the value and what was
//! expected.

use super::ConfigError;
use std::time::Duration;

/// The error for `key=value` from `origin`.
pub(super) fn invalid(origin: &str, key: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError::Value {
        origin: origin.to_owned(),
        key: key.to_owned(),
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// `v` as a `T`, else an error saying `what` was expected.
pub(super) fn parse<T: std::str::FromStr>(
    origin: &str,
    key: &str,
    v: &str,
    what: &str,
) -> Result<T, ConfigError> {
    v.parse().map_err(|_| invalid(origin, key, v, what))
}

/// `true` or `false`, in any case.
pub(super) fn boolean(origin: &str, key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(origin, key, v, "true or false")),
    }
}

/// A number of milliseconds.
pub(super) fn millis(origin: &str, key: &str, v: &str) -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(parse(
        origin,
        key,
        v,
        "milliseconds",
    )?))
}

/// A positive number of milliseconds.
pub(super) fn positive_ms(origin: &str, key: &str, v: &str) -> Result<Duration, ConfigError> {
    let d = millis(origin, key, v)?;
    if d.is_zero() {
        return Err(invalid(origin, key, v, "a positive number of milliseconds"));
    }
    Ok(d)
}

/// A positive integer, else an error saying `what` was expected.
pub(super) fn positive(origin: &str, key: &str, v: &str, what: &str) -> Result<u64, ConfigError> {
    v.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| invalid(origin, key, v, what))
}
