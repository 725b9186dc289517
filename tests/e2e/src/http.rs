//! A minimal HTTP/1.0 client for the nodes' operations endpoints (`/healthz`, `/readyz`,
//! `/metrics`): one request per connection, no dependency.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What an endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// The `Content-Type` header (lowercase), empty if absent.
    pub content_type: String,
    /// The body.
    pub body: String,
}

/// `METHOD path` to `addr` (`host:port`); `None` when nothing answers.
pub fn http_request(addr: &str, method: &str, path: &str) -> Option<HttpAnswer> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "{method} {path} HTTP/1.0\r\nHost: test\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_ascii_lowercase())
        })
        .unwrap_or_default();
    Some(HttpAnswer {
        status,
        content_type,
        body: body.to_owned(),
    })
}

/// `GET path`.
pub fn http_get(addr: &str, path: &str) -> Option<HttpAnswer> {
    http_request(addr, "GET", path)
}

/// `GET /metrics` of `addr`, checked to be OpenMetrics text (status 200, its content type,
/// ending with `# EOF`); panics otherwise.
pub fn scrape_metrics(addr: &str) -> String {
    let a = http_get(addr, "/metrics").expect("/metrics answers");
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.content_type.starts_with("application/openmetrics-text"),
        "{a:?}"
    );
    assert!(
        a.body.ends_with("# EOF\n"),
        "OpenMetrics text ends with # EOF"
    );
    a.body
}

/// The value of the first series `name{...}` (or `name` without labels) in `text` whose line
/// contains every one of `needles` (label texts such as `topic="T"`).
pub fn metric_value(text: &str, name: &str, needles: &[&str]) -> Option<f64> {
    let (with_labels, bare) = (format!("{name}{{"), format!("{name} "));
    text.lines()
        .filter(|l| l.starts_with(&with_labels) || l.starts_with(&bare))
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
