//! `GET /metrics` of the nameserver (OpenMetrics text, prometheus-client): what it routes —
//! clusters, broker groups, live brokers by role, topics — and the requests it answered by
//! request and response code (route lookups, registrations, ...), so a dashboard shows a
//! nameserver that lost its brokers or clients asking for topics nobody serves.
//!
//! | metric | labels | value |
//! |---|---|---|
//! | `rocketmq_namesrv_clusters` | | clusters with at least one broker group |
//! | `rocketmq_namesrv_broker_groups` | | broker groups (broker names) |
//! | `rocketmq_namesrv_brokers` | role (`master`, `slave`) | live broker processes |
//! | `rocketmq_namesrv_topics` | | topics with a route |
//! | `rocketmq_namesrv_requests_total` | request_code, response_code | requests answered |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rmq_protocol::{request_code, response_code};

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The request code's name (`GET_ROUTEINFO_BY_TOPIC`), or `UNKNOWN`.
    pub request_code: &'static str,
    /// The response code's name (`SUCCESS`, `TOPIC_NOT_EXIST`), or `UNKNOWN`.
    pub response_code: &'static str,
}

/// Labels of the broker gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoleLabels {
    /// `master` or `slave`.
    pub role: &'static str,
}

/// What the route table holds at a scrape.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RouteCounts {
    /// Clusters.
    pub clusters: usize,
    /// Broker groups.
    pub groups: usize,
    /// Live masters.
    pub masters: usize,
    /// Live slaves.
    pub slaves: usize,
    /// Topics with a route.
    pub topics: usize,
}

/// The request counters, kept across scrapes.
#[derive(Clone, Default)]
pub struct NamesrvMetrics {
    requests: Family<RequestLabels, Counter>,
}

impl NamesrvMetrics {
    /// Counts a request of `request` answered with `response`.
    pub fn answered(&self, request: i32, response: i32) {
        let labels = RequestLabels {
            request_code: request_code::name(request),
            response_code: response_code::name(response),
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text: `routes` and the request counters.
    pub fn render(&self, routes: RouteCounts) -> String {
        let mut reg = Registry::default();
        for (name, help, v) in [
            (
                "rocketmq_namesrv_clusters",
                "clusters with a broker group",
                routes.clusters,
            ),
            (
                "rocketmq_namesrv_broker_groups",
                "broker groups (broker names)",
                routes.groups,
            ),
            (
                "rocketmq_namesrv_topics",
                "topics with a route",
                routes.topics,
            ),
        ] {
            let g = Gauge::<i64>::default();
            g.set(i64::try_from(v).unwrap_or(i64::MAX));
            reg.register(name, help, g);
        }
        let brokers = Family::<RoleLabels, Gauge>::default();
        for (role, n) in [("master", routes.masters), ("slave", routes.slaves)] {
            brokers
                .get_or_create(&RoleLabels { role })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        reg.register(
            "rocketmq_namesrv_brokers",
            "live broker processes, by role",
            brokers,
        );
        reg.register(
            "rocketmq_namesrv_requests",
            "requests answered, by request and response code",
            self.requests.clone(),
        );
        crate::http::encode_metrics(&reg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_requests_render() {
        let m = NamesrvMetrics::default();
        m.answered(request_code::GET_ROUTEINFO_BY_TOPIC, response_code::SUCCESS);
        m.answered(
            request_code::GET_ROUTEINFO_BY_TOPIC,
            response_code::TOPIC_NOT_EXIST,
        );
        m.answered(
            request_code::GET_ROUTEINFO_BY_TOPIC,
            response_code::TOPIC_NOT_EXIST,
        );
        let counts = RouteCounts {
            clusters: 1,
            groups: 2,
            masters: 2,
            slaves: 1,
            topics: 7,
        };
        let text = m.render(counts);
        assert!(text.contains("rocketmq_namesrv_topics 7"), "{text}");
        assert!(
            text.contains("rocketmq_namesrv_brokers{role=\"slave\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("rocketmq_namesrv_requests_total{request_code=\"GET_ROUTEINFO_BY_TOPIC\",response_code=\"TOPIC_NOT_EXIST\"} 2"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
