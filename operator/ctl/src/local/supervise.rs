//! The foreground of `rmqctl local up`: until Ctrl-C / SIGTERM, a node that exits on its own is
//! started again, after `--restart-delay`, with the same configuration and data, as a service
//! manager would restart it
//! (with `failover: Automatic` the group has meanwhile elected another master, and the returning
//! broker rejoins as a replica). A node that keeps exiting — more than [`MAX_RESTARTS`] times
//! within [`WINDOW`] — stops the cluster with the end of its log.

use super::layout::Binaries;
use super::nodes::{exited, last_lines};
use super::process;
use super::state::State;
use crate::error::CtlError;
use rmq_protocol::net::shutdown_signal;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// Restarts allowed per node within [`WINDOW`].
pub const MAX_RESTARTS: usize = 5;
/// The span [`MAX_RESTARTS`] counts over.
pub const WINDOW: Duration = Duration::from_secs(300);

/// Which restarts are still allowed: each node's restart times within the window.
#[derive(Debug, Default)]
pub struct RestartBudget {
    history: BTreeMap<String, VecDeque<Instant>>,
}

impl RestartBudget {
    /// Records a restart of `node` at `now` and returns how many it has had within the window
    /// (this one included), or `None` when it has used them all.
    pub fn take(&mut self, node: &str, now: Instant) -> Option<usize> {
        let times = self.history.entry(node.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= MAX_RESTARTS {
            return None;
        }
        times.push_back(now);
        Some(times.len())
    }
}

/// Supervises the nodes until Ctrl-C / SIGTERM (Ok) or a node exhausts its restarts (Err).
pub async fn foreground(
    state: &mut State,
    children: &mut BTreeMap<String, Child>,
    bins: &Binaries,
    state_dir: &Path,
    delay: Duration,
) -> Result<(), CtlError> {
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut budget = RestartBudget::default();
    // node index -> when it is due to start again
    let mut due: BTreeMap<usize, Instant> = BTreeMap::new();
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(Duration::from_millis(300)) => {}
        }
        let now = Instant::now();
        let ready: Vec<usize> = due
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(i, _)| *i)
            .collect();
        for i in ready {
            due.remove(&i);
            restart(state, i, children, bins)?;
            state.save(state_dir)?;
        }
        let dead: Vec<usize> = (0..state.nodes.len())
            .filter(|&i| !due.contains_key(&i) && exited(&state.nodes[i], children))
            .collect();
        for i in dead {
            let n = &state.nodes[i];
            let how = children
                .get_mut(&n.name)
                .and_then(|c| c.try_wait().ok().flatten())
                .map_or_else(|| "its process is gone".to_owned(), |s| s.to_string());
            let Some(k) = budget.take(&n.name, Instant::now()) else {
                return Err(CtlError::Local(format!(
                    "{} exited {MAX_RESTARTS} times within {} minutes ({how}); {}",
                    n.name,
                    WINDOW.as_secs() / 60,
                    last_lines(n)
                )));
            };
            eprintln!(
                "rmqctl: {} exited ({how}); starting it again in {}s (restart {k} of {MAX_RESTARTS} within {} minutes)",
                n.name,
                delay.as_secs(),
                WINDOW.as_secs() / 60
            );
            due.insert(i, now + delay);
        }
    }
}

/// Starts node `i` again with its recorded arguments (its exited child reaped first).
fn restart(
    state: &mut State,
    i: usize,
    children: &mut BTreeMap<String, Child>,
    bins: &Binaries,
) -> Result<(), CtlError> {
    let n = &mut state.nodes[i];
    if let Some(mut old) = children.remove(&n.name) {
        let _ = old.wait();
    }
    let bin = bins.of(n.kind);
    let child = process::spawn(bin, &n.args, &n.log, &n.dir).map_err(|e| {
        CtlError::Local(format!(
            "cannot start {} again ({}): {e}",
            n.name,
            bin.display()
        ))
    })?;
    n.pid = Some(child.id());
    children.insert(n.name.clone(), child);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_gets_five_restarts_per_window() {
        let mut b = RestartBudget::default();
        let t0 = Instant::now();
        for k in 1..=MAX_RESTARTS {
            assert_eq!(
                b.take("broker-a-0", t0 + Duration::from_secs(k as u64)),
                Some(k)
            );
        }
        assert_eq!(b.take("broker-a-0", t0 + Duration::from_secs(10)), None);
        assert_eq!(b.take("broker-a-1", t0), Some(1), "budgets are per node");
        // once the first restarts leave the window, restarts are allowed again
        let later = t0 + WINDOW + Duration::from_secs(2);
        assert_eq!(b.take("broker-a-0", later), Some(4));
    }
}
