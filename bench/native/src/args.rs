//! Command-line arguments in the Java driver's form: a command, then `--name value` or
//! `--name=value` pairs (the same names as `bench/driver`'s `Driver.java`).

use std::collections::HashMap;
use std::str::FromStr;

/// The `--name value` pairs after the command, by name (without the dashes).
#[derive(Debug, Default, Clone)]
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    /// Parses the arguments after the command; a later repetition of a name wins.
    pub fn parse<I: IntoIterator<Item = String>>(argv: I) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut it = argv.into_iter();
        while let Some(arg) = it.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!(
                    "unexpected argument '{arg}': options are written --name value"
                ));
            };
            if let Some((k, v)) = name.split_once('=') {
                values.insert(k.to_owned(), v.to_owned());
            } else {
                let v = it
                    .next()
                    .ok_or_else(|| format!("missing value for --{name} (write --{name} VALUE)"))?;
                values.insert(name.to_owned(), v);
            }
        }
        Ok(Self { values })
    }

    /// The value of `--name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The value of a required `--name`.
    pub fn req(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("missing --{name} (see `rmq-bench help`)"))
    }

    /// `--name` parsed as a number, or `default` when absent.
    pub fn num<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                format!("--{name} {v:?} is not a valid number (write e.g. --{name} 100)")
            }),
        }
    }

    /// `--name` parsed as a number, if given.
    pub fn opt_num<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.get(name)
            .map(|v| {
                v.trim().parse().map_err(|_| {
                    format!("--{name} {v:?} is not a valid number (write e.g. --{name} 100)")
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Result<Args, String> {
        Args::parse(s.iter().map(|s| s.to_string()))
    }

    #[test]
    fn pairs_and_equals_forms() {
        let a = args(&["--namesrv", "127.0.0.1:9876", "--queues=8", "--cpu", "1"]).unwrap();
        assert_eq!(a.req("namesrv").unwrap(), "127.0.0.1:9876");
        assert_eq!(a.num("queues", 4).unwrap(), 8);
        assert_eq!(a.num("missing", 7u64).unwrap(), 7);
        assert_eq!(a.opt_num::<usize>("cpu").unwrap(), Some(1));
    }

    #[test]
    fn errors_say_what_to_write() {
        assert!(args(&["namesrv"]).unwrap_err().contains("--name value"));
        assert!(
            args(&["--plan"])
                .unwrap_err()
                .contains("missing value for --plan")
        );
        let a = args(&["--queues", "eight"]).unwrap();
        assert!(
            a.num("queues", 8)
                .unwrap_err()
                .contains("not a valid number")
        );
        assert!(a.req("topic").unwrap_err().contains("missing --topic"));
    }
}
