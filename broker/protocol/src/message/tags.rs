//! The consume queue's `tagsCode`: the hash of the `TAGS` property, except in the delay topic,
//! where it is the delivery time (store timestamp + the level's delay).

use super::delay::{DelayLevels, SCHEDULE_TOPIC};
use super::properties::{keys, raw_property};

/// Java's `String.hashCode()` of a tag (over UTF-16 code units), widened to i64 as the consume
/// queue's `tagsCode`.
pub fn tags_hash_code(tag: &str) -> i64 {
    let mut h: i32 = 0;
    for unit in tag.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    i64::from(h)
}

/// The `tagsCode` of a record as far as it is known before the store gives it a timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagsCode {
    /// The code itself: [`tags_hash_code`] of `TAGS`, 0 without tags.
    Hash(i64),
    /// A record of [`SCHEDULE_TOPIC`]: the code is its delivery time, this many ms after its
    /// store timestamp.
    DeliverAfter(i64),
}

impl TagsCode {
    /// The rule for a record of `topic` with raw `properties`.
    pub fn of(topic: &str, properties: &str, levels: &DelayLevels) -> Self {
        if topic == SCHEDULE_TOPIC {
            Self::DeliverAfter(levels.delay_of(properties))
        } else {
            Self::of_properties(properties)
        }
    }

    /// The hash of the `TAGS` in raw `properties` (0 without tags).
    pub fn of_properties(properties: &str) -> Self {
        Self::Hash(raw_property(properties, keys::TAGS).map_or(0, tags_hash_code))
    }

    /// The code of the record once stored at `store_timestamp` (ms).
    #[inline]
    pub fn at(self, store_timestamp: i64) -> i64 {
        match self {
            Self::Hash(code) => code,
            Self::DeliverAfter(delay) => store_timestamp + delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_hash_matches_java() {
        // values computed with Java's "TagA".hashCode() etc.
        assert_eq!(tags_hash_code("TagA"), 2_598_919);
        assert_eq!(tags_hash_code(""), 0);
        assert_eq!(tags_hash_code("a"), 97);
        // overflow wraps like Java ints: "polygenelubricants".hashCode() == Integer.MIN_VALUE
        assert_eq!(tags_hash_code("polygenelubricants"), i64::from(i32::MIN));
        // non-BMP characters hash as two UTF-16 units
        assert_eq!(tags_hash_code("\u{1F600}"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn schedule_records_code_their_delivery_time() {
        let l = DelayLevels::parse("1s 2s 3s").unwrap();
        let code = |topic, props| TagsCode::of(topic, props, &l).at(10_000);
        assert_eq!(code(SCHEDULE_TOPIC, "DELAY\u{1}2\u{2}"), 12_000);
        assert_eq!(code(SCHEDULE_TOPIC, "DELAY\u{1}7\u{2}"), 13_000);
        assert_eq!(code("T", "TAGS\u{1}a\u{2}DELAY\u{1}2\u{2}"), 97);
        assert_eq!(code("T", "KEYS\u{1}k\u{2}"), 0);
        assert_eq!(
            TagsCode::of_properties("TAGS\u{1}TagA\u{2}"),
            TagsCode::Hash(2_598_919)
        );
    }
}
