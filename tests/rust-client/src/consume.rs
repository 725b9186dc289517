//! `pull` (DefaultLitePullConsumer: subscribe + poll, auto-commit; offsets committed on exit) and
//! `consume` (DefaultMQPushConsumer with a concurrent listener). Same result fields as the Java/Go
//! harnesses' recorder.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rocketmq_client_rust::{
    ClientResult, ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, DefaultLitePullConsumer,
    DefaultMQPushConsumer, MQPushConsumer, MessageListenerConcurrently,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
use rocketmq_model::common::message::MessageTrait;
use rocketmq_model::common::message::message_ext::MessageExt;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
use serde_json::json;

use crate::bodies::{missing, parse_body, ranges};
use crate::cli::{self, COMMON, Common, Kind, Outcome};
use crate::report::Ctx;

const SPEC_PULL: &[(&str, Kind)] = &[
    ("expect", Kind::Value),
    ("tag", Kind::Value),
    ("from", Kind::Value),
    ("linger-ms", Kind::Value),
    ("pull-batch", Kind::Value),
    ("shards", Kind::Value),
    ("broadcast", Kind::Flag),
    ("sql", Kind::Unsupported),
];

const SPEC_PUSH: &[(&str, Kind)] = &[
    ("consume-threads", Kind::Value),
    ("orderly", Kind::Unsupported),
    ("reconsume-later", Kind::Unsupported),
    ("retry-delay-level", Kind::Unsupported),
    ("max-reconsume-times", Kind::Value),
];

struct Opts {
    c: Common,
    expect: i64,
    tag: String,
    from: ConsumeFromWhere,
    linger: Duration,
    pull_batch: i64,
    shards: i64,
    broadcast: bool,
    threads: i64,
    max_reconsume: Option<i32>,
}

fn parse(args: &[String], pull: bool) -> Result<Opts, Outcome> {
    let mut spec: Vec<(&str, Kind)> = COMMON.iter().chain(SPEC_PULL).copied().collect();
    if !pull {
        spec.extend_from_slice(SPEC_PUSH);
    }
    let o = cli::parse(args, &spec)?;
    let expect = o.required_int("expect", 0, 50_000_000)?;
    let from = match o.str_or("from", "first").as_str() {
        "first" => ConsumeFromWhere::ConsumeFromFirstOffset,
        "last" => ConsumeFromWhere::ConsumeFromLastOffset,
        f if f.starts_with("timestamp:") => {
            return Err(Outcome::Unsupported(
                "--from timestamp:<ms> is not implemented by the Rust harness".into(),
            ));
        }
        _ => {
            return Err(Outcome::Usage(
                "--from must be first|last|timestamp:<epoch-ms>".into(),
            ));
        }
    };
    let broadcast = o.flag("broadcast");
    if pull && broadcast {
        return Err(Outcome::Unsupported(
            "pull --broadcast is not implemented by the Rust harness".into(),
        ));
    }
    Ok(Opts {
        expect,
        tag: o.str_or("tag", "*"),
        from,
        linger: Duration::from_millis(o.int("linger-ms", 0, 0, 600_000)? as u64),
        pull_batch: o.int("pull-batch", 0, 0, 1024)?,
        shards: o.int("shards", 0, 0, 1_000_000)?,
        broadcast,
        threads: o.int("consume-threads", 0, 0, 1000)?,
        max_reconsume: o
            .has("max-reconsume-times")
            .then(|| o.int("max-reconsume-times", 16, -1, 10_000))
            .transpose()?
            .map(|v| v as i32),
        c: Common::from(&o, "", 60_000)?,
    })
}

/// What a consumer saw.
struct Recorder {
    ctx: Arc<Ctx>,
    prefix: String,
    shards: i64,
    st: Mutex<State>,
}

struct State {
    consumed: BTreeSet<i64>,
    seen: BTreeSet<i64>,
    received: i64,
    foreign: i64,
    corrupt: i64,
    order_violations: i64,
    min_age: i64,
    max_age: i64,
    first_at: i64,
    tags: BTreeMap<String, i64>,
    queues: BTreeMap<String, i64>,
    reconsume: BTreeMap<String, i64>,
    shard_max: BTreeMap<i64, i64>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Recorder {
    fn new(ctx: Arc<Ctx>, prefix: &str, shards: i64) -> Self {
        Recorder {
            ctx,
            prefix: prefix.to_owned(),
            shards,
            st: Mutex::new(State {
                consumed: BTreeSet::new(),
                seen: BTreeSet::new(),
                received: 0,
                foreign: 0,
                corrupt: 0,
                order_violations: 0,
                min_age: i64::MAX,
                max_age: i64::MIN,
                first_at: -1,
                tags: BTreeMap::new(),
                queues: BTreeMap::new(),
                reconsume: BTreeMap::new(),
                shard_max: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self, m: &MessageExt) {
        let now = now_ms();
        let body = m.body().unwrap_or_default();
        let (idx, corrupt) = parse_body(&body, &self.prefix);
        let tag = m.get_tags().map(|t| t.to_string()).unwrap_or_default();
        let keys = m.get_keys().map(|t| t.to_string()).unwrap_or_default();
        let (bn, qid) = (m.broker_name().to_owned(), m.queue_id());
        let mut s = self.lock();
        s.received += 1;
        if s.first_at < 0 {
            s.first_at = self.ctx.elapsed_ms();
        }
        *s.tags.entry(tag.clone()).or_default() += 1;
        *s.queues.entry(format!("{bn}/{qid}")).or_default() += 1;
        *s.reconsume
            .entry(m.reconsume_times().to_string())
            .or_default() += 1;
        let age = now - m.born_timestamp();
        s.min_age = s.min_age.min(age);
        s.max_age = s.max_age.max(age);
        if idx < 0 {
            s.foreign += 1;
        } else {
            if corrupt {
                s.corrupt += 1;
            }
            if self.shards > 0 && !s.seen.contains(&idx) {
                let shard = idx % self.shards;
                let mx = s.shard_max.get(&shard).copied();
                if mx.is_some_and(|mx| idx < mx) {
                    s.order_violations += 1;
                }
                if mx.is_none_or(|mx| idx > mx) {
                    s.shard_max.insert(shard, idx);
                }
            }
            s.seen.insert(idx);
            if !corrupt {
                s.consumed.insert(idx);
            }
        }
        drop(s);
        self.ctx.record(|| {
            format!(
                "{idx}\t{}\t{}\t{bn}\t{qid}\t{}\t{}\t{tag}\t{keys}\tok\t{}",
                m.msg_id(),
                m.msg_id(),
                m.queue_offset(),
                m.reconsume_times(),
                m.topic()
            )
        });
    }

    fn distinct(&self) -> i64 {
        self.lock().consumed.len() as i64
    }
}

struct Listener(Arc<Recorder>);

impl MessageListenerConcurrently for Listener {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> ClientResult<ConsumeConcurrentlyStatus> {
        for m in msgs {
            self.0.deliver(m);
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// Waits until `expect` distinct bodies arrived (then lingers) or the deadline passed; returns
/// `timed_out`.
async fn wait_for(r: &Recorder, o: &Opts, deadline: Instant) -> bool {
    loop {
        if o.expect > 0 && r.distinct() >= o.expect {
            let l = o
                .linger
                .min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(l).await;
            return false;
        }
        if Instant::now() >= deadline {
            return o.expect > 0;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn run(args: &[String], pull: bool) -> Outcome {
    let name = if pull { "pull" } else { "consume" };
    let o = match parse(args, pull) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let ctx = Arc::new(Ctx::new());
    if let Err(e) = ctx.open_records(o.c.out.as_deref()) {
        return Outcome::Fatal(e);
    }
    let rt = match crate::Rt::new() {
        Ok(rt) => rt,
        Err(e) => return Outcome::Fatal(e),
    };
    let deadline = Instant::now() + o.c.timeout;
    let r = Arc::new(Recorder::new(ctx.clone(), &o.c.prefix, o.shards));
    let timed_out;
    if pull {
        let mut b = DefaultLitePullConsumer::builder(rt.client.clone())
            .consumer_group(o.c.group.as_str())
            .name_server_addr(o.c.namesrv.as_str())
            .consume_from_where(o.from)
            .auto_commit(true)
            .auto_commit_interval_millis(1000)
            .poll_timeout_millis(200);
        if o.pull_batch > 0 {
            b = b.pull_batch_size(o.pull_batch as i32);
        }
        if let Some(i) = &o.c.instance {
            b = b.instance_name(i.as_str());
        }
        let consumer = match b.build() {
            Ok(c) => c,
            Err(e) => {
                return Outcome::Fatal(format!(
                    "lite pull consumer: {}",
                    crate::report::err_text(&e)
                ));
            }
        };
        if let Err(e) = consumer.subscribe_with_expression(&o.c.topic, &o.tag).await {
            return Outcome::Fatal(format!("subscribe: {}", crate::report::err_text(&e)));
        }
        match tokio::time::timeout(o.c.timeout, consumer.start()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Outcome::Fatal(format!("consumer start: {}", crate::report::err_text(&e)));
            }
            Err(_) => return Outcome::Fatal("consumer start timed out".into()),
        }
        let mut reached = None;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if let Some(at) = reached
                && now >= at
            {
                break;
            }
            let wait = deadline
                .saturating_duration_since(now)
                .min(Duration::from_millis(200));
            match tokio::time::timeout(
                wait + Duration::from_secs(5),
                consumer.poll_with_timeout(wait.as_millis().max(1) as u64),
            )
            .await
            {
                Ok(msgs) => {
                    for m in &msgs {
                        r.deliver(m);
                    }
                }
                Err(_) => ctx.error("poll did not return in time"),
            }
            if reached.is_none() && o.expect > 0 && r.distinct() >= o.expect {
                reached = Some(Instant::now() + o.linger);
            }
        }
        timed_out = o.expect > 0 && r.distinct() < o.expect;
        // Commit what was polled and persist it to the broker now (shutdown persists too, but
        // only after its in-flight long polls are cancelled).
        match tokio::time::timeout(Duration::from_secs(5), consumer.assignment()).await {
            Ok(Ok(queues)) => {
                let _ = tokio::time::timeout(
                    Duration::from_secs(5),
                    consumer.commit_with_set(queues, true),
                )
                .await;
            }
            Ok(Err(e)) => ctx.error(format!("assignment: {}", crate::report::err_text(&e))),
            Err(_) => ctx.error("assignment did not return in time"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), consumer.shutdown()).await;
    } else {
        let mut b = DefaultMQPushConsumer::builder(rt.client.clone())
            .consumer_group(o.c.group.as_str())
            .name_server_addr(o.c.namesrv.as_str())
            .consume_from_where(o.from)
            .message_model(if o.broadcast {
                MessageModel::Broadcasting
            } else {
                MessageModel::Clustering
            });
        if o.pull_batch > 0 {
            b = b.pull_batch_size(o.pull_batch as u32);
        }
        if o.threads > 0 {
            b = b
                .consume_thread_min(o.threads as u32)
                .consume_thread_max(o.threads as u32);
        }
        if let Some(m) = o.max_reconsume {
            b = b.max_reconsume_times(m);
        }
        let mut consumer = b.build();
        if let Err(e) = consumer.subscribe(o.c.topic.as_str(), o.tag.as_str()).await {
            return Outcome::Fatal(format!("subscribe: {}", crate::report::err_text(&e)));
        }
        consumer.register_message_listener_concurrently(Listener(r.clone()));
        match tokio::time::timeout(o.c.timeout, consumer.start()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Outcome::Fatal(format!("consumer start: {}", crate::report::err_text(&e)));
            }
            Err(_) => return Outcome::Fatal("consumer start timed out".into()),
        }
        timed_out = wait_for(&r, &o, deadline).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), consumer.shutdown()).await;
    }
    rt.shutdown().await;
    ctx.close_records();

    let s = r.lock();
    let ok = s.consumed.len() as i64 >= o.expect
        && s.corrupt == 0
        && (o.shards == 0 || s.order_violations == 0);
    let mut m = crate::result(name, ok);
    m.insert("topic".into(), json!(o.c.topic));
    m.insert("group".into(), json!(o.c.group));
    m.insert("prefix".into(), json!(o.c.prefix));
    m.insert("start".into(), json!(o.c.start));
    m.insert("expect".into(), json!(o.expect));
    m.insert("timedOut".into(), json!(timed_out));
    if !pull {
        m.insert(
            "mode".into(),
            json!({"orderly": false, "broadcast": o.broadcast}),
        );
    }
    let (min_age, max_age) = if s.received == 0 {
        (-1, -1)
    } else {
        (s.min_age, s.max_age)
    };
    let distinct = s.consumed.len() as i64;
    m.insert("received".into(), json!(s.received));
    m.insert("distinct".into(), json!(distinct));
    m.insert(
        "duplicates".into(),
        json!(s.received - s.foreign - s.corrupt - distinct),
    );
    m.insert("ranges".into(), json!(ranges(&s.consumed)));
    let miss = if o.expect > 0 {
        missing(&s.consumed, o.c.start, o.c.start + o.expect)
    } else {
        String::new()
    };
    m.insert("missing".into(), json!(miss));
    m.insert("foreign".into(), json!(s.foreign));
    m.insert("corrupt".into(), json!(s.corrupt));
    m.insert("rejected".into(), json!(0));
    m.insert("tags".into(), json!(s.tags));
    m.insert("queues".into(), json!(s.queues));
    m.insert("reconsumeTimes".into(), json!(s.reconsume));
    m.insert("minAgeMs".into(), json!(min_age));
    m.insert("maxAgeMs".into(), json!(max_age));
    m.insert("firstAtMs".into(), json!(s.first_at));
    if o.shards > 0 {
        m.insert("orderViolations".into(), json!(s.order_violations));
    }
    drop(s);
    ctx.emit(m);
    Outcome::of(ok)
}
