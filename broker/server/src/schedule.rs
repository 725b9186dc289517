//! Delayed delivery (reference §5.7). A message with `DELAY=n` is stored in
//! `SCHEDULE_TOPIC_XXXX` queue `n-1` with its real topic and queue in `REAL_TOPIC`/`REAL_QID`
//! and its delivery time as consume-queue tagsCode (the transform: [`MessageWriter`]); retries
//! take the same path (`DELAY = 3 + reconsumeTimes`). One task per broker walks the 18 (or
//! `messageDelayLevel`) queues from the offsets persisted in `config/delayOffset.json`
//! ([`DelayOffsets`]). Slaves keep the schedule queues (replicated) but never deliver.
//!
//! Every 100 ms (first run 1 s after start), for each level, the due prefix of its queue is
//! delivered in order to the real topic/queue, then the level's offset advances. A record is due
//! when its tagsCode (delivery time) is <= now, or implausibly far in the future (a shortened
//! level list or a clock step: RocketMQ's `correctDeliverTimestamp`). A failed put backs the
//! level off for 10 s. Offsets are written every `flushDelayOffsetInterval` and at shutdown; a
//! crash may deliver the last interval again.

use crate::state::{DelayOffsets, now_ms};
use crate::writer::MessageWriter;
use rmq_protocol::message::{MessageExt, Properties, SCHEDULE_TOPIC, decode_message, property};
use rmq_store::{GetStatus, MessageStore};
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

/// What the delivery task works with.
pub struct Delivery {
    /// Reads the schedule queues (through its store) and stores the due messages.
    pub writer: MessageWriter,
    /// Per-level progress.
    pub offsets: Arc<DelayOffsets>,
    /// `flushDelayOffsetInterval`: how often the progress is written.
    pub persist_every: Duration,
    /// Only a master delivers.
    pub master: bool,
}

/// Starts the delivery task; it persists the offsets and ends when `stop` is cancelled.
pub fn spawn(d: Delivery, stop: CancellationToken) {
    let d = Arc::new(d);
    tokio::spawn(async move {
        let levels = d.writer.delay_levels().max_level() as usize;
        let mut state = vec![LevelState::default(); levels];
        let mut last_persist = now_ms();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        loop {
            if d.master {
                let (dd, st, halt) = (d.clone(), std::mem::take(&mut state), stop.clone());
                match tokio::task::spawn_blocking(move || dd.tick(st, &halt)).await {
                    Ok(st) => state = st,
                    Err(e) => {
                        tracing::error!(error = %e, "delay delivery panicked");
                        state = vec![LevelState::default(); levels];
                    }
                }
            }
            if now_ms() - last_persist >= d.persist_every.as_millis() as i64 {
                d.persist();
                last_persist = now_ms();
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
        d.persist();
    });
}

impl Delivery {
    fn store(&self) -> &MessageStore {
        self.writer.store()
    }

    fn persist(&self) {
        crate::state::log_persist_error(self.offsets.persist_if_dirty(), "delay offsets");
    }

    fn tick(&self, mut state: Vec<LevelState>, stop: &CancellationToken) -> Vec<LevelState> {
        for (i, st) in state.iter_mut().enumerate() {
            if stop.is_cancelled() {
                break; // shutting down: the offsets are persisted now, deliver nothing more
            }
            let level = i as i32 + 1;
            let max = self.store().max_offset(SCHEDULE_TOPIC, level - 1);
            if max == st.seen_max && now_ms() < st.idle_until {
                continue;
            }
            *st = self.deliver_level(level, max);
        }
        state
    }

    /// Delivers the due prefix of one level's queue; returns when to look again.
    fn deliver_level(&self, level: i32, max: i64) -> LevelState {
        let queue = level - 1;
        let delay = self.writer.delay_levels().delay_ms(level);
        let mut offset = self
            .offsets
            .get(level)
            .max(self.store().min_offset(SCHEDULE_TOPIC, queue));
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
            let got = self
                .store()
                .get_messages(SCHEDULE_TOPIC, queue, offset, 32, 1 << 20, &due);
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
                    offset = self.skip_holes(queue, offset);
                    break; // a later record is due before this one: keep the queue order
                }
                if let Err(e) = self.deliver(&m) {
                    tracing::warn!(level, offset, error = %e, "delayed delivery failed; retrying in 10 s");
                    self.offsets.set(level, offset, now_ms());
                    return LevelState {
                        idle_until: now_ms() + BACKOFF_MS,
                        seen_max: max,
                    };
                }
                offset += 1;
                delivered += 1;
            }
            self.offsets.set(level, offset, now_ms());
            if offset == before {
                break;
            }
        }
        self.offsets.set(level, offset, now_ms());
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
    fn skip_holes(&self, queue: i32, offset: i64) -> i64 {
        let got = self
            .store()
            .get_messages(SCHEDULE_TOPIC, queue, offset, 1, 1 << 20, &|_| true);
        got.messages
            .first()
            .and_then(|raw| decode_message(raw).ok())
            .map_or(offset, |(m, _)| m.queue_offset.max(offset))
    }

    /// Stores the message in its real topic/queue (property `DELAY` removed, `WAIT=false`).
    fn deliver(&self, m: &MessageExt) -> Result<(), String> {
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
        rec.store_host = self.writer.store_host();
        rec.properties = props.encode();
        self.writer.put(rec, false).map(|_| ())
    }
}
