//! From the scrapes of one round (and each endpoint's previous counters) to the report: one row
//! per topic and per group and topic, summed over broker groups, rates = counter change over
//! the time between two scrapes of the same endpoint (a counter that went down was reset by a
//! restart and counts from 0).
//!
//! A master and its slaves export the same `broker` label: offsets and lag of a broker group are
//! taken from its master when it was scraped (else from the replica furthest ahead), so a
//! replicated topic is not counted twice; traffic counters are per process (a slave serving
//! reads counts them) and are summed.

use super::reading::{Counter, CounterKey, GroupGauges, GroupKey, Reading, TopicKey};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The role of a scraped broker; the order is the preference for offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// brokerId 0.
    Master,
    /// Scraped by `--metrics` URL: not known.
    Unknown,
    /// brokerId > 0.
    Slave,
}

/// One endpoint's result in a round.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The endpoint's URL (empty when it could not be found).
    pub url: String,
    /// Cluster, from the nameserver (empty when scraped by URL: then read from the series).
    pub cluster: String,
    /// brokerName, likewise.
    pub broker: String,
    /// The broker's remoting address, when known.
    pub address: String,
    /// Master, slave or unknown.
    pub role: Role,
    /// What it served, or why it could not be read.
    pub result: Result<Reading, String>,
    /// The same endpoint's counters one scrape earlier and the seconds since then.
    pub previous: Option<Previous>,
}

/// Counters of an endpoint's previous scrape.
#[derive(Debug, Clone, Default)]
pub struct Previous {
    /// Seconds between that scrape and this one.
    pub seconds: f64,
    /// Its counters.
    pub counters: BTreeMap<CounterKey, f64>,
}

/// What to show.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only this cluster.
    pub cluster: Option<String>,
    /// Also system topics and groups.
    pub all: bool,
}

/// A scraped broker and whether it is ready (or why it could not be scraped).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerLine {
    /// Cluster.
    pub cluster: String,
    /// brokerName.
    pub broker: String,
    /// Master, slave or unknown.
    pub role: Role,
    /// Remoting address, when known.
    pub address: String,
    /// The metrics URL.
    pub metrics: String,
    /// `rmq_broker_ready`; `None` when not scraped or not exported.
    pub ready: Option<bool>,
    /// Why it could not be scraped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One topic over every broker group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRow {
    /// Cluster.
    pub cluster: String,
    /// Topic.
    pub topic: String,
    /// Messages ever stored (producer offsets summed over broker groups).
    pub stored: u64,
    /// Messages stored per second.
    pub in_msgs_per_sec: f64,
    /// Bytes stored per second.
    pub in_bytes_per_sec: f64,
    /// Messages handed to consumers per second (all groups).
    pub out_msgs_per_sec: f64,
}

/// One consumer group on one topic over every broker group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRow {
    /// Cluster.
    pub cluster: String,
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Messages stored and not yet consumed (committed).
    pub lag: u64,
    /// Age of the oldest unconsumed message, ms (0 when caught up).
    pub time_lag_ms: u64,
    /// Messages handed to the group per second.
    pub out_msgs_per_sec: f64,
    /// Messages the group sent back for a retry since the brokers started.
    pub retries: u64,
}

/// `get metrics` / one frame of `top`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Every endpoint, scraped or not.
    pub brokers: Vec<BrokerLine>,
    /// Topics, busiest first.
    pub topics: Vec<TopicRow>,
    /// Groups per topic, most behind first.
    pub groups: Vec<GroupRow>,
}

/// Which clusters, topics and groups are shown.
struct Filter<'a> {
    opts: &'a Options,
    /// Topics named after a cluster or broker group.
    hidden: BTreeSet<String>,
}

impl Filter<'_> {
    fn cluster(&self, cluster: &str) -> bool {
        self.opts.cluster.as_deref().is_none_or(|c| c == cluster)
    }

    fn topic(&self, cluster: &str, topic: &str) -> bool {
        self.cluster(cluster)
            && (self.opts.all
                || !(self.hidden.contains(topic) || crate::hidden::is_system_topic(topic)))
    }

    fn group(&self, cluster: &str, group: &str, topic: &str) -> bool {
        !group.is_empty()
            && self.topic(cluster, topic)
            && (self.opts.all || !crate::hidden::is_system_group(group))
    }
}

/// The report of one round.
pub fn report(scrapes: &[Scrape], opts: &Options) -> Report {
    let filter = Filter {
        opts,
        hidden: hidden_names(scrapes),
    };
    let (stored, groups) = best_gauges(scrapes);
    let (rates, totals) = counter_rates(scrapes);
    Report {
        brokers: broker_lines(scrapes, &filter),
        topics: topic_rows(&stored, &rates, &filter),
        groups: group_rows(&groups, &rates, &totals, &filter),
    }
}

/// One row per (cluster, topic): stored messages and rates, busiest first.
fn topic_rows(
    stored: &BTreeMap<TopicKey, f64>,
    rates: &BTreeMap<RateKey, f64>,
    filter: &Filter<'_>,
) -> Vec<TopicRow> {
    let mut topics: BTreeMap<(String, String), TopicRow> = BTreeMap::new();
    for (k, v) in stored {
        if let Some(r) = topic_entry(&mut topics, filter, &k.cluster, &k.topic) {
            r.stored += count(*v);
        }
    }
    for ((counter, c, t, _), rate) in rates {
        if let Some(r) = topic_entry(&mut topics, filter, c, t) {
            match counter {
                Counter::MessagesIn => r.in_msgs_per_sec += rate,
                Counter::BytesIn => r.in_bytes_per_sec += rate,
                Counter::MessagesOut => r.out_msgs_per_sec += rate,
                Counter::SendBack => {}
            }
        }
    }
    sorted_topics(topics.into_values().collect())
}

/// One row per (cluster, group, topic): lag, rate out, retries, most behind first.
fn group_rows(
    groups: &BTreeMap<GroupKey, GroupGauges>,
    rates: &BTreeMap<RateKey, f64>,
    send_back: &BTreeMap<SendBackKey, f64>,
    filter: &Filter<'_>,
) -> Vec<GroupRow> {
    let mut rows: BTreeMap<(String, String, String), GroupRow> = BTreeMap::new();
    for (k, gauges) in groups {
        if let Some(r) = group_entry(&mut rows, filter, &k.cluster, &k.group, &k.topic) {
            r.lag += count(gauges.lag);
            r.time_lag_ms = r.time_lag_ms.max(count(gauges.lag_ms));
        }
    }
    for ((counter, c, t, g), rate) in rates {
        if *counter == Counter::MessagesOut
            && let Some(r) = group_entry(&mut rows, filter, c, g, t)
        {
            r.out_msgs_per_sec += rate;
        }
    }
    for ((c, t, g), total) in send_back {
        if let Some(r) = group_entry(&mut rows, filter, c, g, t) {
            r.retries += count(*total);
        }
    }
    sorted_groups(rows.into_values().collect())
}

/// The row of topic `t` in cluster `c`, created empty; `None` when it is not shown.
fn topic_entry<'m>(
    rows: &'m mut BTreeMap<(String, String), TopicRow>,
    filter: &Filter<'_>,
    c: &str,
    t: &str,
) -> Option<&'m mut TopicRow> {
    if !filter.topic(c, t) {
        return None;
    }
    let key = (c.to_owned(), t.to_owned());
    Some(rows.entry(key).or_insert_with(|| TopicRow {
        cluster: c.to_owned(),
        topic: t.to_owned(),
        stored: 0,
        in_msgs_per_sec: 0.0,
        in_bytes_per_sec: 0.0,
        out_msgs_per_sec: 0.0,
    }))
}

/// The row of group `g` on topic `t` in cluster `c`, created empty; `None` when not shown.
fn group_entry<'m>(
    rows: &'m mut BTreeMap<(String, String, String), GroupRow>,
    filter: &Filter<'_>,
    c: &str,
    g: &str,
    t: &str,
) -> Option<&'m mut GroupRow> {
    if !filter.group(c, g, t) {
        return None;
    }
    let key = (c.to_owned(), g.to_owned(), t.to_owned());
    Some(rows.entry(key).or_insert_with(|| GroupRow {
        cluster: c.to_owned(),
        group: g.to_owned(),
        topic: t.to_owned(),
        lag: 0,
        time_lag_ms: 0,
        out_msgs_per_sec: 0.0,
        retries: 0,
    }))
}

/// A gauge or counter value as a whole count (negative and NaN as 0).
fn count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round() as u64
    } else {
        0
    }
}

/// Topics named after a cluster or broker group (Java brokers create them).
fn hidden_names(scrapes: &[Scrape]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for s in scrapes {
        names.insert(s.cluster.clone());
        names.insert(s.broker.clone());
        if let Ok(r) = &s.result {
            for (c, b) in r.ready.keys() {
                names.insert(c.clone());
                names.insert(b.clone());
            }
        }
    }
    names
}

/// Offsets per topic and group of each broker group, from the preferred replica.
fn best_gauges(scrapes: &[Scrape]) -> (BTreeMap<TopicKey, f64>, BTreeMap<GroupKey, GroupGauges>) {
    let mut stored: BTreeMap<TopicKey, (Role, f64)> = BTreeMap::new();
    let mut groups: BTreeMap<GroupKey, (Role, GroupGauges)> = BTreeMap::new();
    for s in scrapes {
        let Ok(r) = &s.result else { continue };
        for (k, v) in &r.stored {
            let e = stored.entry(k.clone()).or_insert((s.role, *v));
            if s.role < e.0 || (s.role == e.0 && *v > e.1) {
                *e = (s.role, *v);
            }
        }
        for (k, g) in &r.groups {
            let e = groups.entry(k.clone()).or_insert((s.role, *g));
            if s.role < e.0 || (s.role == e.0 && g.committed > e.1.committed) {
                *e = (s.role, *g);
            }
        }
    }
    (
        stored.into_iter().map(|(k, (_, v))| (k, v)).collect(),
        groups.into_iter().map(|(k, (_, g))| (k, g)).collect(),
    )
}

/// (counter, cluster, topic, group).
type RateKey = (Counter, String, String, String);

/// (cluster, topic, group).
type SendBackKey = (String, String, String);

/// Per-second rates of every counter summed over endpoints, and the send-back totals per
/// (cluster, topic, group).
fn counter_rates(scrapes: &[Scrape]) -> (BTreeMap<RateKey, f64>, BTreeMap<SendBackKey, f64>) {
    let mut rates: BTreeMap<RateKey, f64> = BTreeMap::new();
    let mut totals = BTreeMap::new();
    for s in scrapes {
        let Ok(r) = &s.result else { continue };
        for (k, v) in &r.counters {
            let (c, t, g) = (&k.topic.cluster, &k.topic.topic, &k.group);
            if k.counter == Counter::SendBack {
                *totals.entry((c.clone(), t.clone(), g.clone())).or_default() += v;
            }
            let rate = s
                .previous
                .as_ref()
                .map_or(0.0, |p| rate(p.counters.get(k).copied(), *v, p.seconds));
            *rates
                .entry((k.counter, c.clone(), t.clone(), g.clone()))
                .or_default() += rate;
        }
    }
    (rates, totals)
}

/// The per-second rate of a counter that was `before` (`None`: the series is new, so 0) and is
/// now `now`, `seconds` later; a counter that went down restarted from 0.
pub fn rate(before: Option<f64>, now: f64, seconds: f64) -> f64 {
    if seconds <= 0.0 || !now.is_finite() {
        return 0.0;
    }
    let before = before.filter(|b| b.is_finite()).unwrap_or(0.0);
    let delta = if now >= before { now - before } else { now };
    delta / seconds
}

/// One line per endpoint, masters first.
fn broker_lines(scrapes: &[Scrape], filter: &Filter<'_>) -> Vec<BrokerLine> {
    let mut lines: Vec<BrokerLine> = scrapes
        .iter()
        .map(|s| {
            let (reading, error) = match &s.result {
                Ok(r) => (Some(r), None),
                Err(e) => (None, Some(e.clone())),
            };
            let (cluster, broker) = match reading.and_then(Reading::identity) {
                Some(id) if s.broker.is_empty() => id,
                _ => (s.cluster.clone(), s.broker.clone()),
            };
            let ready = reading.and_then(|r| r.ready.values().next().copied());
            BrokerLine {
                cluster,
                broker,
                role: s.role,
                address: s.address.clone(),
                metrics: s.url.clone(),
                ready,
                error,
            }
        })
        .filter(|l| l.cluster.is_empty() || filter.cluster(&l.cluster))
        .collect();
    lines.sort_by(|a, b| {
        (&a.cluster, &a.broker, a.role, &a.metrics)
            .cmp(&(&b.cluster, &b.broker, b.role, &b.metrics))
    });
    lines
}

/// Busiest first (messages in per second), then most stored, then by name.
fn sorted_topics(mut rows: Vec<TopicRow>) -> Vec<TopicRow> {
    rows.sort_by(|a, b| {
        b.in_msgs_per_sec
            .total_cmp(&a.in_msgs_per_sec)
            .then(b.stored.cmp(&a.stored))
            .then_with(|| (&a.cluster, &a.topic).cmp(&(&b.cluster, &b.topic)))
    });
    rows
}

/// Most behind first (messages, then time), then by name.
fn sorted_groups(mut rows: Vec<GroupRow>) -> Vec<GroupRow> {
    rows.sort_by(|a, b| {
        b.lag
            .cmp(&a.lag)
            .then(b.time_lag_ms.cmp(&a.time_lag_ms))
            .then_with(|| (&a.cluster, &a.group, &a.topic).cmp(&(&b.cluster, &b.group, &b.topic)))
    });
    rows
}

#[cfg(test)]
#[path = "aggregate_tests.rs"]
mod tests;
