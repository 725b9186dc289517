//! Delay levels: the delay topic, the `messageDelayLevel` table (1-based levels, parsed as
//! RocketMQ does: `"1s 5s 10s ..."`, units s/m/h/d) and the delay of a record stored in the
//! delay topic.

use super::properties::{keys, raw_property};

/// The delay topic: queue `n-1` holds the messages of level `n` until they are due.
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";

/// The broker default `messageDelayLevel`.
pub const DEFAULT_LEVELS: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

/// Delays in ms by level (index 0 = level 1). Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayLevels(Vec<i64>);

impl Default for DelayLevels {
    /// [`DEFAULT_LEVELS`].
    fn default() -> Self {
        Self(vec![
            1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 180_000, 240_000, 300_000, 360_000,
            420_000, 480_000, 540_000, 600_000, 1_200_000, 1_800_000, 3_600_000, 7_200_000,
        ])
    }
}

impl DelayLevels {
    /// Parses `"1s 5s 10s 30s 1m ..."`: space-separated numbers with a unit suffix `s`, `m`,
    /// `h` or `d`. The error says which entry is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for item in text.split_whitespace() {
            let last = item.char_indices().last().map_or(0, |(i, _)| i);
            let (num, unit) = item.split_at(last);
            let unit_ms: i64 = match unit {
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(format!("{item:?} has no unit (use s, m, h or d, e.g. 10s)")),
            };
            let n: i64 = num
                .parse()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("{item:?} is not a non-negative number plus a unit"))?;
            out.push(n.saturating_mul(unit_ms));
        }
        if out.is_empty() {
            return Err("no delay levels given".into());
        }
        Ok(Self(out))
    }

    /// Number of levels (the highest level).
    pub fn max_level(&self) -> i32 {
        self.0.len() as i32
    }

    /// A requested level clamped to `1..=max_level` (RocketMQ lowers levels above the maximum);
    /// `None` for levels <= 0 (no delay).
    pub fn clamp(&self, level: i32) -> Option<i32> {
        (level > 0).then(|| level.min(self.max_level()))
    }

    /// Delay of a level (clamped).
    pub fn delay_ms(&self, level: i32) -> i64 {
        let idx = (level.clamp(1, self.max_level()) - 1) as usize;
        self.0[idx]
    }

    /// The delay of a record stored in [`SCHEDULE_TOPIC`], from its raw properties: the delay
    /// of its `DELAY` level (level 1 when the property is missing or unreadable).
    pub fn delay_of(&self, properties: &str) -> i64 {
        let level = raw_property(properties, keys::DELAY_TIME_LEVEL)
            .and_then(|l| l.parse::<i32>().ok())
            .unwrap_or(1);
        self.delay_ms(level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_and_custom_lists() {
        assert_eq!(
            DelayLevels::parse(DEFAULT_LEVELS).unwrap(),
            DelayLevels::default()
        );
        let l = DelayLevels::parse(" 1s 2m\t3h 1d ").unwrap();
        assert_eq!(l.max_level(), 4);
        assert_eq!(l.delay_ms(1), 1_000);
        assert_eq!(l.delay_ms(3), 10_800_000);
        assert_eq!(l.delay_ms(9), 86_400_000, "above the max: the last level");
        assert_eq!(l.clamp(9), Some(4));
        assert_eq!(l.clamp(0), None);
        assert_eq!(l.clamp(-1), None);
        for bad in ["", "10", "10x", "s", "-1s", "1.5s", "1ms", "1é"] {
            assert!(DelayLevels::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn delay_of_a_schedule_record() {
        let l = DelayLevels::parse("1s 2s 3s").unwrap();
        assert_eq!(l.delay_of("DELAY\u{1}2\u{2}"), 2_000);
        assert_eq!(l.delay_of("DELAY\u{1}7\u{2}"), 3_000, "clamped");
        assert_eq!(l.delay_of("TAGS\u{1}a\u{2}"), 1_000, "no level: level 1");
    }
}
