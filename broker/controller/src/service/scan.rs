//! The leader's scan for dead masters (Java's `scanInactiveMasterAndTriggerReelect`): every
//! `scanNotActiveBrokerInterval`, a leader that has led for a heartbeat timeout elects a new
//! master in every group whose master stopped heartbeating while another member is alive.

use super::Controller;
use crate::codes;
use crate::liveness::needs_election;
use rmq_protocol::RemotingCommand;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Scans until `stop` is cancelled.
pub async fn run(controller: Arc<Controller>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(controller.config.scan_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => controller.scan_once().await,
        }
    }
}

impl Controller {
    /// One scan: expire silent brokers, and elect where a master is gone.
    pub async fn scan_once(&self) {
        let now = self.now_ms();
        let leader = self.is_leader();
        let groups = {
            let mut live = self.liveness.lock();
            live.set_leader(leader, now);
            for (group, id) in live.expire(now) {
                tracing::info!(group, id, "broker stopped heartbeating");
            }
            if !live.may_judge(now) {
                return;
            }
            needs_election(&self.state(), &live, now)
        };
        for group in groups {
            tracing::warn!(group, "the master stopped heartbeating: electing a new one");
            let request = RemotingCommand::request(codes::ELECT_MASTER);
            match self.elect(&request, &group, None, false).await {
                Ok(_) => {}
                Err(r) => tracing::warn!(
                    group,
                    code = r.code,
                    remark = %r.remark,
                    "election failed"
                ),
            }
        }
    }
}
