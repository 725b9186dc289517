//! `rocketmq_rpc_latency`: how long the broker took to answer each request, by request code
//! and response code (RocketMQ 5's histogram, its buckets and lowercase code names:
//! `send_message`, `success`). Requests a long-polling pull parks are not counted (their
//! answer comes later, from another path).

use super::buckets::{Buckets, HistogramSeries};
use foldhash::HashMap;
use parking_lot::RwLock;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::registry::Registry;
use rmq_protocol::{request_code, response_code};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// RocketMQ 5's buckets (milliseconds).
static BUCKETS_MS: [f64; 9] = [1.0, 3.0, 5.0, 7.0, 10.0, 100.0, 1000.0, 2000.0, 3000.0];

/// One series' buckets: the bounds above and `+Inf`.
type Series = Buckets<10>;

/// Labels of one latency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// Always `remoting`.
    pub protocol_type: &'static str,
    /// The request code's lowercase name (`send_message`), or its number.
    pub request_code: &'static str,
    /// The response code's lowercase name (`success`, `system_error`), or its number.
    pub response_code: &'static str,
}

/// The latency histograms by (request code, response code), kept across scrapes. A request
/// takes a read lock and two atomic adds; a new pair of codes takes the write lock once.
#[derive(Default)]
pub struct RpcMetrics {
    series: RwLock<HashMap<(i32, i32), Arc<Series>>>,
}

impl RpcMetrics {
    /// Counts a request of `request` answered with `response` after `took`.
    pub fn record(&self, request: i32, response: i32, took: Duration) {
        let key = (request, response);
        if let Some(s) = self.series.read().get(&key) {
            s.observe(took);
            return;
        }
        let s = self
            .series
            .write()
            .entry(key)
            .or_insert_with(|| Arc::new(Series::new(&BUCKETS_MS)))
            .clone();
        s.observe(took);
    }

    /// Adds the histogram to a scrape's registry.
    pub fn register(&self, reg: &mut Registry) {
        let mut series: Vec<(RpcLabels, _)> = (self.series.read().iter())
            .map(|((request, response), s)| {
                let labels = RpcLabels {
                    protocol_type: "remoting",
                    request_code: lower(&REQUEST_NAMES, request_code::TABLE, *request),
                    response_code: lower(&RESPONSE_NAMES, response_code::TABLE, *response),
                };
                (labels, s.snapshot())
            })
            .collect();
        series.sort_by(|a, b| {
            (a.0.request_code, a.0.response_code).cmp(&(b.0.request_code, b.0.response_code))
        });
        reg.register(
            "rocketmq_rpc_latency",
            "time to answer a request (ms), by request and response code",
            HistogramSeries(series),
        );
    }
}

type Names = HashMap<i32, &'static str>;
static REQUEST_NAMES: OnceLock<Names> = OnceLock::new();
static RESPONSE_NAMES: OnceLock<Names> = OnceLock::new();

/// The lowercase name of `code` in `table`, made once into `names` and kept (a fixed set).
fn lower(names: &'static OnceLock<Names>, table: &[(i32, &str)], code: i32) -> &'static str {
    let names = names.get_or_init(|| {
        table
            .iter()
            .map(|(c, n)| {
                let lower: &'static str = Box::leak(n.to_ascii_lowercase().into_boxed_str());
                (*c, lower)
            })
            .collect()
    });
    names.get(&code).copied().unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_lowercase_code_names() {
        let m = RpcMetrics::default();
        m.record(
            request_code::SEND_MESSAGE,
            response_code::SUCCESS,
            Duration::from_millis(2),
        );
        m.record(
            request_code::SEND_MESSAGE,
            response_code::SUCCESS,
            Duration::from_millis(50),
        );
        m.record(9999, response_code::SYSTEM_ERROR, Duration::from_millis(1));
        let mut reg = Registry::default();
        m.register(&mut reg);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &reg).unwrap();
        let send =
            "protocol_type=\"remoting\",request_code=\"send_message\",response_code=\"success\"";
        assert!(
            text.contains(&format!("rocketmq_rpc_latency_count{{{send}}} 2")),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "rocketmq_rpc_latency_bucket{{le=\"3.0\",{send}}} 1"
            )),
            "{text}"
        );
        assert!(
            text.contains("request_code=\"unknown\",response_code=\"system_error\""),
            "{text}"
        );
    }
}
