//! `scale:TOPICS:GROUPS:RATE`: the broker's memory and CPU with many topics and consumer groups,
//! set up through the requests every broker serves, as clients and admin tools make them:
//!
//! 1. the broker's RSS before (`baseRssKb`, `baseRssAnonKb`);
//! 2. TOPICS topics (`<topic>Scale0000`..) of `--queues` queues by UPDATE_AND_CREATE_TOPIC, each
//!    until the nameserver routes it (`createTopicsMs`); GROUPS groups (`bench_scale_000`..) by
//!    UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (`createGroupsMs`);
//! 3. the consumers: group `g` subscribes to every topic `i` with `i % GROUPS == g` (so every
//!    topic has one group), announced by HEART_BEAT every 20 s as push consumers
//!    (CONSUME_PASSIVELY, CLUSTERING), and one long-polling pull loop per queue of each of its
//!    topics (held up to 15 s, storing its offset with every pull, as the Java push consumer);
//! 4. idle: `--settle-ms` of quiet, then over `--measure-ms` the broker's CPU (`idleCpuPct`) and
//!    RSS at its end (`idleRssKb`, `idleRssAnonKb`);
//! 5. under load: RATE messages/s of 128 B offered on a fixed schedule round robin over every
//!    queue of every topic while the groups consume (`--warmup-ms`, then the measured window:
//!    `tps` acknowledged, `consumedTps`, `brokerCpuPct`, `brokerRssMaxKb`, ...).

use crate::client::{PullOpts, now_ms, queues_of};
use crate::json::Obj;
use crate::load::{Load, create_topics};
use crate::pace::{Schedule, Sub, Target, pace, spawn_pullers};
use crate::phases::{body, failed};
use crate::procfs::Proc;
use crate::window::{Errors, Measured};
use bytes::Bytes;
use rmq_protocol::body::heartbeat::{ConsumerData, HeartbeatData, SubscriptionData};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Body bytes of the load's messages.
const SIZE: usize = 128;
/// How often the consumer groups are announced (the Java client: every 30 s).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(20);
/// The pulls: as the Java push consumer's (32 messages, held up to 15 s).
const PULLS: PullOpts = PullOpts {
    max: 32,
    suspend: Duration::from_secs(15),
    commit: None,
};

/// The topics, the groups and what each group reads.
struct Setup {
    targets: Vec<Target>,
    subs: Vec<Sub>,
    heartbeat: HeartbeatData,
}

/// The heartbeat of `groups` push consumers, group `g` subscribed to `topics[i]` for every `i`
/// with `i % groups.len() == g`.
fn heartbeat(groups: &[Arc<str>], topics: &[String]) -> HeartbeatData {
    let consumers = groups.iter().enumerate().map(|(g, name)| ConsumerData {
        group_name: name.to_string(),
        consume_type: "CONSUME_PASSIVELY".into(),
        message_model: "CLUSTERING".into(),
        consume_from_where: "CONSUME_FROM_FIRST_OFFSET".into(),
        subscription_data_set: topics
            .iter()
            .skip(g)
            .step_by(groups.len())
            .map(|t| SubscriptionData::from_expression(t, "*", now_ms()))
            .collect(),
        unit_mode: false,
    });
    HeartbeatData {
        client_id: format!("127.0.0.1@bench-s-{}", std::process::id()),
        consumer_data_set: consumers.collect(),
        ..HeartbeatData::default()
    }
}

impl Load {
    /// `scale:TOPICS:GROUPS:RATE` (see the module doc).
    pub async fn scale(&self, topics: usize, groups: usize, rate: f64) -> Obj {
        let mut o = Obj::phase("scale");
        o.set("topics", topics);
        o.set("groups", groups);
        o.set("queues", self.queues);
        o.set("rate", rate);
        o.set("size", SIZE);
        let Some(p) = self.broker_proc.clone() else {
            return failed(
                o,
                "no broker pid (--broker-pid or --broker-pid-file)".into(),
            );
        };
        let (rss, anon) = p.rss_kb();
        o.set("baseRssKb", rss);
        o.set("baseRssAnonKb", anon);
        let setup = match self.scale_setup(&mut o, topics, groups).await {
            Ok(s) => s,
            Err(e) => return failed(o, e),
        };
        let (rmq, hb) = (self.rmq.clone(), setup.heartbeat);
        let broker = self.broker.clone();
        if let Err(e) = rmq.heartbeat(&broker, &hb).await {
            return failed(o, e);
        }
        let beats = tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT_EVERY).await;
                // a failed heartbeat is retried at the next; the pulls go on regardless
                let _ = rmq.heartbeat(&broker, &hb).await;
            }
        });
        let errors = Arc::new(Errors::default());
        let consumed = Arc::new(AtomicU64::new(0));
        let c = consumed.clone();
        let sink = Arc::new(move |b: &[Bytes]| {
            c.fetch_add(b.len() as u64, Ordering::Relaxed);
        });
        let pullers = spawn_pullers(&self.rmq, setup.subs, PULLS, true, &errors, sink);
        tokio::time::sleep(self.settle).await;
        o.set("settleMs", self.settle.as_millis() as u64);
        self.idle_sample(&p, &mut o).await;
        self.scale_load(&mut o, &setup.targets, rate, &consumed, &errors)
            .await;
        drop(pullers);
        beats.abort();
        o
    }

    /// Creates the topics and the groups; what to send to and what to pull.
    async fn scale_setup(
        &self,
        o: &mut Obj,
        topics: usize,
        groups: usize,
    ) -> Result<Setup, String> {
        let names: Vec<String> = (0..topics)
            .map(|i| format!("{}Scale{i:04}", self.topic))
            .collect();
        let t0 = Instant::now();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = create_topics(
            &self.rmq,
            &self.broker,
            &refs,
            self.queues,
            self.phase_timeout,
        )
        .await;
        if !t.ok() {
            return Err(t.text("error").unwrap_or("topics not created").to_owned());
        }
        o.set("createTopicsMs", t0.elapsed().as_millis() as u64);
        let t0 = Instant::now();
        let group_names: Vec<Arc<str>> = (0..groups)
            .map(|g| format!("bench_scale_{g:03}").into())
            .collect();
        for g in &group_names {
            self.rmq.create_group(&self.broker, g).await?;
        }
        o.set("createGroupsMs", t0.elapsed().as_millis() as u64);
        let (mut targets, mut subs) = (Vec::new(), Vec::new());
        for (i, name) in names.iter().enumerate() {
            let route = self.rmq.route(name).await?;
            let topic: Arc<str> = name.as_str().into();
            let group = &group_names[i % groups];
            targets.extend(queues_of(&route, true).into_iter().map(|queue| Target {
                topic: topic.clone(),
                queue,
            }));
            subs.extend(queues_of(&route, false).into_iter().map(|queue| Sub {
                group: group.clone(),
                topic: topic.clone(),
                queue,
            }));
        }
        let heartbeat = heartbeat(&group_names, &names);
        Ok(Setup {
            targets,
            subs,
            heartbeat,
        })
    }

    /// The idle broker over `--measure-ms`: CPU, and RSS at the end.
    async fn idle_sample(&self, p: &Proc, o: &mut Obj) {
        let c0 = p.cpu_seconds();
        tokio::time::sleep(self.measure).await;
        let (rss, anon) = p.rss_kb();
        o.set("idleRssKb", rss);
        o.set("idleRssAnonKb", anon);
        if let (Some(a), Some(b)) = (c0, p.cpu_seconds()) {
            o.set(
                "idleCpuPct",
                (b - a) / self.measure.as_secs_f64().max(1e-9) * 100.0,
            );
        }
    }

    /// RATE messages/s over every queue of every topic while the groups consume.
    async fn scale_load(
        &self,
        o: &mut Obj,
        targets: &[Target],
        rate: f64,
        consumed: &AtomicU64,
        errors: &Errors,
    ) {
        let s = Schedule::new(rate, self.warmup, self.measure);
        let template = body(SIZE);
        let probe = self.probe();
        let (paced, (window, c0), c1) = tokio::join!(
            pace(
                &self.rmq,
                targets,
                &s,
                self.max_open_inflight,
                errors,
                |_| template.clone()
            ),
            async {
                tokio::time::sleep_until(s.start.into()).await;
                (probe.begin().await, consumed.load(Ordering::Relaxed))
            },
            async {
                tokio::time::sleep_until(s.end.into()).await;
                consumed.load(Ordering::Relaxed)
            }
        );
        let secs = self.measure.as_secs_f64();
        let paced = paced.unwrap_or_else(|e| {
            errors.add(&e);
            Default::default()
        });
        let m = Measured {
            msgs: paced.acked_by_end,
            size: SIZE,
            secs,
            rss_peak: None,
        };
        probe.finish(window, o, m, None, errors).await;
        o.set("offered", paced.offered);
        o.set("offeredTps", paced.offered as f64 / secs.max(1e-9));
        o.set("consumedTps", c1.saturating_sub(c0) as f64 / secs.max(1e-9));
        o.set("lagMaxMs", paced.lag_max.as_secs_f64() * 1e3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_has_one_group() {
        let groups: Vec<Arc<str>> = vec!["g0".into(), "g1".into(), "g2".into()];
        let topics: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
        let hb = heartbeat(&groups, &topics);
        let subs: Vec<Vec<&str>> = hb
            .consumer_data_set
            .iter()
            .map(|c| {
                c.subscription_data_set
                    .iter()
                    .map(|s| s.topic.as_str())
                    .collect()
            })
            .collect();
        assert_eq!(
            subs,
            vec![vec!["t0", "t3", "t6"], vec!["t1", "t4"], vec!["t2", "t5"]]
        );
        assert_eq!(hb.consumer_data_set[1].consume_type, "CONSUME_PASSIVELY");
        let json = String::from_utf8(rmq_protocol::body::to_json(&hb)).unwrap();
        assert!(json.contains(r#""clientID":"127.0.0.1@bench-s-"#), "{json}");
    }
}
