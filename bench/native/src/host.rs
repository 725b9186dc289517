//! How busy the machine was around one phase, as the Java driver records it: `/proc/loadavg`
//! before and after, and from `/proc/stat`'s `cpu` line over the phase the share of CPU time the
//! hypervisor stole (`stealPct`), the CPU time every process used (`hostCpuPct`, 100 % = one
//! core) and what is left of it after the broker's and this driver's own (`othersCpuPct`: other
//! work on the machine, and kernel threads). `bench/report.py` marks a phase busy from them.

use crate::json::{Obj, Val};
use crate::procfs::Proc;
use std::time::Instant;

/// Jiffies of `/proc/stat`'s aggregate `cpu` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTicks {
    /// user + nice + system + irq + softirq (guest time is inside user and nice).
    pub busy: u64,
    /// Stolen by the hypervisor.
    pub steal: u64,
    /// Every state, idle, iowait and steal included.
    pub total: u64,
}

/// The `cpu` line of the text of `/proc/stat`.
pub fn parse_proc_stat(stat: &str) -> Option<CpuTicks> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    Some(CpuTicks {
        busy: at(0) + at(1) + at(2) + at(5) + at(6),
        steal: at(7),
        total: (0..8).map(at).sum(),
    })
}

/// The three load averages of the text of `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

/// The machine at one moment, with the broker's and the driver's CPU seconds.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    load: Option<[f64; 3]>,
    cpu: Option<CpuTicks>,
    broker: Option<f64>,
    driver: Option<f64>,
}

impl Snapshot {
    /// Reads `/proc/loadavg`, `/proc/stat` and the two processes' CPU time now.
    pub fn take(broker: Option<&Proc>, driver: &Proc) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        Self {
            at: Instant::now(),
            load: read("/proc/loadavg").as_deref().and_then(parse_loadavg),
            cpu: read("/proc/stat").as_deref().and_then(parse_proc_stat),
            broker: broker.and_then(Proc::cpu_seconds),
            driver: driver.cpu_seconds(),
        }
    }

    /// Writes `loadavgBefore`, `loadavgAfter`, `stealPct`, `hostCpuPct` and `othersCpuPct`
    /// of the time from `self` to `after` into `o`; `clk_tck` jiffies make a second.
    pub fn write_until(&self, after: &Self, clk_tck: u64, o: &mut Obj) {
        let list = |l: [f64; 3]| Val::List(l.iter().map(|v| Val::Float(*v)).collect());
        if let Some(l) = self.load {
            o.set("loadavgBefore", list(l));
        }
        if let Some(l) = after.load {
            o.set("loadavgAfter", list(l));
        }
        let secs = after.at.duration_since(self.at).as_secs_f64();
        o.set("hostSecs", secs);
        let (Some(a), Some(b)) = (self.cpu, after.cpu) else {
            return;
        };
        let total = b.total.saturating_sub(a.total);
        if total > 0 {
            o.set(
                "stealPct",
                b.steal.saturating_sub(a.steal) as f64 * 100.0 / total as f64,
            );
        }
        if secs <= 0.0 {
            return;
        }
        let pct = |cpu_secs: f64| cpu_secs / secs * 100.0;
        let host = pct(b.busy.saturating_sub(a.busy) as f64 / clk_tck.max(1) as f64);
        o.set("hostCpuPct", host);
        let own = |x: Option<f64>, y: Option<f64>| x.zip(y).map(|(x, y)| pct(y - x));
        if let (Some(br), Some(dr)) = (
            own(self.broker, after.broker),
            own(self.driver, after.driver),
        ) {
            // jiffy rounding can put the difference a little below zero on an idle machine
            o.set("othersCpuPct", (host - br - dr).max(0.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat_and_loadavg() {
        let stat = "cpu  100 20 30 400 5 1 2 7 3 0\ncpu0 50 10 15 200 2 0 1 3 0 0\nintr 1 2\n";
        let t = parse_proc_stat(stat);
        assert_eq!(
            t,
            Some(CpuTicks {
                busy: 100 + 20 + 30 + 1 + 2,
                steal: 7,
                total: 100 + 20 + 30 + 400 + 5 + 1 + 2 + 7,
            })
        );
        assert_eq!(parse_proc_stat("cpu0 1 2 3\n"), None);
        assert_eq!(parse_proc_stat("cpu  1 x 3\n"), None);
        assert_eq!(
            parse_loadavg("0.52 1.25 2.00 3/120 4567\n"),
            Some([0.52, 1.25, 2.0])
        );
        assert_eq!(parse_loadavg("0.52\n"), None);
        assert!(
            std::fs::read_to_string("/proc/stat")
                .ok()
                .as_deref()
                .and_then(parse_proc_stat)
                .is_some()
        );
    }

    #[test]
    fn writes_the_phase_fields() {
        let me = Proc::new("self", 100);
        let a = Snapshot::take(Some(&me), &me);
        let mut b = a.clone();
        b.at = a.at + std::time::Duration::from_secs(2);
        b.load = Some([1.0, 2.0, 3.0]);
        b.cpu = a.cpu.map(|c| CpuTicks {
            busy: c.busy + 150,
            steal: c.steal + 10,
            total: c.total + 200,
        });
        b.broker = a.broker.map(|s| s + 0.5);
        b.driver = a.driver.map(|s| s + 0.5);
        let mut o = Obj::new();
        a.write_until(&b, 100, &mut o);
        let num = |k: &str| match o.get(k) {
            Some(Val::Float(v)) => *v,
            other => panic!("{k}: {other:?}"),
        };
        assert!((num("stealPct") - 5.0).abs() < 1e-9);
        assert!((num("hostCpuPct") - 75.0).abs() < 1e-9);
        // 75 % of a core in all, 25 % each for the broker and the driver
        assert!((num("othersCpuPct") - 25.0).abs() < 1e-6);
        let after = Val::List(vec![Val::Float(1.0), Val::Float(2.0), Val::Float(3.0)]);
        assert_eq!(o.get("loadavgAfter"), Some(&after));
    }
}
