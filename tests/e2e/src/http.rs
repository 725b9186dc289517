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
