//! The driver's output: one flat JSON object per line, keys in insertion order, numbers written
//! the way the Java driver's `Json.java` writes them (integers as integers, floats with 3
//! decimals, NaN and infinities as `null`), so `bench/report.py` reads either driver's lines alike.

use std::io::Write;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float, written with 3 decimals.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<Val>),
    /// A nested object.
    Obj(Obj),
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Val {
            fn from(v: $t) -> Self {
                Val::Int(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
    )*};
}
from_int!(i32, i64, u32, u64, usize);

impl From<f64> for Val {
    fn from(v: f64) -> Self {
        Val::Float(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Str(v.to_owned())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Str(v)
    }
}
impl From<Obj> for Val {
    fn from(v: Obj) -> Self {
        Val::Obj(v)
    }
}
impl From<Vec<Val>> for Val {
    fn from(v: Vec<Val>) -> Self {
        Val::List(v)
    }
}

/// A JSON object whose keys keep the order they were first set in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Obj(Vec<(String, Val)>);

impl Obj {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    /// `{"phase": phase, "ok": true}`, the start of every phase's line.
    pub fn phase(phase: &str) -> Self {
        let mut o = Self::new();
        o.set("phase", phase);
        o.set("ok", true);
        o
    }

    /// Sets `key` (in place when it exists, else appended).
    pub fn set(&mut self, key: &str, value: impl Into<Val>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Val> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The text of `key`, when it is a string.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Val::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The number of `key`, when it is one.
    pub fn num(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Val::Float(f)) => Some(*f),
            Some(Val::Int(i)) => Some(*i as f64),
            _ => None,
        }
    }

    /// True if `ok` is `true`.
    pub fn ok(&self) -> bool {
        self.get("ok") == Some(&Val::Bool(true))
    }

    /// The compact JSON text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        write_obj(&mut s, self);
        s
    }
}

fn write_obj(s: &mut String, o: &Obj) {
    s.push('{');
    for (i, (k, v)) in o.0.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        write_str(s, k);
        s.push(':');
        write_val(s, v);
    }
    s.push('}');
}

fn write_str(s: &mut String, text: &str) {
    // serde_json escapes exactly what JSON requires
    s.push_str(&serde_json::Value::from(text).to_string());
}

fn write_val(s: &mut String, v: &Val) {
    match v {
        Val::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
        Val::Int(i) => s.push_str(&i.to_string()),
        Val::Float(f) if f.is_finite() => s.push_str(&format!("{f:.3}")),
        Val::Float(_) => s.push_str("null"),
        Val::Str(text) => write_str(s, text),
        Val::Obj(o) => write_obj(s, o),
        Val::List(items) => {
            s.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                write_val(s, item);
            }
            s.push(']');
        }
    }
}

/// Prints `o` as one line on stdout and flushes (run.sh reads the lines as they come).
pub fn emit(o: &Obj) {
    let mut out = std::io::stdout().lock();
    // stdout gone (the harness stopped reading): nothing left to report to
    let _ = writeln!(out, "{}", o.render());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_java_driver() {
        let mut o = Obj::phase("sync");
        o.set("size", 128usize);
        o.set("tps", 1234.56789);
        o.set("nan", f64::NAN);
        o.set("error", "a \"quoted\"\nline");
        let mut kind = Obj::new();
        kind.set("message", "code 2: busy");
        kind.set("count", 3u64);
        o.set("errorKinds", vec![Val::Obj(kind)]);
        o.set("ok", false);
        assert_eq!(
            o.render(),
            r#"{"phase":"sync","ok":false,"size":128,"tps":1234.568,"nan":null,"error":"a \"quoted\"\nline","errorKinds":[{"message":"code 2: busy","count":3}]}"#
        );
        assert!(!o.ok());
        let parsed: serde_json::Value = serde_json::from_str(&o.render()).unwrap();
        assert_eq!(parsed["size"], 128);
    }
}
