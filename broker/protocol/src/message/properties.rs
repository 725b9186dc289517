//! Message properties: `name \x01 value \x02 ...`.

/// Well-known property names (`MessageConst`).
pub mod keys {
    #![allow(missing_docs)]
    pub const KEYS: &str = "KEYS";
    pub const TAGS: &str = "TAGS";
    pub const WAIT_STORE_MSG_OK: &str = "WAIT";
    pub const DELAY_TIME_LEVEL: &str = "DELAY";
    pub const UNIQ_KEY: &str = "UNIQ_KEY";
    pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
    pub const REAL_TOPIC: &str = "REAL_TOPIC";
    pub const REAL_QUEUE_ID: &str = "REAL_QID";
    pub const TRANSACTION_PREPARED: &str = "TRAN_MSG";
    pub const PRODUCER_GROUP: &str = "PGROUP";
    pub const MIN_OFFSET: &str = "MIN_OFFSET";
    pub const MAX_OFFSET: &str = "MAX_OFFSET";
    pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
    pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
    pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
    pub const CLUSTER: &str = "CLUSTER";
    pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
    pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
    pub const TRANSACTION_ID: &str = "__transactionId__";
    pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
    pub const POP_CK: &str = "POP_CK";
    pub const MSG_REGION: &str = "MSG_REGION";
    pub const TRACE_SWITCH: &str = "TRACE_ON";
    pub const SHARDING_KEY: &str = "__SHARDINGKEY";
    pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
    pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";
}

/// Separator between a name and its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Separator after each property.
pub const PROPERTY_SEPARATOR: char = '\u{2}';

/// Looks a property up in raw properties text without allocating: the value of the first
/// `name\u{1}value` item of the `\u{2}`-separated list.
///
/// One pass over the bytes comparing only at item starts (it runs several times per stored
/// message; the `split`/`split_once` form was a visible cost in profiles).
pub fn raw_property<'a>(props: &'a str, name: &str) -> Option<&'a str> {
    let bytes = props.as_bytes();
    let key = name.as_bytes();
    if key.contains(&1) {
        // the fast test below assumes the key has no separator of its own
        return props
            .split(PROPERTY_SEPARATOR)
            .filter_map(|item| item.split_once(NAME_VALUE_SEPARATOR))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v);
    }
    let mut start = 0;
    loop {
        let rest = bytes.get(start..)?;
        // memchr: most lookups miss (DELAY, TRAN_MSG, ...) and walk every item
        let len = memchr::memchr(2, rest).unwrap_or(rest.len());
        let item = &rest[..len];
        if item.len() > key.len() && item[key.len()] == 1 && item.starts_with(key) {
            // separators are ASCII, so these are char boundaries
            return props.get(start + key.len() + 1..start + len);
        }
        if len == rest.len() {
            return None;
        }
        start += len + 1;
    }
}

/// Message properties in their wire order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(Vec<(String, String)>);

impl Properties {
    /// No properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the wire text. Entries without a name/value separator or shorter than 3 characters
    /// are skipped; a missing trailing separator is tolerated (as in Java).
    pub fn parse(text: &str) -> Self {
        let mut out = Vec::new();
        for item in text.split(PROPERTY_SEPARATOR) {
            if item.len() < 3 {
                continue;
            }
            if let Some((k, v)) = item.split_once(NAME_VALUE_SEPARATOR) {
                out.push((k.to_owned(), v.to_owned()));
            }
        }
        Self(out)
    }

    /// The wire text.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(self.0.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
        for (k, v) in &self.0 {
            s.push_str(k);
            s.push(NAME_VALUE_SEPARATOR);
            s.push_str(v);
            s.push(PROPERTY_SEPARATOR);
        }
        s
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key`, replacing an existing value.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(e) => e.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(pos).1)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The space-separated `KEYS`, each non-empty.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.get(keys::KEYS)
            .unwrap_or("")
            .split(' ')
            .filter(|k| !k.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_java_quirks() {
        let p = Properties::parse("TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}WAIT\u{1}true");
        assert_eq!(p.get("TAGS"), Some("TagA"));
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["k1", "k2"]);
        assert_eq!(p.get("WAIT"), Some("true"));
        assert_eq!(
            p.encode(),
            "TAGS\u{1}TagA\u{2}KEYS\u{1}k1 k2\u{2}WAIT\u{1}true\u{2}"
        );
        let skipped = Properties::parse("ab\u{2}noSeparator\u{2}\u{2}A\u{1}B\u{2}");
        assert_eq!(skipped.iter().collect::<Vec<_>>(), vec![("A", "B")]);
    }

    #[test]
    fn raw_property_matches_the_split_definition() {
        fn reference<'a>(props: &'a str, name: &str) -> Option<&'a str> {
            props
                .split('\u{2}')
                .filter_map(|item| item.split_once('\u{1}'))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
        }
        let cases = [
            "",
            "TAGS\u{1}A",
            "TAGS\u{1}A\u{2}",
            "KEYS\u{1}k1 k2\u{2}TAGS\u{1}\u{2}UNIQ_KEY\u{1}AC\u{2}",
            "TAG\u{1}x\u{2}TAGS\u{1}y\u{2}TAGSS\u{1}z",
            "TAGS\u{2}TAGS\u{1}second\u{1}with\u{1}ones\u{2}TAGS\u{1}third",
            "\u{2}\u{2}TAGS\u{1}\u{e9}\u{4e2d}\u{2}",
            "xTAGS\u{1}no\u{2}TAGS",
            "TAGS\u{1}",
            "\u{1}empty-key\u{2}TAGS\u{1}v",
            "A\u{1}1\u{2}B\u{1}2",
        ];
        for props in cases {
            for name in [
                "TAGS", "TAG", "KEYS", "UNIQ_KEY", "", "TAGSS", "x\u{1}y", "\u{e9}", "B",
            ] {
                assert_eq!(
                    raw_property(props, name),
                    reference(props, name),
                    "{props:?} {name:?}"
                );
            }
        }
    }
}
