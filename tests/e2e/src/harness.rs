//! Running the real-client harnesses (tests/harness.md) and reading their JSON result.

use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::sync::OnceLock;

/// Which unmodified client drives the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// org.apache.rocketmq:rocketmq-client 4.9.x.
    Java4,
    /// org.apache.rocketmq:rocketmq-client 5.x.
    Java5,
    /// github.com/apache/rocketmq-client-go/v2.
    Go,
    /// crates.io `rocketmq-client-rust` (tests/rust-client).
    Rust,
}

fn harness_env() -> &'static HashMap<String, String> {
    static ENV: OnceLock<HashMap<String, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut map = HashMap::new();
        let cache = std::env::var_os("RMQ_TEST_CACHE")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|h| std::path::PathBuf::from(h).join(".cache/rmq-test"))
            });
        // harness.env (tests/build-harnesses.sh), then rust-harness.env (tests/rust-client/build.sh;
        // build-harnesses.sh rewrites harness.env without the Rust lines).
        let files = ["harness.env", "rust-harness.env"];
        for file in files
            .iter()
            .filter_map(|f| cache.as_ref().map(|c| c.join(f)))
        {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            for line in text.lines() {
                if let Some((k, v)) = line
                    .trim()
                    .strip_prefix("export ")
                    .and_then(|l| l.split_once('='))
                {
                    map.insert(k.to_owned(), v.trim_matches('\'').to_owned());
                }
            }
        }
        for (k, v) in std::env::vars() {
            if k.starts_with("RMQ_") {
                map.insert(k, v);
            }
        }
        map
    })
}

/// The harness executable of a client.
pub fn harness_path(client: Client) -> String {
    let key = match client {
        Client::Java4 => "RMQ_JAVA_HARNESS_4",
        Client::Java5 => "RMQ_JAVA_HARNESS_5",
        Client::Go => "RMQ_GO_HARNESS",
        Client::Rust => "RMQ_RUST_HARNESS",
    };
    if client == Client::Rust {
        return harness_env().get(key).cloned().unwrap_or_else(|| {
            panic!(
                "{key} is not set: build the Rust client harness with `tests/rust-client/build.sh` \
                 (writes ~/.cache/rmq-test/rust-harness.env and merges it into harness.env)"
            )
        });
    }
    harness_var(key)
}

/// A variable of the harness environment (`~/.cache/rmq-test/harness.env` and
/// `rust-harness.env`, or `RMQ_TEST_CACHE`'s, overridden by `RMQ_*` variables of the
/// environment); fails with the build instructions when it is missing.
pub fn harness_var(key: &str) -> String {
    harness_env().get(key).cloned().unwrap_or_else(|| {
        panic!(
            "{key} is not set: build the client harnesses with `tests/build-harnesses.sh` \
             (writes ~/.cache/rmq-test/harness.env), or run the whole suite with ./scripts/test.sh"
        )
    })
}

/// One harness result line.
#[derive(Debug, Clone)]
pub struct HarnessResult {
    /// Exit code.
    pub code: i32,
    /// The parsed JSON line.
    pub json: Value,
    /// stderr, for failure messages.
    pub stderr: String,
}

impl HarnessResult {
    /// A numeric field.
    pub fn num(&self, key: &str) -> i64 {
        self.json[key]
            .as_i64()
            .unwrap_or_else(|| panic!("no numeric {key} in {}", self.json))
    }
    /// A string field.
    pub fn str(&self, key: &str) -> String {
        self.json[key].as_str().unwrap_or_default().to_owned()
    }
    /// The `ok` field.
    pub fn ok(&self) -> bool {
        self.json["ok"].as_bool() == Some(true)
    }
    /// Panics with context unless `ok`.
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.ok(),
            "harness failed (exit {}): {}\nstderr tail: {}",
            self.code,
            self.json,
            tail(&self.stderr)
        );
        self
    }
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(2000);
    let mut i = start;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// Runs `<harness> <args...>` and parses its single JSON line.
pub fn run_harness(client: Client, args: &[&str]) -> HarnessResult {
    run_harness_env(client, args, &[])
}

/// [`run_harness`] with extra environment variables (e.g. `RMQ_HARNESS_JAVA_OPTS`).
pub fn run_harness_env(client: Client, args: &[&str], env: &[(&str, &str)]) -> HarnessResult {
    let out = Command::new(harness_path(client))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run harness");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'));
    let json = line
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "harness printed no JSON (exit {:?}): stdout={stdout} stderr={}",
                out.status.code(),
                tail(&stderr)
            )
        });
    HarnessResult {
        code: out.status.code().unwrap_or(-1),
        json,
        stderr,
    }
}

/// Runs a harness scenario written as one line of the harness CLI's words, e.g.
/// `"produce --namesrv 127.0.0.1:9876 --topic T --count 10"` (no word holds a space).
pub fn run_line(client: Client, line: &str) -> HarnessResult {
    run_line_env(client, line, &[])
}

/// [`run_line`] with extra environment variables.
pub fn run_line_env(client: Client, line: &str, env: &[(&str, &str)]) -> HarnessResult {
    let args: Vec<&str> = line.split_whitespace().collect();
    run_harness_env(client, &args, env)
}

/// Numbered messages on one topic, written and read by one client through the nameservers
/// `ns`: bodies `<prefix>-<n>`, so a consumer tells what arrived, what is missing and what came
/// twice. The produce / consume pair the suites share; each adds its own flags.
#[derive(Debug, Clone, Copy)]
pub struct Flow<'a> {
    /// The client that produces and consumes.
    pub client: Client,
    /// Nameserver addresses (`host:port;host:port`).
    pub ns: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The body prefix that marks this flow's messages.
    pub prefix: &'a str,
}

impl Flow<'_> {
    /// Produces `count` messages numbered from `start`, with the harness `flags` added.
    pub fn produce(&self, start: i64, count: i64, flags: &str) -> HarnessResult {
        let (ns, topic, prefix) = (self.ns, self.topic, self.prefix);
        run_line(
            self.client,
            &format!(
                "produce --namesrv {ns} --topic {topic} --prefix {prefix} --start {start} --count {count} {flags}"
            ),
        )
    }

    /// Runs `scenario` (`consume`: push consumer, `pull`: pull consumer) in `group` until
    /// `expect` messages of this flow arrived (or its timeout), with the harness `flags` added.
    pub fn consume(&self, scenario: &str, group: &str, expect: i64, flags: &str) -> HarnessResult {
        let (ns, topic, prefix) = (self.ns, self.topic, self.prefix);
        let r = run_line(
            self.client,
            &format!(
                "{scenario} --namesrv {ns} --topic {topic} --group {group} --prefix {prefix} --expect {expect} {flags}"
            ),
        );
        eprintln!("{:?} {scenario} {group}: {}", self.client, r.json);
        r
    }
}

/// Parses compact index ranges (`"0-4,7,9-10"`) into a sorted list.
pub fn parse_ranges(s: &str) -> Vec<i64> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<i64>().unwrap()..=b.parse::<i64>().unwrap()),
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_ranges("0-2,5,7-8"), vec![0, 1, 2, 5, 7, 8]);
        assert!(parse_ranges("").is_empty());
    }
}
