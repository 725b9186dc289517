//! `GET /metrics` of one endpoint over hyper's HTTP/1 client, and what the answer means: a
//! [`Reading`], or an error naming the URL and what to check.

use super::reading::Reading;
use super::text;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::net::TcpStream;

/// The largest body read (a broker caps its series; this is far above what it serves).
const MAX_BODY: usize = 64 << 20;

/// What a broker runs with when it serves no HTTP, and how to turn it on.
pub const HTTP_OFF_HINT: &str = "the broker may run with its HTTP listener off: set \
     httpEnable=true in its broker.conf (or start rmq-broker with `--set httpEnable=true`); \
     its port is httpListenPort, default listenPort + 7 (10918)";

/// A metrics endpoint: `http://host:port/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Request path, `/metrics` unless given.
    pub path: String,
}

impl Endpoint {
    /// `http://host:port/path`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority(), self.path)
    }

    /// `host:port` (`[v6]:port`).
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Parses `http://HOST:PORT[/path]` or `HOST:PORT[/path]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let rest = match t.split_once("://") {
            None => t,
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "{text:?}: scheme {scheme:?} is not supported: brokers serve plain http://HOST:PORT/metrics"
                ));
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/metrics"),
        };
        let bad = || format!("{text:?} is not HOST:PORT or http://HOST:PORT/metrics");
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(bad)?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}

/// Fetches and reads `ep` within `timeout`; the error names the URL and what to check.
pub async fn scrape(ep: &Endpoint, timeout: Duration) -> Result<Reading, String> {
    let url = ep.url();
    let (content_type, body) = match tokio::time::timeout(timeout, get(ep)).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(format!(
                "{url}: no answer within {} s (the broker may be overloaded or the address wrong)",
                timeout.as_secs_f64()
            ));
        }
    };
    read(&url, &content_type, &body)
}

/// GET `ep`: its content type and body, or an error naming the URL.
async fn get(ep: &Endpoint) -> Result<(String, String), String> {
    let url = ep.url();
    let stream = TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(|e| format!("cannot connect to {url}: {e}; {HTTP_OFF_HINT}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{url}: HTTP handshake failed: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "metrics connection ended");
        }
    });
    let req = hyper::Request::get(ep.path.as_str())
        .header(HOST, ep.authority())
        .header(
            ACCEPT,
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{url}: cannot build the request: {e}"))?;
    let resp = sender.send_request(req).await.map_err(|e| {
        format!("{url}: the request failed: {e} (is this port an HTTP listener? {HTTP_OFF_HINT})")
    })?;
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("{url}: reading the answer failed: {e}"))?
        .to_bytes();
    let body = String::from_utf8_lossy(&bytes).into_owned();
    if !status.is_success() {
        let first = body.lines().next().unwrap_or_default();
        let hint = if status == hyper::StatusCode::NOT_FOUND {
            " (nothing at that path: is it a broker's HTTP port and /metrics?)"
        } else {
            ""
        };
        return Err(format!("{url} answered HTTP {status}: {first}{hint}"));
    }
    Ok((content_type, body))
}

/// What an answer with `content_type` and `body` from `url` says.
pub fn read(url: &str, content_type: &str, body: &str) -> Result<Reading, String> {
    let ct = content_type.to_ascii_lowercase();
    let text_like = ct.is_empty()
        || ct.starts_with("application/openmetrics-text")
        || ct.starts_with("text/plain");
    if !text_like {
        return Err(format!(
            "{url} answered Content-Type {content_type:?}, not OpenMetrics text: is it a broker's /metrics endpoint?"
        ));
    }
    let samples = text::parse(body).map_err(|e| {
        format!("{url} did not answer OpenMetrics text ({e}): is it a broker's /metrics endpoint?")
    })?;
    let reading = Reading::from_samples(&samples);
    if reading.is_empty() {
        return Err(format!(
            "{url} serves {} samples but none of rmq's (rocketmq_producer_offset, \
             rocketmq_messages_in_total, rmq_broker_ready, ...): is it a broker's /metrics endpoint?",
            samples.len()
        ));
    }
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_host_port() {
        let ep = Endpoint::parse("127.0.0.1:10918").unwrap();
        assert_eq!(ep.url(), "http://127.0.0.1:10918/metrics");
        let ep = Endpoint::parse("HTTP://broker-0.rmq:8080/x/metrics").unwrap();
        assert_eq!(
            (ep.host.as_str(), ep.port, ep.path.as_str()),
            ("broker-0.rmq", 8080, "/x/metrics")
        );
        assert_eq!(
            Endpoint::parse("[::1]:9").unwrap().url(),
            "http://[::1]:9/metrics"
        );
        assert!(
            Endpoint::parse("https://b:1/metrics")
                .unwrap_err()
                .contains("not supported")
        );
        for bad in ["broker", "b:0", "b:http", ":10918", "http://b/metrics"] {
            assert!(
                Endpoint::parse(bad)
                    .unwrap_err()
                    .contains("is not HOST:PORT"),
                "{bad}"
            );
        }
    }

    #[test]
    fn answers_that_are_not_broker_metrics() {
        let url = "http://h:1/metrics";
        let html = read(url, "text/html", "<html></html>").unwrap_err();
        assert!(
            html.contains("Content-Type \"text/html\", not OpenMetrics"),
            "{html}"
        );
        let ok = read(url, "text/plain; charset=utf-8", "ok\n").unwrap_err();
        assert!(
            ok.contains("did not answer OpenMetrics text (line 1:"),
            "{ok}"
        );
        let other = read(url, "", "up 1\n# EOF\n").unwrap_err();
        assert!(
            other.contains("serves 1 samples but none of rmq's"),
            "{other}"
        );
        let good = read(
            url,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "rmq_broker_ready{cluster=\"c\",broker=\"b\"} 1.0\n# EOF\n",
        )
        .unwrap();
        assert_eq!(good.ready.values().next(), Some(&true));
    }
}
