//! The delivery task: every 100 ms (first run 1 s after start), for each level, deliver the due
//! prefix of its schedule queue in order to the real topic/queue, then advance the level's
//! offset. A record is due when its tagsCode (delivery time) is <= now, or implausibly far in
//! the future (a shortened level list or a clock step: RocketMQ's `correctDeliverTimestamp`).
//! A failed put backs the level off for 10 s. Offsets are written every
//! `flushDelayOffsetInterval` and at shutdown; a crash may deliver the last interval again.

use crate::broker::Broker;
use crate::state::now_ms;
use rmq_protocol::message::{MessageExt, Properties, decode_message, property};
use rmq_protocol::names;
use rmq_store::GetStatus;
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Polling period.
const TICK: Duration = Duration::from_millis(100);
/// Back-off after a failed delivery.
const BACKOFF_MS: i64 = 10_000;
/// Most messages one level delivers per tick.
const MAX_PER_TICK: usize = 2048;

/// Per-level state between ticks.
#[derive(Debug, Clone, Copy, Default)]
struct LevelState {
    /// Nothing to do before this time (ms) unless the queue grew.
    idle_until: i64,
    /// Queue max offset when `idle_until` was set.
    seen_max: i64,
}

/// Starts the delivery task (it does nothing while the broker is a slave).
pub fn spawn(b: &Arc<Broker>, stop: CancellationToken) {
    let b = b.clone();
    tokio::spawn(async move {
        let levels = b.config.features.delay_levels.max_level();
        let mut state = vec![LevelState::default(); levels as usize];
        let mut last_persist = now_ms();
        let persist_every = b.config.features.flush_delay_offset_interval.as_millis() as i64;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        loop {
            if b.is_master() {
                let (bb, st, halt) = (b.clone(), std::mem::take(&mut state), stop.clone());
                match tokio::task::spawn_blocking(move || tick(&bb, st, &halt)).await {
                    Ok(st) => state = st,
                    Err(e) => {
                        tracing::error!(error = %e, "delay delivery panicked");
                        state = vec![LevelState::default(); levels as usize];
                    }
                }
            }
            if now_ms() - last_persist >= persist_every {
                persist(&b);
                last_persist = now_ms();
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
        persist(&b);
    });
}

fn persist(b: &Broker) {
    if let Err(e) = b.delay_offsets.persist_if_dirty() {
        tracing::error!(error = %e, "cannot persist delay offsets");
    }
}

fn tick(b: &Broker, mut state: Vec<LevelState>, stop: &CancellationToken) -> Vec<LevelState> {
    for (i, st) in state.iter_mut().enumerate() {
        if stop.is_cancelled() {
            break; // shutting down: the offsets are persisted now, deliver nothing more
        }
        let level = i as i32 + 1;
        let max = b.store.max_offset(names::SCHEDULE_TOPIC, level - 1);
        if max == st.seen_max && now_ms() < st.idle_until {
            continue;
        }
        *st = deliver_level(b, level, max);
    }
    state
}

/// Delivers the due prefix of one level's queue; returns when to look again.
fn deliver_level(b: &Broker, level: i32, max: i64) -> LevelState {
    let queue = level - 1;
    let delay = b.config.features.delay_levels.delay_ms(level);
    let mut offset = b
        .delay_offsets
        .get(level)
        .max(b.store.min_offset(names::SCHEDULE_TOPIC, queue));
    let mut delivered = 0;
    let next_due = Cell::new(i64::MAX);
    while offset < max && delivered < MAX_PER_TICK {
        let now = now_ms();
        let due = |t: i64| {
            let due = t <= now || t > now + delay;
            if !due {
                next_due.set(next_due.get().min(t));
            }
            due
        };
        let got = b
            .store
            .get_messages(names::SCHEDULE_TOPIC, queue, offset, 32, 1 << 20, &due);
        let before = offset;
        if got.messages.is_empty() {
            if got.next_begin_offset > offset && got.status != GetStatus::NoMatchedMessage {
                offset = got.next_begin_offset; // the queue's head moved on (files removed)
                continue;
            }
            break;
        }
        for raw in &got.messages {
            let m = match decode_message(raw) {
                Ok((m, _)) => m,
                Err(e) => {
                    tracing::error!(level, offset, error = %e, "undecodable schedule record skipped");
                    offset += 1;
                    continue;
                }
            };
            if m.queue_offset != offset {
                offset = skip_holes(b, queue, offset);
                break; // a later record is due before this one: keep the queue order
            }
            if let Err(e) = deliver(b, &m) {
                tracing::warn!(level, offset, error = %e, "delayed delivery failed; retrying in 10 s");
                b.delay_offsets.set(level, offset, now_ms());
                return LevelState {
                    idle_until: now_ms() + BACKOFF_MS,
                    seen_max: max,
                };
            }
            offset += 1;
            delivered += 1;
        }
        b.delay_offsets.set(level, offset, now_ms());
        if offset == before {
            break;
        }
    }
    b.delay_offsets.set(level, offset, now_ms());
    let idle_until = if offset >= max {
        i64::MAX
    } else if delivered >= MAX_PER_TICK {
        0
    } else {
        next_due.get()
    };
    LevelState {
        idle_until,
        seen_max: max,
    }
}

/// The first offset at or after `offset` whose unit holds a record (consume queue holes are
/// skipped).
fn skip_holes(b: &Broker, queue: i32, offset: i64) -> i64 {
    let got = b
        .store
        .get_messages(names::SCHEDULE_TOPIC, queue, offset, 1, 1 << 20, &|_| true);
    got.messages
        .first()
        .and_then(|raw| decode_message(raw).ok())
        .map_or(offset, |(m, _)| m.queue_offset.max(offset))
}

/// Stores the message in its real topic/queue (property `DELAY` removed, `WAIT=false`).
fn deliver(b: &Broker, m: &MessageExt) -> Result<(), String> {
    let mut props: Properties = m.properties.clone();
    let (Some(topic), Some(queue)) = (
        props.get(property::REAL_TOPIC).map(str::to_owned),
        props
            .get(property::REAL_QUEUE_ID)
            .and_then(|q| q.parse::<i32>().ok()),
    ) else {
        tracing::error!(
            offset = m.commit_log_offset,
            "schedule record without REAL_TOPIC/REAL_QID dropped"
        );
        return Ok(());
    };
    props.remove(property::DELAY_TIME_LEVEL);
    props.insert(property::WAIT_STORE_MSG_OK, "false");
    let mut rec = m.to_record();
    rec.topic = topic;
    rec.queue_id = queue;
    rec.store_host = b.store_host;
    rec.properties = props.encode();
    crate::store_put::put_record(b, rec, false).map(|_| ())
}
