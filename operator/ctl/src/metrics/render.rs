//! The report as text: one line per broker (ready or why it could not be scraped), then the
//! topic table and the group table. A CLUSTER column appears when rows of several clusters do.

use super::aggregate::{BrokerLine, GroupRow, Report, Role, TopicRow};
use crate::output::Table;

/// The three tables of a report, separated by blank lines.
pub fn render(report: &Report) -> String {
    let clusters: std::collections::BTreeSet<&str> = report
        .topics
        .iter()
        .map(|t| t.cluster.as_str())
        .chain(report.groups.iter().map(|g| g.cluster.as_str()))
        .collect();
    let many = clusters.len() > 1;
    let mut out = brokers(&report.brokers);
    out.push('\n');
    out.push_str(&topics(&report.topics, many));
    out.push('\n');
    out.push_str(&groups(&report.groups, many));
    out
}

fn brokers(lines: &[BrokerLine]) -> String {
    if lines.is_empty() {
        return "no broker found\n".into();
    }
    let mut t = Table::new(&["BROKER", "ROLE", "ADDRESS", "METRICS", "READY"]);
    for l in lines {
        let name = match (l.cluster.as_str(), l.broker.as_str()) {
            (_, "") => "?".to_owned(),
            ("", b) => b.to_owned(),
            (c, b) => format!("{c}/{b}"),
        };
        let ready = match (&l.error, l.ready) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(true)) => "yes".into(),
            (None, Some(false)) => "NO".into(),
            (None, None) => "-".into(),
        };
        let role = match l.role {
            Role::Master => "master",
            Role::Slave => "slave",
            Role::Unknown => "-",
        };
        t.row(vec![
            name,
            role.into(),
            dash(&l.address),
            dash(&l.metrics),
            ready,
        ]);
    }
    t.render()
}

fn topics(rows: &[TopicRow], cluster: bool) -> String {
    if rows.is_empty() {
        return "no topics\n".into();
    }
    let mut t = Table::new(&with_cluster(
        cluster,
        &["TOPIC", "STORED", "IN MSG/S", "IN B/S", "OUT MSG/S"],
    ));
    for r in rows {
        let mut cells = vec![
            r.topic.clone(),
            r.stored.to_string(),
            per_second(r.in_msgs_per_sec),
            bytes_per_second(r.in_bytes_per_sec),
            per_second(r.out_msgs_per_sec),
        ];
        if cluster {
            cells.insert(0, r.cluster.clone());
        }
        t.row(cells);
    }
    t.render()
}

fn groups(rows: &[GroupRow], cluster: bool) -> String {
    if rows.is_empty() {
        return "no consumer groups\n".into();
    }
    let mut t = Table::new(&with_cluster(
        cluster,
        &["GROUP", "TOPIC", "LAG", "TIME LAG", "OUT MSG/S", "RETRIES"],
    ));
    for r in rows {
        let mut cells = vec![
            r.group.clone(),
            r.topic.clone(),
            r.lag.to_string(),
            age(r.time_lag_ms),
            per_second(r.out_msgs_per_sec),
            r.retries.to_string(),
        ];
        if cluster {
            cells.insert(0, r.cluster.clone());
        }
        t.row(cells);
    }
    t.render()
}

fn with_cluster<'a>(cluster: bool, headers: &[&'a str]) -> Vec<&'a str> {
    let mut h = headers.to_vec();
    if cluster {
        h.insert(0, "CLUSTER");
    }
    h
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_owned()
    }
}

/// A rate: one decimal below 100, whole numbers above.
pub fn per_second(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Bytes per second in B, KiB, MiB or GiB.
pub fn bytes_per_second(v: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = v;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

/// An age in ms as `0`, `850ms`, `12.3s`, `5m02s` or `3h04m`.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0 => "0".into(),
        1..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(per_second(0.0), "0.0");
        assert_eq!(per_second(12.345), "12.3");
        assert_eq!(per_second(1234.6), "1235");
        assert_eq!(bytes_per_second(512.0), "512");
        assert_eq!(bytes_per_second(1536.0), "1.5KiB");
        assert_eq!(bytes_per_second(3.0 * 1024.0 * 1024.0), "3.0MiB");
        assert_eq!(age(0), "0");
        assert_eq!(age(850), "850ms");
        assert_eq!(age(12_345), "12.3s");
        assert_eq!(age(302_000), "5m02s");
        assert_eq!(age(3 * 3_600_000 + 4 * 60_000), "3h04m");
    }

    fn report(clusters: &[&str]) -> Report {
        Report {
            brokers: vec![
                BrokerLine {
                    cluster: "c".into(),
                    broker: "broker-a".into(),
                    role: Role::Master,
                    address: "127.0.0.1:10911".into(),
                    metrics: "http://127.0.0.1:10918/metrics".into(),
                    ready: Some(true),
                    error: None,
                },
                BrokerLine {
                    cluster: String::new(),
                    broker: String::new(),
                    role: Role::Unknown,
                    address: String::new(),
                    metrics: "http://127.0.0.1:1/metrics".into(),
                    ready: None,
                    error: Some("cannot connect".into()),
                },
            ],
            topics: clusters
                .iter()
                .map(|c| TopicRow {
                    cluster: (*c).into(),
                    topic: "orders".into(),
                    stored: 150,
                    in_msgs_per_sec: 2.5,
                    in_bytes_per_sec: 2048.0,
                    out_msgs_per_sec: 0.0,
                })
                .collect(),
            groups: vec![GroupRow {
                cluster: clusters[0].into(),
                group: "billing".into(),
                topic: "orders".into(),
                lag: 30,
                time_lag_ms: 4200,
                out_msgs_per_sec: 1.0,
                retries: 2,
            }],
        }
    }

    #[test]
    fn brokers_topics_and_groups_tables() {
        let text = render(&report(&["c"]));
        let want = "\
BROKER      ROLE    ADDRESS          METRICS                         READY
c/broker-a  master  127.0.0.1:10911  http://127.0.0.1:10918/metrics  yes
?           -       -                http://127.0.0.1:1/metrics      error: cannot connect

TOPIC   STORED  IN MSG/S  IN B/S  OUT MSG/S
orders  150     2.5       2.0KiB  0.0

GROUP    TOPIC   LAG  TIME LAG  OUT MSG/S  RETRIES
billing  orders  30   4.2s      1.0        2
";
        assert_eq!(text, want);
        let two = render(&report(&["c", "d"]));
        assert!(two.contains("CLUSTER  TOPIC"), "{two}");
        assert!(two.contains("d        orders"), "{two}");
        let empty = render(&Report {
            brokers: vec![],
            topics: vec![],
            groups: vec![],
        });
        assert_eq!(
            empty,
            "no broker found\n\nno topics\n\nno consumer groups\n"
        );
    }
}
