//! Option parsing (`--name value` and `--name=value`; unknown, repeated or malformed options are
//! usage errors) and the options shared by every scenario.

use std::collections::HashMap;
use std::time::Duration;

/// How a scenario ended.
pub enum Outcome {
    /// Printed an ok result.
    Ok,
    /// Printed a result that is not ok.
    NotOk,
    /// Usage error: nothing printed on stdout.
    Usage(String),
    /// Could not run: a `fatal` result is printed.
    Fatal(String),
    /// Not supported by this client: an `unsupported` result is printed.
    Unsupported(String),
}

impl Outcome {
    pub fn of(ok: bool) -> Self {
        if ok { Outcome::Ok } else { Outcome::NotOk }
    }
}

/// Kind of an option.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Takes a value.
    Value,
    /// A switch.
    Flag,
    /// Known to the other harnesses, not implemented here: using it exits 4.
    Unsupported,
}

/// Parsed options.
pub struct Opts {
    vals: HashMap<String, String>,
}

pub fn parse(args: &[String], spec: &[(&str, Kind)]) -> Result<Opts, Outcome> {
    let kinds: HashMap<&str, Kind> = spec.iter().copied().collect();
    let mut vals = HashMap::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let Some(body) = a.strip_prefix("--") else {
            return Err(Outcome::Usage(format!("unexpected argument '{a}'")));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (body, None),
        };
        let Some(kind) = kinds.get(name) else {
            return Err(Outcome::Usage(format!("unknown option --{name}")));
        };
        if *kind == Kind::Unsupported {
            return Err(Outcome::Unsupported(format!(
                "option --{name} is not implemented by the Rust harness"
            )));
        }
        let v = match (kind, inline) {
            (Kind::Flag, None) => "true".to_owned(),
            (Kind::Flag, Some(v)) if v == "true" || v == "false" => v,
            (Kind::Flag, Some(_)) => {
                return Err(Outcome::Usage(format!("option --{name} takes no value")));
            }
            (_, Some(v)) => v,
            (_, None) => {
                i += 1;
                match args.get(i) {
                    Some(v) => v.clone(),
                    None => return Err(Outcome::Usage(format!("option --{name} needs a value"))),
                }
            }
        };
        if vals.insert(name.to_owned(), v).is_some() {
            return Err(Outcome::Usage(format!("option --{name} given twice")));
        }
        i += 1;
    }
    Ok(Opts { vals })
}

impl Opts {
    pub fn has(&self, name: &str) -> bool {
        self.vals.contains_key(name)
    }

    pub fn str_or(&self, name: &str, default: &str) -> String {
        self.vals
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }

    pub fn required(&self, name: &str) -> Result<String, Outcome> {
        match self.vals.get(name) {
            Some(v) if !v.is_empty() => Ok(v.clone()),
            _ => Err(Outcome::Usage(format!("missing required option --{name}"))),
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.vals.get(name).is_some_and(|v| v == "true")
    }

    /// An integer option in `[min, max]`.
    pub fn int(&self, name: &str, default: i64, min: i64, max: i64) -> Result<i64, Outcome> {
        let v = match self.vals.get(name) {
            None => default,
            Some(s) => s.parse::<i64>().map_err(|_| {
                Outcome::Usage(format!("option --{name} wants an integer, got '{s}'"))
            })?,
        };
        if v < min || v > max {
            return Err(Outcome::Usage(format!(
                "option --{name} must be in [{min}, {max}], got {v}"
            )));
        }
        Ok(v)
    }

    pub fn required_int(&self, name: &str, min: i64, max: i64) -> Result<i64, Outcome> {
        if !self.has(name) {
            return Err(Outcome::Usage(format!("missing required option --{name}")));
        }
        self.int(name, 0, min, max)
    }
}

/// Options every scenario has.
pub struct Common {
    pub namesrv: String,
    pub topic: String,
    pub group: String,
    pub prefix: String,
    pub start: i64,
    pub timeout: Duration,
    pub out: Option<String>,
    pub instance: Option<String>,
}

pub const COMMON: &[(&str, Kind)] = &[
    ("namesrv", Kind::Value),
    ("topic", Kind::Value),
    ("group", Kind::Value),
    ("prefix", Kind::Value),
    ("start", Kind::Value),
    ("timeout-ms", Kind::Value),
    ("out", Kind::Value),
    ("instance", Kind::Value),
    ("log-dir", Kind::Value),
];

impl Common {
    pub fn from(o: &Opts, default_group: &str, default_timeout_ms: i64) -> Result<Self, Outcome> {
        let group = o.str_or("group", default_group);
        if group.is_empty() {
            return Err(Outcome::Usage("missing required option --group".into()));
        }
        if !group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-'))
        {
            return Err(Outcome::Usage(format!(
                "group '{group}' must match ^[%|a-zA-Z0-9_-]+$"
            )));
        }
        let timeout_ms = o.int("timeout-ms", default_timeout_ms, 1, 86_400_000)?;
        let c = Common {
            namesrv: o.required("namesrv")?,
            topic: o.required("topic")?,
            group,
            prefix: o.str_or("prefix", "m"),
            start: o.int("start", 0, 0, (1i64 << 31) - 50_000_002)?,
            timeout: Duration::from_millis(timeout_ms as u64),
            out: o.vals.get("out").cloned(),
            instance: o.vals.get("instance").cloned(),
        };
        crate::watchdog(c.timeout + Duration::from_secs(60));
        Ok(c)
    }
}
