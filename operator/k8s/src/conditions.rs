//! Status conditions: building them and merging a freshly computed set with the previous one so
//! `lastTransitionTime` only moves when a condition's status changes (what `kubectl wait` and
//! people reading `kubectl describe` expect).

use rmq_model::{Condition, ConditionStatus};

/// `ReconciliationPaused`: the pause annotation is set.
pub const PAUSED: &str = "ReconciliationPaused";

/// Now as RFC 3339 with second precision (`2026-11-25T14:00:00Z`).
pub fn now_rfc3339() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

/// A condition with `status` given as a bool.
pub fn cond(type_: &str, ok: bool, reason: &str, message: impl Into<String>) -> Condition {
    let status = if ok {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    Condition::new(type_, status, reason, message)
}

/// Merges `new` over `old`: keeps `old`'s transition time for conditions whose status did not
/// change, stamps `now` on the rest, and sets `observedGeneration` on all.
pub fn merge(
    old: &[Condition],
    new: Vec<Condition>,
    generation: Option<i64>,
    now: &str,
) -> Vec<Condition> {
    new.into_iter()
        .map(|mut c| {
            let prev = old.iter().find(|o| o.type_ == c.type_);
            c.last_transition_time = match prev {
                Some(p) if p.status == c.status => p
                    .last_transition_time
                    .clone()
                    .or_else(|| Some(now.to_owned())),
                _ => Some(now.to_owned()),
            };
            c.observed_generation = generation;
            c
        })
        .collect()
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True if the condition of `type_` is present with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == ConditionStatus::True)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let old = merge(&[], vec![cond("Ready", false, "A", "a")], Some(1), "t1");
        let same = merge(&old, vec![cond("Ready", false, "B", "b")], Some(2), "t2");
        assert_eq!(same[0].last_transition_time.as_deref(), Some("t1"));
        assert_eq!(same[0].observed_generation, Some(2));
        let flipped = merge(&same, vec![cond("Ready", true, "C", "c")], Some(2), "t3");
        assert_eq!(flipped[0].last_transition_time.as_deref(), Some("t3"));
    }
}
