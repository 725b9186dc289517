//! JSON header encoding (serialize type 0), as fastjson writes it and as every client reads it.

use crate::codes::LanguageCode;
use crate::command::{RemotingCommand, SerializeType};
use crate::error::ProtocolError;
use crate::ext_fields::ExtFields;
use bytes::{BufMut, BytesMut};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonHeader {
    code: i32,
    #[serde(default)]
    language: JsonLanguage,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default)]
    ext_fields: Option<ExtFields>,
}

/// Language as a name ("JAVA") or, leniently, as its ordinal.
#[derive(Default)]
struct JsonLanguage(LanguageCode);

impl<'de> Deserialize<'de> for JsonLanguage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JsonLanguage;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a language name or ordinal")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonLanguage(LanguageCode::from_name(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(JsonLanguage(LanguageCode::from_code(
                    u8::try_from(v).unwrap_or(u8::MAX),
                )))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(JsonLanguage(LanguageCode::Other))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JsonLanguage(LanguageCode::Other))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Decodes a JSON header into a command (body left empty).
///
/// Headers of the usual shape go through [`fast::decode`], a direct parser that builds the
/// command without serde's per-field machinery (the JSON header was the largest single cost of
/// a send on the broker); anything it does not handle exactly like serde (floats, nested
/// values, odd escapes, errors) falls back to serde, so results and errors are unchanged.
pub fn decode(header: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    if let Some(cmd) = fast::decode(header) {
        return Ok(cmd);
    }
    decode_serde(header)
}

fn decode_serde(header: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    let h: JsonHeader = serde_json::from_slice(header).map_err(ProtocolError::JsonHeader)?;
    Ok(RemotingCommand {
        code: h.code,
        language: h.language.0,
        version: h.version,
        opaque: h.opaque,
        flag: h.flag,
        remark: h.remark,
        ext_fields: h.ext_fields.unwrap_or_default(),
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

/// Skips bytes of `s` from `i` on that need no escaping in a JSON string, 8 at a time: returns
/// the index of the first quote, backslash or control byte, or the start of the last chunk
/// (shorter than 8 bytes), whose bytes still need a look.
fn skip_plain_chunks(s: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    while let Some(chunk) = s.get(i..i + 8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        let v = u64::from_le_bytes(b);
        let special = has_zero(v ^ (ONES * u64::from(b'"')))
            | has_zero(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v & HIGH);
        if special != 0 {
            // the lowest flagged byte is exact (a borrow can only flag bytes above a match)
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// Whether JSON needs `b` escaped inside a string (what serde_json escapes too).
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

fn put_json_str(dst: &mut BytesMut, s: &str) {
    let bytes = s.as_bytes();
    let plain = skip_plain_chunks(bytes, 0);
    if !bytes[plain..].iter().copied().any(needs_escape) {
        dst.put_u8(b'"');
        dst.put_slice(bytes);
        dst.put_u8(b'"');
    } else {
        let escaped = serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""));
        dst.put_slice(escaped.as_bytes());
    }
}

fn put_int(dst: &mut BytesMut, v: i64) {
    dst.put_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends the JSON header of `cmd` to `dst`.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.reserve(96 + cmd.ext_fields.len() * 32);
    dst.put_slice(b"{\"code\":");
    put_int(dst, cmd.code.into());
    dst.put_slice(b",\"language\":\"");
    dst.put_slice(cmd.language.name().as_bytes());
    dst.put_slice(b"\",\"version\":");
    put_int(dst, cmd.version.into());
    dst.put_slice(b",\"opaque\":");
    put_int(dst, cmd.opaque.into());
    dst.put_slice(b",\"flag\":");
    put_int(dst, cmd.flag.into());
    if let Some(remark) = &cmd.remark {
        dst.put_slice(b",\"remark\":");
        put_json_str(dst, remark);
    }
    dst.put_slice(b",\"extFields\":{");
    for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
        if i > 0 {
            dst.put_u8(b',');
        }
        put_json_str(dst, k);
        dst.put_u8(b':');
        put_json_str(dst, v);
    }
    dst.put_slice(b"},\"serializeTypeCurrentRPC\":\"JSON\"}");
}

/// The direct parser behind [`decode`]. Returns `None` whenever the input is not a header it can
/// decode exactly as the serde path would (including every malformed input); the caller then
/// uses serde, which also produces the error.
mod fast {
    use super::{ExtFields, LanguageCode, RemotingCommand, SerializeType};
    use std::ops::Range;

    struct P<'a> {
        s: &'a [u8],
        text: &'a str,
        i: usize,
    }

    /// A string value: borrowed from the input when it has no escapes.
    enum Str<'a> {
        Borrowed(&'a str),
        Owned(String),
    }

    impl Str<'_> {
        fn as_str(&self) -> &str {
            match self {
                Str::Borrowed(s) => s,
                Str::Owned(s) => s,
            }
        }
    }

    impl<'a> P<'a> {
        fn ws(&mut self) {
            while let Some(&b) = self.s.get(self.i) {
                if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    self.i += 1;
                } else {
                    break;
                }
            }
        }

        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }

        fn eat(&mut self, b: u8) -> Option<()> {
            (self.peek()? == b).then(|| self.i += 1)
        }

        fn lit(&mut self, word: &[u8]) -> Option<()> {
            let end = self.i.checked_add(word.len())?;
            (self.s.get(self.i..end)? == word).then(|| self.i = end)
        }

        /// Skips bytes that need no attention inside a string, 8 at a time: stops at the first
        /// quote, backslash or control byte, or at the last chunk (under 8 bytes) to look at.
        fn skip_plain(&mut self) {
            self.i = super::skip_plain_chunks(self.s, self.i);
        }

        /// The start of a JSON string (the opening quote is next): its text up to the closing
        /// quote (consumed; `true`) or up to the first backslash (`false`).
        fn plain_part(&mut self) -> Option<(&'a str, bool)> {
            self.eat(b'"')?;
            let start = self.i;
            self.skip_plain();
            loop {
                match self.peek()? {
                    b'"' => {
                        let text = self.text.get(start..self.i)?;
                        self.i += 1;
                        return Some((text, true));
                    }
                    b'\\' => return Some((self.text.get(start..self.i)?, false)),
                    0..=0x1f => return None,
                    _ => self.i += 1,
                }
            }
        }

        /// A JSON string (the opening quote is next): borrowed from the input when it has no
        /// escapes, else unescaped into one allocation sized to the rest of the header.
        fn string(&mut self) -> Option<Str<'a>> {
            let (plain, closed) = self.plain_part()?;
            if closed {
                return Some(Str::Borrowed(plain));
            }
            let mut out = String::with_capacity(plain.len() + self.s.len() - self.i);
            out.push_str(plain);
            self.unescape_into(&mut out)?;
            Some(Str::Owned(out))
        }

        /// A JSON string (the opening quote is next) appended to `out`, unescaped; where it is.
        fn string_into(&mut self, out: &mut String) -> Option<Range<usize>> {
            let begin = out.len();
            let (plain, closed) = self.plain_part()?;
            out.push_str(plain);
            if !closed {
                self.unescape_into(out)?;
            }
            Some(begin..out.len())
        }

        /// The rest of a string from the backslash at `self.i` to the closing quote, unescaped
        /// onto `out` (Java's message properties arrive this way, their separators escaped as
        /// `\u0001`/`\u0002`), plain runs skipped 8 bytes at a time.
        fn unescape_into(&mut self, out: &mut String) -> Option<()> {
            loop {
                let b = self.peek()?;
                match b {
                    b'"' => {
                        self.i += 1;
                        return Some(());
                    }
                    b'\\' => {
                        self.i += 1;
                        let e = self.peek()?;
                        self.i += 1;
                        out.push(match e {
                            b'"' => '"',
                            b'\\' => '\\',
                            b'/' => '/',
                            b'b' => '\u{8}',
                            b'f' => '\u{c}',
                            b'n' => '\n',
                            b'r' => '\r',
                            b't' => '\t',
                            // surrogates (pairs or lone): left to serde
                            b'u' => char::from_u32(self.hex4()?)?,
                            _ => return None,
                        });
                    }
                    0..=0x1f => return None,
                    _ => {
                        // copy the run up to the next quote, backslash or control byte (UTF-8
                        // safe: all three are ASCII)
                        let run = self.i;
                        self.skip_plain();
                        while let Some(&c) = self.s.get(self.i) {
                            if c == b'"' || c == b'\\' || c < 0x20 {
                                break;
                            }
                            self.i += 1;
                        }
                        out.push_str(self.text.get(run..self.i)?);
                    }
                }
            }
        }

        fn hex4(&mut self) -> Option<u32> {
            let digits = self.text.get(self.i..self.i.checked_add(4)?)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            self.i += 4;
            u32::from_str_radix(digits, 16).ok()
        }

        /// An integer in JSON syntax without fraction or exponent; `None` for anything else
        /// (including `-0`, which serde reads as a float-less 0 but prints differently).
        fn integer(&mut self) -> Option<(bool, u64, &'a str)> {
            let start = self.i;
            let negative = self.peek() == Some(b'-');
            if negative {
                self.i += 1;
            }
            let digits = self.i;
            // the value while scanning; `None` past u64 (serde would read a float)
            let mut v: u64 = 0;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                self.i += 1;
            }
            let count = self.i - digits;
            if count == 0 || (count > 1 && self.s[digits] == b'0') {
                return None;
            }
            if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
                return None;
            }
            if negative && v == 0 {
                return None;
            }
            Some((negative, v, self.text.get(start..self.i)?))
        }

        fn i32(&mut self) -> Option<i32> {
            let (negative, v, _) = self.integer()?;
            let v = i64::try_from(v).ok()?;
            i32::try_from(if negative { -v } else { v }).ok()
        }

        /// Skips a scalar value of an unknown key (objects and arrays are left to serde).
        fn skip_scalar(&mut self) -> Option<()> {
            match self.peek()? {
                b'"' => self.string().map(drop),
                b't' => self.lit(b"true"),
                b'f' => self.lit(b"false"),
                b'n' => self.lit(b"null"),
                b'-' | b'0'..=b'9' => self.integer().map(drop),
                _ => None,
            }
        }

        fn ext_fields(&mut self) -> Option<Option<ExtFields>> {
            if self.peek()? == b'n' {
                self.lit(b"null")?;
                return Some(None);
            }
            self.eat(b'{')?;
            // keys and values are disjoint parts of the rest of the header and unescaping
            // only shortens them: the text never grows
            let mut fields = ExtFields::with_room(16, self.s.len() - self.i);
            self.ws();
            if self.eat(b'}').is_some() {
                return Some(Some(fields));
            }
            loop {
                let key = self.string_into(fields.text_mut())?;
                self.ws();
                self.eat(b':')?;
                self.ws();
                let value = self.ext_value(fields.text_mut())?;
                fields.push_appended(key, value);
                if self.next_member()? {
                    return Some(Some(fields));
                }
            }
        }

        /// An `extFields` value appended to `out` as text (numbers and booleans as they are
        /// written); `Some(None)` for null.
        fn ext_value(&mut self, out: &mut String) -> Option<Option<Range<usize>>> {
            let begin = out.len();
            let literal = match self.peek()? {
                b'"' => return self.string_into(out).map(Some),
                b't' => self.lit(b"true").map(|()| "true")?,
                b'f' => self.lit(b"false").map(|()| "false")?,
                b'n' => return self.lit(b"null").map(|()| None),
                b'-' | b'0'..=b'9' => {
                    let (negative, v, text) = self.integer()?;
                    if negative && i64::try_from(v).is_err() {
                        return None;
                    }
                    text
                }
                _ => return None,
            };
            out.push_str(literal);
            Some(Some(begin..out.len()))
        }

        /// After a member of an object: a comma (more follow) or the closing brace (`true`).
        fn next_member(&mut self) -> Option<bool> {
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                    Some(false)
                }
                b'}' => {
                    self.i += 1;
                    Some(true)
                }
                _ => None,
            }
        }

        /// A `language` value: a name, a numeric code, or null.
        fn language(&mut self) -> Option<LanguageCode> {
            Some(match self.peek()? {
                b'"' => LanguageCode::from_name(self.string()?.as_str()),
                b'n' => {
                    self.lit(b"null")?;
                    LanguageCode::Other
                }
                _ => match self.integer()? {
                    (false, v, _) => LanguageCode::from_code(u8::try_from(v).unwrap_or(u8::MAX)),
                    (true, v, _) if i64::try_from(v).is_ok() => LanguageCode::Other,
                    _ => return None,
                },
            })
        }

        /// A `remark` value: a string or null.
        fn remark(&mut self) -> Option<Option<String>> {
            if self.peek()? == b'n' {
                self.lit(b"null")?;
                return Some(None);
            }
            Some(Some(match self.string()? {
                Str::Borrowed(s) => s.to_owned(),
                Str::Owned(s) => s,
            }))
        }
    }

    /// Reads the value of the header member `key` into `cmd`; the index of the field it set
    /// (`None` for an unknown key, whose scalar value is skipped).
    fn member(p: &mut P<'_>, key: &str, cmd: &mut RemotingCommand) -> Option<Option<usize>> {
        let field = match key {
            "code" => {
                cmd.code = p.i32()?;
                0
            }
            "language" => {
                cmd.language = p.language()?;
                1
            }
            "version" => {
                cmd.version = p.i32()?;
                2
            }
            "opaque" => {
                cmd.opaque = p.i32()?;
                3
            }
            "flag" => {
                cmd.flag = p.i32()?;
                4
            }
            "remark" => {
                cmd.remark = p.remark()?;
                5
            }
            "extFields" => {
                cmd.ext_fields = p.ext_fields()?.unwrap_or_default();
                6
            }
            _ => {
                p.skip_scalar()?;
                return Some(None);
            }
        };
        Some(Some(field))
    }

    pub(super) fn decode(header: &[u8]) -> Option<RemotingCommand> {
        let text = std::str::from_utf8(header).ok()?;
        let mut p = P {
            s: header,
            text,
            i: 0,
        };
        let mut cmd = RemotingCommand {
            serialize_type: SerializeType::Json,
            ..RemotingCommand::default()
        };
        // serde rejects repeated fields of the header struct: leave those to it
        let mut seen = [false; 7];
        p.ws();
        p.eat(b'{')?;
        p.ws();
        if p.eat(b'}').is_none() {
            loop {
                let key = p.string()?;
                p.ws();
                p.eat(b':')?;
                p.ws();
                if let Some(field) = member(&mut p, key.as_str(), &mut cmd)?
                    && std::mem::replace(&mut seen[field], true)
                {
                    return None;
                }
                if p.next_member()? {
                    break;
                }
            }
        }
        p.ws();
        // `code` is required; trailing bytes are an error: both left to serde
        (seen[0] && p.i == header.len()).then_some(cmd)
    }
}

#[cfg(test)]
mod tests;
