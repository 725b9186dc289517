//! The load plan: a comma list of phases, the Java driver's syntax plus open-loop phases.
//!
//! - `sync:SIZE:THREADS`: closed loop, THREADS senders each waiting for its acknowledgement;
//! - `async:SIZE`: one sender keeping up to `--inflight` sends in flight;
//! - `open:SIZE[:RATE]`: open loop, RATE messages/s offered on schedule whatever the acks
//!   (RATE defaults to `--rate`); latency counts from each message's scheduled send time;
//! - `openpct:SIZE:PCT`: open loop at PCT % of this run's peak for SIZE: the best msgs/s of the
//!   closed-loop phases (`sync`, `async`) with the same SIZE measured earlier in the same run;
//! - `e2e:SIZE:RATE`: RATE messages/s offered to a fresh topic while a consumer reads it back;
//!   latency from each message's scheduled send time to its delivery (SIZE >= 8: the schedule
//!   is in the body);
//! - `fill:SIZE:COUNT`: batch sends (64 per SEND_BATCH_MESSAGE) of COUNT messages to the
//!   backlog topic;
//! - `consume`: pull what `fill` acknowledged back from the backlog topic;
//! - `scale:TOPICS:GROUPS:RATE`: the broker's CPU and memory with TOPICS topics of `--queues`
//!   queues and GROUPS consumer groups, idle and under RATE messages/s spread over the topics.

use std::fmt;

/// One phase of a plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Closed loop: `threads` senders, each sending its next message when the last was acked.
    Sync {
        /// Body bytes.
        size: usize,
        /// Concurrent senders.
        threads: usize,
    },
    /// One sender with up to `--inflight` unacknowledged sends.
    Async {
        /// Body bytes.
        size: usize,
    },
    /// Open loop at a fixed offered rate.
    Open {
        /// Body bytes.
        size: usize,
        /// Offered messages per second.
        rate: f64,
    },
    /// Open loop at `pct` % of the best earlier closed-loop throughput with the same size.
    OpenPct {
        /// Body bytes.
        size: usize,
        /// Share of the peak, in per cent.
        pct: f64,
    },
    /// Sends at a fixed rate consumed while producing: end-to-end latency.
    E2e {
        /// Body bytes (at least 8: the scheduled send time).
        size: usize,
        /// Offered messages per second.
        rate: f64,
    },
    /// Many topics and consumer groups: the broker idle and under load.
    Scale {
        /// Topics to create.
        topics: usize,
        /// Consumer groups to create and run.
        groups: usize,
        /// Messages per second of the load, spread over the topics.
        rate: f64,
    },
    /// Batch sends of `count` messages to the backlog topic.
    Fill {
        /// Body bytes.
        size: usize,
        /// Messages to store.
        count: u64,
    },
    /// Pull the backlog filled before.
    Consume,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Sync { size, threads } => write!(f, "sync:{size}:{threads}"),
            Phase::Async { size } => write!(f, "async:{size}"),
            Phase::Open { size, rate } => write!(f, "open:{size}:{rate}"),
            Phase::OpenPct { size, pct } => write!(f, "openpct:{size}:{pct}"),
            Phase::E2e { size, rate } => write!(f, "e2e:{size}:{rate}"),
            Phase::Scale {
                topics,
                groups,
                rate,
            } => write!(f, "scale:{topics}:{groups}:{rate}"),
            Phase::Fill { size, count } => write!(f, "fill:{size}:{count}"),
            Phase::Consume => write!(f, "consume"),
        }
    }
}

const SYNTAX: &str = "phases are sync:SIZE:THREADS, async:SIZE, open:SIZE[:RATE], \
    openpct:SIZE:PCT, e2e:SIZE:RATE, fill:SIZE:COUNT, consume, scale:TOPICS:GROUPS:RATE";

/// Smallest body of an `e2e` phase: the scheduled send time it carries.
pub const E2E_MIN_SIZE: usize = 8;

fn field<T: std::str::FromStr + PartialOrd + Default>(
    phase: &str,
    fields: &[&str],
    i: usize,
    what: &str,
) -> Result<T, String> {
    let text = fields
        .get(i)
        .ok_or_else(|| format!("phase '{phase}' has no {what} ({SYNTAX})"))?;
    match text.trim().parse::<T>() {
        Ok(v) if v > T::default() => Ok(v),
        _ => Err(format!(
            "phase '{phase}': {what} {text:?} must be a positive number ({SYNTAX})"
        )),
    }
}

fn arity(phase: &str, fields: &[&str], min: usize, max: usize) -> Result<(), String> {
    if fields.len() < min || fields.len() > max {
        return Err(format!(
            "phase '{phase}' has {} fields ({SYNTAX})",
            fields.len()
        ));
    }
    Ok(())
}

/// Parses one phase; `default_rate` (`--rate`) stands in for an open phase's missing RATE.
pub fn parse_phase(text: &str, default_rate: Option<f64>) -> Result<Phase, String> {
    let text = text.trim();
    let fields: Vec<&str> = text.split(':').collect();
    match fields[0] {
        "sync" => {
            arity(text, &fields, 3, 3)?;
            Ok(Phase::Sync {
                size: field(text, &fields, 1, "SIZE")?,
                threads: field(text, &fields, 2, "THREADS")?,
            })
        }
        "async" => {
            arity(text, &fields, 2, 2)?;
            Ok(Phase::Async {
                size: field(text, &fields, 1, "SIZE")?,
            })
        }
        "open" => {
            arity(text, &fields, 2, 3)?;
            let size = field(text, &fields, 1, "SIZE")?;
            let rate = match (fields.len(), default_rate) {
                (3, _) => field(text, &fields, 2, "RATE")?,
                (_, Some(r)) if r > 0.0 => r,
                _ => {
                    return Err(format!(
                        "phase '{text}' has no RATE: write open:{size}:RATE or pass --rate R"
                    ));
                }
            };
            Ok(Phase::Open { size, rate })
        }
        "openpct" => {
            arity(text, &fields, 3, 3)?;
            Ok(Phase::OpenPct {
                size: field(text, &fields, 1, "SIZE")?,
                pct: field(text, &fields, 2, "PCT")?,
            })
        }
        "e2e" => {
            arity(text, &fields, 3, 3)?;
            let size = field(text, &fields, 1, "SIZE")?;
            if size < E2E_MIN_SIZE {
                return Err(format!(
                    "phase '{text}': SIZE must be at least {E2E_MIN_SIZE} (the body carries the send time)"
                ));
            }
            Ok(Phase::E2e {
                size,
                rate: field(text, &fields, 2, "RATE")?,
            })
        }
        "scale" => {
            arity(text, &fields, 4, 4)?;
            Ok(Phase::Scale {
                topics: field(text, &fields, 1, "TOPICS")?,
                groups: field(text, &fields, 2, "GROUPS")?,
                rate: field(text, &fields, 3, "RATE")?,
            })
        }
        "fill" => {
            arity(text, &fields, 3, 3)?;
            Ok(Phase::Fill {
                size: field(text, &fields, 1, "SIZE")?,
                count: field(text, &fields, 2, "COUNT")?,
            })
        }
        "consume" => {
            arity(text, &fields, 1, 1)?;
            Ok(Phase::Consume)
        }
        other => Err(format!("unknown phase '{other}' in '{text}' ({SYNTAX})")),
    }
}

/// Parses a comma list of phases (empty items are skipped).
pub fn parse_plan(text: &str, default_rate: Option<f64>) -> Result<Vec<Phase>, String> {
    let plan: Vec<Phase> = text
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse_phase(p, default_rate))
        .collect::<Result<_, _>>()?;
    if plan.is_empty() {
        return Err(format!("the plan is empty ({SYNTAX})"));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_java_plan_syntax() {
        let plan = parse_plan(
            "sync:128:1,sync:1024:64, async:128,fill:128:20000,consume",
            None,
        )
        .unwrap();
        assert_eq!(
            plan,
            vec![
                Phase::Sync {
                    size: 128,
                    threads: 1
                },
                Phase::Sync {
                    size: 1024,
                    threads: 64
                },
                Phase::Async { size: 128 },
                Phase::Fill {
                    size: 128,
                    count: 20000
                },
                Phase::Consume,
            ]
        );
        assert_eq!(plan[1].to_string(), "sync:1024:64");
    }

    #[test]
    fn open_phases_take_their_rate_or_the_default() {
        assert_eq!(
            parse_phase("open:128:5000", None).unwrap(),
            Phase::Open {
                size: 128,
                rate: 5000.0
            }
        );
        assert_eq!(
            parse_phase("open:256", Some(100.0)).unwrap(),
            Phase::Open {
                size: 256,
                rate: 100.0
            }
        );
        assert!(
            parse_phase("open:256", None)
                .unwrap_err()
                .contains("--rate")
        );
    }

    #[test]
    fn fixed_load_phases_parse_and_print() {
        let plan = parse_plan("openpct:128:50,e2e:1024:500,scale:1000:100:2000", None).unwrap();
        assert_eq!(
            plan,
            vec![
                Phase::OpenPct {
                    size: 128,
                    pct: 50.0
                },
                Phase::E2e {
                    size: 1024,
                    rate: 500.0
                },
                Phase::Scale {
                    topics: 1000,
                    groups: 100,
                    rate: 2000.0
                },
            ]
        );
        let text: Vec<String> = plan.iter().map(Phase::to_string).collect();
        assert_eq!(
            text.join(","),
            "openpct:128:50,e2e:1024:500,scale:1000:100:2000"
        );
        assert!(
            parse_phase("e2e:4:100", None)
                .unwrap_err()
                .contains("at least 8")
        );
        assert!(
            parse_phase("scale:10:2", None)
                .unwrap_err()
                .contains("3 fields")
        );
        assert!(
            parse_phase("openpct:128:0", None)
                .unwrap_err()
                .contains("PCT")
        );
    }

    #[test]
    fn bad_phases_say_what_is_wrong() {
        assert!(
            parse_phase("sync:128", None)
                .unwrap_err()
                .contains("2 fields")
        );
        assert!(
            parse_phase("sync:0:4", None)
                .unwrap_err()
                .contains("SIZE \"0\" must be a positive number")
        );
        assert!(parse_phase("sync:x:4", None).unwrap_err().contains("SIZE"));
        assert!(
            parse_phase("burst:1", None)
                .unwrap_err()
                .contains("unknown phase 'burst'")
        );
        assert!(parse_plan(" , ", None).unwrap_err().contains("empty"));
    }
}
