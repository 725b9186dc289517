//! `extFields`: the string map that carries every typed header field.
//!
//! Kept as an ordered list: headers hold a handful of entries, so a linear scan beats hashing, and
//! encoding stays deterministic (golden-byte tests, reproducible captures). Keys and values live
//! back to back in one `String` with a small index of spans, so decoding a header costs two
//! allocations instead of two per field (profiled: per-field `String`s were the top allocation
//! site of the send path).

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

/// Spans of one entry in [`ExtFields::text`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: (usize, usize),
    value: (usize, usize),
}

/// The `extFields` map of a command, in insertion order.
#[derive(Clone, Default)]
pub struct ExtFields {
    /// Keys and values back to back (replaced or removed entries leave dead bytes until
    /// [`ExtFields::compact`]).
    text: String,
    entries: Vec<Entry>,
    /// Bit `b % 64` is set for every first byte `b` a key has had (empty keys: bit 0; stale
    /// bits after a removal are harmless): a key whose bit is clear is absent without a scan,
    /// which is every insert while a Java header decodes (its keys are `a`..`n`).
    first_bytes: u64,
}

/// The [`ExtFields::first_bytes`] bit of `key`.
fn first_byte_bit(key: &[u8]) -> u64 {
    1 << (key.first().copied().unwrap_or(0) % 64)
}

impl ExtFields {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Self::with_room(n, n * 24)
    }

    fn slice(&self, (start, end): (usize, usize)) -> &str {
        &self.text[start..end]
    }

    /// Byte comparison with the length first: no char-boundary checks, no `memcmp` call for
    /// the (most) keys of another length.
    fn key_is(&self, e: &Entry, key: &[u8]) -> bool {
        let text = self.text.as_bytes();
        // keys are short (Java's SEND_MESSAGE_V2 uses one-letter names): the length and first
        // byte settle almost every comparison without a `memcmp` call
        e.key.1 - e.key.0 == key.len()
            && key.first().is_none_or(|b| text.get(e.key.0) == Some(b))
            && text.get(e.key.0..e.key.1) == Some(key)
    }

    /// The entry of `key`: no scan when no key had its first byte's bit.
    fn position(&self, key: &[u8]) -> Option<usize> {
        if self.first_bytes & first_byte_bit(key) == 0 {
            return None;
        }
        self.entries.iter().position(|e| self.key_is(e, key))
    }

    /// Appends an entry whose key is known to be absent.
    fn push_entry(&mut self, key: (usize, usize), value: (usize, usize)) {
        self.first_bytes |= first_byte_bit(&self.text.as_bytes()[key.0..key.1]);
        self.entries.push(Entry { key, value });
    }

    fn push_text(&mut self, s: &str) -> (usize, usize) {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        // no first-byte check: lookups mostly hit, and the scan settles a miss quickly too
        self.entries
            .iter()
            .find(|e| self.key_is(e, key.as_bytes()))
            .map(|e| self.slice(e.value))
    }

    /// A reader for the fields of one typed header, looked up in the order it declares them.
    pub fn reader(&self) -> FieldReader<'_> {
        FieldReader { ext: self, next: 0 }
    }

    /// Sets `key` to `value`, replacing an existing entry (last write wins, like Java's HashMap).
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) {
        let (key, value) = (key.as_ref(), value.as_ref());
        match self.position(key.as_bytes()) {
            Some(i) => {
                let span = self.push_text(value);
                self.entries[i].value = span;
                self.compact_if_sparse();
            }
            None => {
                if self.entries.capacity() == 0 {
                    // a response header gets a handful of fields: allocate once, not per
                    // field (a send response's six, with two 32-character ids, take ~150 bytes)
                    self.entries.reserve(8);
                    self.text.reserve(256);
                }
                let key = self.push_text(key);
                let value = self.push_text(value);
                self.push_entry(key, value);
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let pos = self.position(key.as_bytes())?;
        let e = self.entries.remove(pos);
        let value = self.slice(e.value).to_owned();
        self.compact_if_sparse();
        Some(value)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (self.slice(e.key), self.slice(e.value)))
    }

    /// Rewrites `text` without dead bytes once they outweigh the live ones.
    fn compact_if_sparse(&mut self) {
        let live: usize = self
            .entries
            .iter()
            .map(|e| e.key.1 - e.key.0 + e.value.1 - e.value.0)
            .sum();
        if self.text.len() > 256 && self.text.len() > 2 * live {
            let mut fresh = ExtFields::with_capacity(self.entries.len());
            for (k, v) in self.iter() {
                let key = fresh.push_text(k);
                let value = fresh.push_text(v);
                fresh.push_entry(key, value);
            }
            *self = fresh;
        }
    }

    /// For decoders: an empty map with room for `entries` entries and `text` bytes of keys and
    /// values, which they append to [`ExtFields::text_mut`] and record with
    /// [`ExtFields::push_appended`].
    pub(crate) fn with_room(entries: usize, text: usize) -> Self {
        Self {
            text: String::with_capacity(text),
            entries: Vec::with_capacity(entries),
            first_bytes: 0,
        }
    }

    /// For decoders: the text keys and values are appended to.
    pub(crate) fn text_mut(&mut self) -> &mut String {
        &mut self.text
    }

    /// For decoders (the fast JSON path and serde's): records the key just appended at `key`
    /// with the value appended after it at `value`. A repeated key keeps its place and takes
    /// the new value (last write wins); `None` (a JSON null) leaves the key absent, or its
    /// earlier value in place.
    pub(crate) fn push_appended(&mut self, key: Range<usize>, value: Option<Range<usize>>) {
        let existing = self.position(&self.text.as_bytes()[key.clone()]);
        match (value, existing) {
            (Some(v), Some(i)) => self.entries[i].value = (v.start, v.end),
            (Some(v), None) => self.push_entry((key.start, key.end), (v.start, v.end)),
            (None, _) => self.text.truncate(key.start),
        }
    }
}

/// Looks up the fields of a typed header in its declared order. Clients write them in that
/// order (Java's SEND_MESSAGE_V2 fields `a`..`n` come out of its hash map sorted, our own
/// client writes them as declared), so each lookup first tries the entry after the one found
/// last: one comparison instead of a scan. Any other order still finds every field.
pub struct FieldReader<'a> {
    ext: &'a ExtFields,
    next: usize,
}

impl<'a> FieldReader<'a> {
    /// The value of `key`, if present.
    pub fn get(&mut self, key: &str) -> Option<&'a str> {
        let ext = self.ext;
        let i = match ext.entries.get(self.next) {
            Some(e) if ext.key_is(e, key.as_bytes()) => self.next,
            // absent optional fields: mostly settled by the first-byte mask without a scan
            _ => ext.position(key.as_bytes())?,
        };
        self.next = i + 1;
        Some(ext.slice(ext.entries[i].value))
    }
}

impl fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ExtFields")
            .field(&self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl PartialEq for ExtFields {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for ExtFields {}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut fields = ExtFields::new();
        for (k, v) in iter {
            fields.insert(k, v);
        }
        fields
    }
}

impl Serialize for ExtFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Appends one key or value to the text buffer; `None` for a JSON null value. Values are what
/// some clients send: a string, but also a number, a boolean or null (C++ and JavaScript clients
/// send numbers). Everything becomes text, as Java would read it.
struct Append<'a> {
    text: &'a mut String,
    key: bool,
}

impl<'de> DeserializeSeed<'de> for Append<'_> {
    type Value = Option<Range<usize>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        if self.key {
            deserializer.deserialize_str(self)
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

impl Append<'_> {
    fn push(self, s: &str) -> Option<Range<usize>> {
        let start = self.text.len();
        self.text.push_str(s);
        Some(start..self.text.len())
    }

    fn push_display(self, v: impl fmt::Display) -> Option<Range<usize>> {
        let start = self.text.len();
        // writing into a String cannot fail
        let _ = write!(self.text, "{v}");
        Some(start..self.text.len())
    }
}

impl<'de> Visitor<'de> for Append<'_> {
    type Value = Option<Range<usize>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, boolean or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.push(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.push_display(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.push_display(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.push_display(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(self.push(if v { "true" } else { "false" }))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

impl<'de> Deserialize<'de> for ExtFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = ExtFields;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an extFields object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ExtFields::new())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut fields = ExtFields::with_capacity(access.size_hint().unwrap_or(16));
                loop {
                    let seed = Append {
                        text: &mut fields.text,
                        key: true,
                    };
                    let Some(key) = access.next_key_seed(seed)? else {
                        break;
                    };
                    let Some(key) = key else {
                        return Err(de::Error::custom("extFields key is null"));
                    };
                    let seed = Append {
                        text: &mut fields.text,
                        key: false,
                    };
                    let value = access.next_value_seed(seed)?;
                    fields.push_appended(key, value);
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_any(MapVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_numbers_booleans_and_nulls() {
        let f: ExtFields =
            serde_json::from_str(r#"{"queueId":0,"batch":"0","unitMode":false,"x":null,"s":"a"}"#)
                .unwrap();
        assert_eq!(f.get("queueId"), Some("0"));
        assert_eq!(f.get("batch"), Some("0"));
        assert_eq!(f.get("unitMode"), Some("false"));
        assert_eq!(f.get("x"), None);
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn a_reader_finds_fields_in_any_order_and_misses_absent_ones() {
        let f: ExtFields = [("a", "1"), ("b", "2"), ("c", "3"), ("ab", "4")]
            .into_iter()
            .collect();
        // declared order, then out of order, repeated, absent (bit set and clear), after the end
        let mut r = f.reader();
        let asked = ["a", "b", "c", "ab", "b", "a", "a", "x", "az", "ab", "c", ""];
        let got: Vec<_> = asked.iter().map(|k| r.get(k)).collect();
        let want = [
            Some("1"),
            Some("2"),
            Some("3"),
            Some("4"),
            Some("2"),
            Some("1"),
            Some("1"),
            None,
            None,
            Some("4"),
            Some("3"),
            None,
        ];
        assert_eq!(got, want);
        for k in asked {
            assert_eq!(f.reader().get(k), f.get(k), "{k:?} alone");
        }
    }

    #[test]
    fn decoding_keeps_the_first_place_and_the_last_value_of_a_repeated_key() {
        let f: ExtFields =
            serde_json::from_str(r#"{"a":"1","b":"2","a":"3","c":null,"b":null,"d":"4"}"#).unwrap();
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            vec![("a", "3"), ("b", "2"), ("d", "4")]
        );
    }

    #[test]
    fn insert_replaces_and_keeps_order() {
        let mut f = ExtFields::new();
        f.insert("b", "1");
        f.insert("a", "2");
        f.insert("b", "3");
        assert_eq!(f.iter().collect::<Vec<_>>(), vec![("b", "3"), ("a", "2")]);
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"b":"3","a":"2"}"#);
    }

    #[test]
    fn keys_sharing_a_first_byte_bit_still_replace_and_stay_apart() {
        // '!' (33) and 'a' (97) share bit 33; "ab" and "a" share a first byte; "" is bit 0
        // like '@' (64)
        let mut f = ExtFields::new();
        for (k, v) in [("a", "1"), ("!", "2"), ("ab", "3"), ("", "4"), ("@", "5")] {
            f.insert(k, v);
        }
        for (k, v) in [("a", "6"), ("!", "7"), ("ab", "8"), ("", "9"), ("@", "10")] {
            f.insert(k, v);
        }
        assert_eq!(f.len(), 5);
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            vec![("a", "6"), ("!", "7"), ("ab", "8"), ("", "9"), ("@", "10")]
        );
        assert_eq!(f.remove("a").as_deref(), Some("6"));
        assert_eq!(f.get("a"), None);
        f.insert("a", "11");
        assert_eq!(f.get("a"), Some("11"));
        assert_eq!(f.len(), 5);
        assert_eq!(f.get("b"), None);
    }

    #[test]
    fn duplicate_json_keys_keep_the_first_position_and_the_last_value() {
        let f: ExtFields =
            serde_json::from_str(r#"{"a":"1","b":"2","a":"3","c":null,"b":null,"d":"\u0001\"x"}"#)
                .unwrap();
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            vec![("a", "3"), ("b", "2"), ("d", "\u{1}\"x")]
        );
        let empty: ExtFields = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn remove_equality_and_compaction() {
        let mut f: ExtFields = [("k1", "v1"), ("k2", "v2")].into_iter().collect();
        assert_eq!(f.remove("k1").as_deref(), Some("v1"));
        assert_eq!(f.remove("k1"), None);
        let g: ExtFields = [("k2", "v2")].into_iter().collect();
        assert_eq!(f, g);
        for i in 0..1000 {
            f.insert("k2", format!("value-{i}"));
        }
        assert_eq!(f.get("k2"), Some("value-999"));
        assert!(
            f.text.len() < 1024,
            "dead bytes are compacted: {}",
            f.text.len()
        );
        assert_eq!(format!("{g:?}"), r#"ExtFields([("k2", "v2")])"#);
    }
}
