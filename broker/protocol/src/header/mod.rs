//! Typed headers ("custom headers"): structs read from and written to a command's `extFields`.
//!
//! Each family lives in its own file; [`command_header!`] declares a struct with the wire name of
//! every field. Reading follows Java's rules: numbers are decimal text (leading/trailing spaces
//! tolerated), a boolean is true only for a case-insensitive `"true"` (so C++'s `"1"` is false,
//! as on the Java broker), required fields that are absent are an error naming the field.

use crate::error::HeaderError;
use crate::ext_fields::{ExtFields, FieldReader};

pub mod client;
pub mod namesrv;
pub mod offset;
pub mod pull;
pub mod query;
pub mod send;
pub mod topic;
pub mod transaction;

/// A typed header.
pub trait CommandHeader: Sized {
    /// Writes every present field into `ext`.
    fn write_to(&self, ext: &mut ExtFields);
    /// Reads the header, failing on a missing required field or a malformed value.
    fn read_from(ext: &ExtFields) -> Result<Self, HeaderError>;
}

/// A scalar header value with a text form.
pub trait Scalar: Sized {
    /// Name of the type for error messages.
    const EXPECTED: &'static str;
    /// Parses the text form.
    fn parse(text: &str) -> Option<Self>;
    /// Writes the text form as the value of `key` (straight into the map's text: no `String`
    /// of its own).
    fn write(&self, key: &'static str, ext: &mut ExtFields);
}

impl Scalar for String {
    const EXPECTED: &'static str = "a string";
    fn parse(text: &str) -> Option<Self> {
        Some(text.to_owned())
    }
    fn write(&self, key: &'static str, ext: &mut ExtFields) {
        ext.insert(key, self);
    }
}

macro_rules! int_scalar {
    ($($t:ty => $name:literal),*) => {$(
        impl Scalar for $t {
            const EXPECTED: &'static str = $name;
            fn parse(text: &str) -> Option<Self> {
                text.trim().parse().ok()
            }
            fn write(&self, key: &'static str, ext: &mut ExtFields) {
                ext.insert(key, itoa::Buffer::new().format(*self));
            }
        }
    )*};
}
int_scalar!(i32 => "a 32-bit integer", i64 => "a 64-bit integer");

impl Scalar for bool {
    const EXPECTED: &'static str = "a boolean";
    fn parse(text: &str) -> Option<Self> {
        Some(text.trim().eq_ignore_ascii_case("true"))
    }
    fn write(&self, key: &'static str, ext: &mut ExtFields) {
        ext.insert(key, if *self { "true" } else { "false" });
    }
}

/// A field of a typed header: required scalars, booleans (default false) and optional values.
pub trait HeaderValue: Sized {
    /// Reads the field named `key`.
    fn read(fields: &mut FieldReader<'_>, key: &'static str) -> Result<Self, HeaderError>;
    /// Writes the field named `key` (absent optionals are not written).
    fn write(&self, key: &'static str, ext: &mut ExtFields);
}

fn parse_scalar<T: Scalar>(key: &'static str, text: &str) -> Result<T, HeaderError> {
    T::parse(text).ok_or_else(|| HeaderError::Invalid {
        field: key,
        value: text.to_owned(),
        expected: T::EXPECTED,
    })
}

macro_rules! required_value {
    ($($t:ty),*) => {$(
        impl HeaderValue for $t {
            fn read(fields: &mut FieldReader<'_>, key: &'static str) -> Result<Self, HeaderError> {
                let text = fields.get(key).ok_or(HeaderError::Missing(key))?;
                parse_scalar(key, text)
            }
            fn write(&self, key: &'static str, ext: &mut ExtFields) {
                Scalar::write(self, key, ext);
            }
        }
    )*};
}
required_value!(String, i32, i64);

impl HeaderValue for bool {
    fn read(fields: &mut FieldReader<'_>, key: &'static str) -> Result<Self, HeaderError> {
        Ok(fields
            .get(key)
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("true")))
    }
    fn write(&self, key: &'static str, ext: &mut ExtFields) {
        Scalar::write(self, key, ext);
    }
}

impl<T: Scalar> HeaderValue for Option<T> {
    fn read(fields: &mut FieldReader<'_>, key: &'static str) -> Result<Self, HeaderError> {
        match fields.get(key) {
            None => Ok(None),
            Some(text) if text.is_empty() && T::EXPECTED != String::EXPECTED => Ok(None),
            Some(text) => parse_scalar(key, text).map(Some),
        }
    }
    fn write(&self, key: &'static str, ext: &mut ExtFields) {
        if let Some(v) = self {
            v.write(key, ext);
        }
    }
}

/// Declares a typed header: `field: Type => "wireName"`.
#[macro_export]
macro_rules! command_header {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty => $key:literal),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        #[allow(missing_docs)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }
        impl $crate::header::CommandHeader for $name {
            fn write_to(&self, ext: &mut $crate::ExtFields) {
                $($crate::header::HeaderValue::write(&self.$field, $key, ext);)*
            }
            fn read_from(ext: &$crate::ExtFields) -> Result<Self, $crate::HeaderError> {
                let mut fields = ext.reader();
                Ok(Self {
                    $($field: $crate::header::HeaderValue::read(&mut fields, $key)?,)*
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    command_header! {
        /// test header
        pub struct Sample {
            name: String => "name",
            count: i32 => "count",
            big: i64 => "big",
            flag: bool => "flag",
            opt: Option<i64> => "opt",
            text: Option<String> => "text",
        }
    }

    #[test]
    fn reads_java_style_values() {
        let ext: ExtFields = [
            ("name", "n"),
            ("count", " 4 "),
            ("big", "-9"),
            ("flag", "TRUE"),
        ]
        .into_iter()
        .collect();
        let s = Sample::read_from(&ext).unwrap();
        assert_eq!(
            s,
            Sample {
                name: "n".into(),
                count: 4,
                big: -9,
                flag: true,
                opt: None,
                text: None
            }
        );
        let mut out = ExtFields::new();
        s.write_to(&mut out);
        assert_eq!(out.get("flag"), Some("true"));
        assert_eq!(out.get("opt"), None);
    }

    #[test]
    fn missing_and_invalid_fields_name_the_field() {
        let ext: ExtFields = [("name", "n"), ("count", "x")].into_iter().collect();
        assert_eq!(
            Sample::read_from(&ext),
            Err(HeaderError::Invalid {
                field: "count",
                value: "x".into(),
                expected: "a 32-bit integer"
            })
        );
        let ext: ExtFields = [("count", "1"), ("big", "1")].into_iter().collect();
        assert_eq!(Sample::read_from(&ext), Err(HeaderError::Missing("name")));
        let ext: ExtFields = [("name", "n"), ("count", "1"), ("big", "1"), ("flag", "1")]
            .into_iter()
            .collect();
        assert!(
            !Sample::read_from(&ext).unwrap().flag,
            "\"1\" is false, as in Java"
        );
    }
}
