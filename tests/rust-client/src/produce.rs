//! `produce`: DefaultMQProducer, modes sync (send_with_timeout), async
//! (send_with_callback_timeout, at most --inflight outstanding), oneway (send_oneway) and batch
//! (send_batch_with_timeout).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocketmq_client_rust::DefaultMQProducer;
use rocketmq_model::common::message::message_single::Message;
use rocketmq_model::result::{SendResult, SendStatus};
use serde_json::json;

use crate::bodies::{body_id, make_body, ranges, ranges_of};
use crate::cli::{self, COMMON, Common, Kind, Outcome};
use crate::report::Ctx;

const SPEC: &[(&str, Kind)] = &[
    ("count", Kind::Value),
    ("mode", Kind::Value),
    ("tag", Kind::Value),
    ("keys", Kind::Flag),
    ("body-size", Kind::Value),
    ("batch-size", Kind::Value),
    ("delay-level", Kind::Value),
    ("send-timeout-ms", Kind::Value),
    ("retries", Kind::Value),
    ("inflight", Kind::Value),
    ("shards", Kind::Unsupported),
    ("tx", Kind::Unsupported),
    ("check", Kind::Unsupported),
    ("wait-checks", Kind::Unsupported),
];

struct Opts {
    c: Common,
    count: i64,
    mode: String,
    tag: Option<String>,
    keys: bool,
    body_size: usize,
    batch_size: usize,
    delay_level: i32,
    send_timeout_ms: u64,
    retries: u32,
    inflight: usize,
}

fn parse(args: &[String]) -> Result<Opts, Outcome> {
    let spec: Vec<(&str, Kind)> = COMMON.iter().chain(SPEC).copied().collect();
    let o = cli::parse(args, &spec)?;
    let count = o.required_int("count", 0, 50_000_000)?;
    let mode = o.str_or("mode", "sync");
    match mode.as_str() {
        "sync" | "async" | "oneway" | "batch" => {}
        "transaction" => {
            return Err(Outcome::Unsupported(
                "transaction mode is not implemented by the Rust harness".into(),
            ));
        }
        m => {
            return Err(Outcome::Usage(format!(
                "option --mode must be one of sync|async|oneway|batch|transaction, got '{m}'"
            )));
        }
    }
    let delay_level = o.int("delay-level", 0, 0, 64)? as i32;
    if delay_level > 0 && mode == "batch" {
        return Err(Outcome::Usage(
            "--delay-level does not go with --mode batch".into(),
        ));
    }
    let opts = Opts {
        count,
        tag: o.has("tag").then(|| o.str_or("tag", "")),
        keys: o.flag("keys"),
        body_size: o.int("body-size", 0, 0, 64 << 20)? as usize,
        batch_size: o.int("batch-size", 32, 1, 100_000)? as usize,
        delay_level,
        send_timeout_ms: o.int("send-timeout-ms", 3000, 1, 600_000)? as u64,
        retries: o.int("retries", 2, 0, 100)? as u32,
        // 64, not 256 as in the Java/Go harnesses: the crate's transport rejects bursts of a
        // few hundred outstanding requests with transport.admission.queue_saturated (against
        // the Apache broker too).
        inflight: o.int("inflight", 64, 1, 100_000)? as usize,
        mode,
        c: Common::from(&o, "rmq-harness-producer", 300_000)?,
    };
    Ok(opts)
}

fn status_name(s: &SendStatus) -> &'static str {
    match s {
        SendStatus::SendOk => "SEND_OK",
        SendStatus::FlushDiskTimeout => "FLUSH_DISK_TIMEOUT",
        SendStatus::FlushSlaveTimeout => "FLUSH_SLAVE_TIMEOUT",
        SendStatus::SlaveNotAvailable => "SLAVE_NOT_AVAILABLE",
    }
}

/// What was acknowledged.
#[derive(Default)]
struct Tally {
    acked: BTreeSet<i64>,
    status: BTreeMap<String, i64>,
    queues: BTreeMap<String, i64>,
    calls: i64,
}

impl Tally {
    fn ok(&mut self, ctx: &Ctx, i: i64, r: &SendResult) {
        let st = status_name(&r.send_status);
        let (bn, qid) = r
            .message_queue
            .as_ref()
            .map(|q| (q.broker_name().to_string(), q.queue_id()))
            .unwrap_or_default();
        *self.status.entry(st.to_owned()).or_default() += 1;
        *self.queues.entry(format!("{bn}/{qid}")).or_default() += 1;
        self.acked.insert(i);
        let msg_id = r.msg_id.as_ref().map(|s| s.to_string()).unwrap_or_default();
        let off_id = r.offset_msg_id.clone().unwrap_or_default();
        ctx.record(|| {
            format!(
                "{i}\t{msg_id}\t{off_id}\t{bn}\t{qid}\t{}\t{st}",
                r.queue_offset
            )
        });
    }
}

fn message(o: &Opts, i: i64) -> Message {
    let mut b =
        Message::builder()
            .topic(o.c.topic.as_str())
            .body(make_body(&o.c.prefix, i, o.body_size));
    if let Some(t) = &o.tag {
        b = b.tags(t.as_str());
    }
    if o.keys {
        b = b.key(body_id(&o.c.prefix, i));
    }
    if o.delay_level > 0 {
        b = b.delay_level(o.delay_level);
    }
    b.build_unchecked()
}

pub async fn run(args: &[String]) -> Outcome {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let ctx = Ctx::new();
    if let Err(e) = ctx.open_records(o.c.out.as_deref()) {
        return Outcome::Fatal(e);
    }
    let rt = match crate::Rt::new() {
        Ok(rt) => rt,
        Err(e) => return Outcome::Fatal(e),
    };
    let mut producer = DefaultMQProducer::builder(rt.client.clone())
        .producer_group(o.c.group.as_str())
        .name_server_addr(o.c.namesrv.as_str())
        .send_msg_timeout(o.send_timeout_ms as u32)
        .retry_times_when_send_failed(o.retries)
        .retry_times_when_send_async_failed(o.retries)
        .build();
    let deadline = Instant::now() + o.c.timeout;
    match tokio::time::timeout(o.c.timeout, producer.start()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Outcome::Fatal(format!("producer start: {}", crate::report::err_text(&e)));
        }
        Err(_) => return Outcome::Fatal("producer start timed out".into()),
    }

    let tally = Arc::new(Mutex::new(Tally::default()));
    let ctx = Arc::new(ctx);
    let (start, end) = (o.c.start, o.c.start + o.count);
    let per_call = Duration::from_millis(o.send_timeout_ms * (u64::from(o.retries) + 1) + 5_000);
    let mut timed_out = false;
    let lock = |t: &Arc<Mutex<Tally>>| -> Tally {
        std::mem::take(&mut *t.lock().unwrap_or_else(|e| e.into_inner()))
    };
    match o.mode.as_str() {
        "sync" => {
            for i in start..end {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    timed_out = true;
                    break;
                }
                let r = tokio::time::timeout(
                    left.min(per_call),
                    producer.send_with_timeout(message(&o, i), o.send_timeout_ms),
                )
                .await;
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(Ok(Some(res))) => {
                        t.calls += 1;
                        t.ok(&ctx, i, &res);
                    }
                    Ok(Ok(None)) => {
                        t.calls += 1;
                        ctx.error("send returned no result");
                    }
                    Ok(Err(e)) => {
                        t.calls += 1;
                        ctx.error(crate::report::err_text(&e));
                    }
                    Err(_) => ctx.error("send did not return in time"),
                }
            }
        }
        "oneway" => {
            for i in start..end {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    timed_out = true;
                    break;
                }
                let r =
                    tokio::time::timeout(left.min(per_call), producer.send_oneway(message(&o, i)))
                        .await;
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(Ok(())) => {
                        t.calls += 1;
                        t.acked.insert(i);
                        *t.status.entry("ONEWAY".into()).or_default() += 1;
                        ctx.record(|| format!("{i}\t\t\t\t-1\t-1\tONEWAY"));
                    }
                    Ok(Err(e)) => {
                        t.calls += 1;
                        ctx.error(crate::report::err_text(&e));
                    }
                    Err(_) => ctx.error("send_oneway did not return in time"),
                }
            }
            // Unread bytes on close can lose the tail (see harness.md): give the socket a moment.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        "batch" => {
            let mut i = start;
            while i < end {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    timed_out = true;
                    break;
                }
                let hi = (i + o.batch_size as i64).min(end);
                let msgs: Vec<Message> = (i..hi).map(|k| message(&o, k)).collect();
                let r = tokio::time::timeout(
                    left.min(per_call),
                    producer.send_batch_with_timeout(msgs, o.send_timeout_ms),
                )
                .await;
                let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                match r {
                    Ok(Ok(res)) => {
                        t.calls += 1;
                        for k in i..hi {
                            t.ok(&ctx, k, &res);
                        }
                    }
                    Ok(Err(e)) => {
                        t.calls += 1;
                        ctx.error(crate::report::err_text(&e));
                    }
                    Err(_) => ctx.error("send_batch did not return in time"),
                }
                i = hi;
            }
        }
        _ => {
            // async
            let sem = Arc::new(tokio::sync::Semaphore::new(o.inflight));
            for i in start..end {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    timed_out = true;
                    break;
                }
                let Ok(Ok(permit)) = tokio::time::timeout(left, sem.clone().acquire_owned()).await
                else {
                    timed_out = true;
                    break;
                };
                let permit = Mutex::new(Some(permit));
                let (t2, c2) = (tally.clone(), ctx.clone());
                let cb =
                    move |r: Option<&SendResult>, e: Option<&rocketmq_client_rust::ClientError>| {
                        let mut t = t2.lock().unwrap_or_else(|e| e.into_inner());
                        t.calls += 1;
                        match (r, e) {
                            (Some(r), None) => t.ok(&c2, i, r),
                            (_, Some(e)) => c2.error(crate::report::err_text(e)),
                            (None, None) => c2.error("async send: callback without result"),
                        }
                        drop(t);
                        permit.lock().unwrap_or_else(|e| e.into_inner()).take();
                    };
                let r = tokio::time::timeout(
                    left.min(per_call),
                    producer.send_with_callback_timeout(message(&o, i), cb, o.send_timeout_ms),
                )
                .await;
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => ctx.error(crate::report::err_text(&e)),
                    Err(_) => ctx.error("send_with_callback did not return in time"),
                }
            }
            // Wait for the outstanding callbacks.
            let left =
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(
                        o.send_timeout_ms * (u64::from(o.retries) + 1),
                    ));
            if tokio::time::timeout(left, sem.acquire_many(o.inflight as u32))
                .await
                .is_err()
            {
                timed_out = true;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), producer.shutdown()).await;
    rt.shutdown().await;
    ctx.close_records();

    let t = lock(&tally);
    let failed_idx: Vec<i64> = (start..end).filter(|i| !t.acked.contains(i)).collect();
    let sent = t.acked.len() as i64;
    let ok = sent == o.count;
    let mut m = crate::result("produce", ok);
    m.insert("mode".into(), json!(o.mode));
    m.insert("topic".into(), json!(o.c.topic));
    m.insert("prefix".into(), json!(o.c.prefix));
    m.insert("start".into(), json!(o.c.start));
    m.insert("requested".into(), json!(o.count));
    m.insert("sent".into(), json!(sent));
    m.insert("failed".into(), json!(o.count - sent));
    m.insert("acked".into(), json!(ranges(&t.acked)));
    m.insert("failedIdx".into(), json!(ranges_of(&failed_idx)));
    m.insert("calls".into(), json!(t.calls));
    m.insert("status".into(), json!(t.status));
    m.insert("queues".into(), json!(t.queues));
    m.insert("timedOut".into(), json!(timed_out));
    if o.mode == "oneway" {
        m.insert("oneway".into(), json!(true));
    }
    ctx.emit(m);
    Outcome::of(ok)
}
