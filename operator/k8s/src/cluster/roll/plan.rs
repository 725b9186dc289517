//! The roller's decision, pure: given what each broker pod and broker reports, which pod (if
//! any) restarts now, or what the roll waits for.
//!
//! Rules (Strimzi's KafkaRoller, made RocketMQ-aware):
//! - one pod of the cluster at a time, and only while every other broker pod is Ready: a pod
//!   that is down (restarting, crash-looping) holds the roll, and once it has been down longer
//!   than the stuck limit the roll stops with a reason instead of taking the next pod down;
//! - group by group (`broker-a` first), within a group the slaves first and the master last;
//! - before a pod goes, every slave of its group that runs must be in sync with its master
//!   (a restarted slave has caught up), and a master goes only when a slave is in sync;
//! - a master goes only once clients can send elsewhere: every other master and every
//!   nameserver has been Ready for [`Gates::route_settle`]. While a master is down its group
//!   leaves the topic routes; producers refresh routes only every 30 s
//!   (`pollNameServerInterval`), and a restarted nameserver learns brokers only at their next
//!   registration (every 30 s). Taking the next master down sooner leaves producers whose route
//!   holds that master alone with nowhere to send (seen: 140 failed sends in one roll);
//! - a pod that is itself down and needs the new spec may restart at once (the fix for a bad
//!   config is the next config).

use std::time::Duration;

/// Why a pod needs a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// Its pod template is not the StatefulSet's current revision (image, resources, ...).
    Template,
    /// The broker runs another `broker.conf` than the one desired for it (restart-only keys).
    Config,
}

impl Stale {
    fn reason(&self) -> &'static str {
        match self {
            Self::Template => "its pod template changed",
            Self::Config => "its broker.conf changed",
        }
    }
}

/// One broker pod as the roller sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodView {
    /// Pod name.
    pub name: String,
    /// brokerId: 0 is the master.
    pub broker_id: u32,
    /// The pod exists and its readiness probe passes (broker registered, store open).
    pub ready: bool,
    /// How long the pod has not been Ready (since its creation or its last Ready transition).
    pub not_ready_for: Duration,
    /// How long the pod has been Ready (zero when it is not).
    pub ready_for: Duration,
    /// Why it must restart, if it must; `None` also while the broker's config is unknown.
    pub stale: Option<Stale>,
}

/// A broker group: its pods and its replication state.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupView {
    /// `broker-a`, ...
    pub name: String,
    /// Every declared pod of the group, in broker id order.
    pub pods: Vec<PodView>,
    /// Slaves the master counts as in sync (`inSyncSlaveNums` of GET_BROKER_HA_STATUS), `None`
    /// when the master could not be asked.
    pub in_sync_slaves: Option<usize>,
}

impl GroupView {
    fn slaves(&self) -> usize {
        self.pods.iter().filter(|p| p.broker_id != 0).count()
    }

    fn running_slaves(&self) -> usize {
        self.pods
            .iter()
            .filter(|p| p.broker_id != 0 && p.ready)
            .count()
    }

    /// Every running slave is in sync (trivially true without slaves).
    fn slaves_in_sync(&self) -> bool {
        self.slaves() == 0
            || self
                .in_sync_slaves
                .is_some_and(|n| n >= self.running_slaves())
    }
}

/// What the roller does now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollStep {
    /// Every pod runs the desired spec.
    Done,
    /// Delete `pod` now (its StatefulSet recreates it from the current template).
    Restart {
        /// The pod.
        pod: String,
        /// Role, name and what changed.
        reason: String,
    },
    /// A pod needs a restart but a gate holds it.
    Wait {
        /// The pod that goes next.
        pod: String,
        /// The gate (`demo-broker-a-1 to be Ready`, a slave in sync, ...).
        waiting_for: String,
    },
    /// A pod has not become Ready within the limit: the roll stops here.
    Stuck {
        /// The pod that is not Ready.
        pod: String,
        /// For how long, and the limit.
        reason: String,
    },
}

/// The limits and outside facts a roll step is decided with.
#[derive(Debug, Clone, PartialEq)]
pub struct Gates {
    /// A pod not Ready for longer stops the roll.
    pub stuck_after: Duration,
    /// How long other masters and the nameservers must have been Ready before a master goes.
    pub route_settle: Duration,
    /// The shortest time any Ready nameserver has been Ready (`None`: none is).
    pub namesrv_ready_for: Option<Duration>,
}

/// Why clients could not yet send around master `pod` going down, if so.
fn routes_unsettled(groups: &[GroupView], pod: &PodView, gates: &Gates) -> Option<String> {
    let settle = gates.route_settle;
    let other_master = groups
        .iter()
        .flat_map(|g| g.pods.iter())
        .find(|p| p.broker_id == 0 && p.name != pod.name && p.ready_for < settle);
    if let Some(m) = other_master {
        return Some(format!(
            "clients to route to master {} again ({} s after it turned Ready, {} s needed)",
            m.name,
            m.ready_for.as_secs(),
            settle.as_secs()
        ));
    }
    match gates.namesrv_ready_for {
        Some(d) if d < settle => Some(format!(
            "a restarted nameserver to learn every broker ({} s after it turned Ready, {} s needed)",
            d.as_secs(),
            settle.as_secs()
        )),
        _ => None,
    }
}

/// The pods of a group in roll order: slaves (highest id first), then the master.
fn roll_order(group: &GroupView) -> Vec<&PodView> {
    let mut pods: Vec<&PodView> = group.pods.iter().collect();
    pods.sort_by_key(|p| (p.broker_id == 0, std::cmp::Reverse(p.broker_id)));
    pods
}

/// The next step of the roll over `groups` (in group order).
pub fn next_step(groups: &[GroupView], gates: &Gates) -> RollStep {
    let stuck_after = gates.stuck_after;
    let pending: Vec<(&GroupView, &PodView)> = groups
        .iter()
        .flat_map(|g| roll_order(g).into_iter().map(move |p| (g, p)))
        .filter(|(_, p)| p.stale.is_some())
        .collect();
    let down: Vec<&PodView> = groups
        .iter()
        .flat_map(|g| g.pods.iter())
        .filter(|p| !p.ready)
        .collect();
    // A pod that is down anyway and needs the new spec restarts at once: it serves nothing,
    // and the new spec may be its fix.
    if let Some(p) = down.iter().find(|p| p.stale.is_some()) {
        return restart(p, "it is not Ready");
    }
    if let Some(p) = down.iter().find(|p| p.not_ready_for > stuck_after) {
        return RollStep::Stuck {
            pod: p.name.clone(),
            reason: format!(
                "{} has not been Ready for {} s (limit {} s); no other pod restarts until it is",
                p.name,
                p.not_ready_for.as_secs(),
                stuck_after.as_secs()
            ),
        };
    }
    let Some((group, pod)) = pending.first() else {
        return RollStep::Done;
    };
    if let Some(p) = down.first() {
        return wait(pod, format!("{} to be Ready", p.name));
    }
    if let Some(g) = groups.iter().find(|g| !g.slaves_in_sync()) {
        return wait(
            pod,
            format!("the slaves of {} to catch up with their master", g.name),
        );
    }
    if pod.broker_id == 0 && group.slaves() > 0 && group.in_sync_slaves.unwrap_or(0) == 0 {
        return wait(
            pod,
            format!("a slave of {} in sync before its master goes", group.name),
        );
    }
    if pod.broker_id == 0
        && let Some(why) = routes_unsettled(groups, pod, gates)
    {
        return wait(pod, why);
    }
    restart(pod, "")
}

fn restart(pod: &PodView, extra: &str) -> RollStep {
    let role = if pod.broker_id == 0 {
        "master"
    } else {
        "slave"
    };
    let why = pod.stale.as_ref().map_or("", Stale::reason);
    let mut reason = format!("{role} {}: {why}", pod.name);
    if !extra.is_empty() {
        reason.push_str(" and ");
        reason.push_str(extra);
    }
    RollStep::Restart {
        pod: pod.name.clone(),
        reason,
    }
}

fn wait(pod: &PodView, waiting_for: String) -> RollStep {
    RollStep::Wait {
        pod: pod.name.clone(),
        waiting_for,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
