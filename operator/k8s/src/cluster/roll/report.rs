//! How a roll step shows in the cluster's status (pure): `status.roll`, and the conditions a
//! roll overrides — a roll in progress is `Ready=False`/`Progressing=True` (reason
//! `RollingUpdate`) even when only configs change and every StatefulSet looks current; a stuck
//! roll is `Degraded=True` (reason `RollStuck`) naming the pod and the limit.

use super::plan::RollStep;
use crate::conditions::cond;
use rmq_model::types::condition_types::{DEGRADED, PROGRESSING, READY};
use rmq_model::{Condition, RollStatus};

/// `status.roll` for a step (`None` when the roll is done).
pub fn roll_status(step: &RollStep) -> Option<RollStatus> {
    let (pod, phase, message) = match step {
        RollStep::Done => return None,
        RollStep::Restart { pod, reason } => (pod, "Restarting", reason.clone()),
        RollStep::Wait { pod, waiting_for } => {
            (pod, "Waiting", format!("waiting for {waiting_for}"))
        }
        RollStep::Stuck { pod, reason } => (pod, "Stuck", reason.clone()),
    };
    Some(RollStatus {
        pod: pod.clone(),
        phase: phase.to_owned(),
        message,
    })
}

/// `conds` as computed from the StatefulSets, with the roll's view laid over them.
pub fn overlay(conds: Vec<Condition>, roll: Option<&RollStatus>) -> Vec<Condition> {
    let Some(r) = roll else {
        return conds;
    };
    let msg = format!("{} ({}): {}", r.pod, r.phase, r.message);
    let (reason, progressing, degraded) = if r.phase == "Stuck" {
        ("RollStuck", false, true)
    } else {
        ("RollingUpdate", true, false)
    };
    conds
        .into_iter()
        .map(|c| match c.type_.as_str() {
            READY => cond(READY, false, reason, format!("rolling brokers: {msg}")),
            PROGRESSING => cond(PROGRESSING, progressing, reason, msg.clone()),
            DEGRADED if degraded => cond(DEGRADED, true, reason, msg.clone()),
            DEGRADED => cond(DEGRADED, false, "AsExpected", "a roll is in progress"),
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_model::ConditionStatus;

    fn base() -> Vec<Condition> {
        vec![
            cond(READY, true, "AllReplicasReady", "ok"),
            cond(PROGRESSING, false, "RolloutComplete", "done"),
            cond(DEGRADED, false, "AsExpected", "ok"),
        ]
    }

    fn status_of(cs: &[Condition], t: &str) -> (ConditionStatus, String) {
        let c = cs.iter().find(|c| c.type_ == t).unwrap();
        (c.status, c.reason.clone())
    }

    #[test]
    fn done_leaves_the_conditions_alone() {
        assert_eq!(roll_status(&RollStep::Done), None);
        assert_eq!(overlay(base(), None), base());
    }

    #[test]
    fn a_config_only_roll_is_progressing() {
        let step = RollStep::Wait {
            pod: "demo-broker-a-0".into(),
            waiting_for: "a slave of broker-a in sync".into(),
        };
        let r = roll_status(&step).unwrap();
        assert_eq!(r.phase, "Waiting");
        let cs = overlay(base(), Some(&r));
        assert_eq!(
            status_of(&cs, READY),
            (ConditionStatus::False, "RollingUpdate".into())
        );
        assert_eq!(
            status_of(&cs, PROGRESSING),
            (ConditionStatus::True, "RollingUpdate".into())
        );
        assert_eq!(status_of(&cs, DEGRADED).0, ConditionStatus::False);
    }

    #[test]
    fn a_stuck_roll_is_degraded_and_names_the_pod() {
        let step = RollStep::Stuck {
            pod: "demo-broker-a-1".into(),
            reason: "demo-broker-a-1 has not been Ready for 700 s".into(),
        };
        let cs = overlay(base(), roll_status(&step).as_ref());
        let d = cs.iter().find(|c| c.type_ == DEGRADED).unwrap();
        assert_eq!(d.status, ConditionStatus::True);
        assert_eq!(d.reason, "RollStuck");
        assert!(d.message.contains("demo-broker-a-1"), "{}", d.message);
        assert_eq!(status_of(&cs, PROGRESSING).0, ConditionStatus::False);
    }
}
