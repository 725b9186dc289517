//! [`FailureCounter`]: per-connection limit on failed authentication attempts, so a peer cannot
//! guess secrets at wire speed. A pure state machine: the caller passes the time in.

use crate::decide::{Denial, DenyReason};
use std::time::{Duration, Instant};

/// How many failures are tolerated, and for how long they count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimit {
    /// Failures within one window after which requests are refused unchecked.
    pub max_failures: u32,
    /// The window, counted from the first failure in it; the refusal lasts until it ends.
    pub window: Duration,
}

impl Default for FailureLimit {
    /// 10 failures per minute.
    fn default() -> Self {
        Self {
            max_failures: 10,
            window: Duration::from_secs(60),
        }
    }
}

/// Counts one connection's failed attempts.
#[derive(Debug, Clone)]
pub struct FailureCounter {
    limit: FailureLimit,
    failures: u32,
    window_start: Option<Instant>,
}

impl FailureCounter {
    /// A counter with no failures yet.
    pub fn new(limit: FailureLimit) -> Self {
        Self {
            limit,
            failures: 0,
            window_start: None,
        }
    }

    /// `Some(denial)` while the connection is refused: answer with it and check nothing.
    pub fn check(&mut self, now: Instant) -> Option<Denial> {
        self.expire(now);
        let start = self.window_start?;
        if self.failures < self.limit.max_failures {
            return None;
        }
        let left = (start + self.limit.window).saturating_duration_since(now);
        Some(Denial::new(
            DenyReason::TooManyFailures,
            format!(
                "ACL: {} failed authentication attempts on this connection; requests are refused \
                 for {}s more; fix the client's accessKey/secretKey",
                self.failures,
                left.as_secs().max(1)
            ),
        ))
    }

    /// Records a failed attempt (see [`DenyReason::is_authentication_failure`]).
    pub fn record_failure(&mut self, now: Instant) {
        self.expire(now);
        if self.window_start.is_none() {
            self.window_start = Some(now);
        }
        self.failures = self.failures.saturating_add(1);
    }

    /// Failures counted in the current window.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    fn expire(&mut self, now: Instant) {
        if let Some(start) = self.window_start
            && now.saturating_duration_since(start) >= self.limit.window
        {
            self.window_start = None;
            self.failures = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_limit_until_the_window_ends() {
        let limit = FailureLimit {
            max_failures: 3,
            window: Duration::from_secs(10),
        };
        let mut c = FailureCounter::new(limit);
        let t0 = Instant::now();
        assert!(c.check(t0).is_none());
        for i in 0..3 {
            assert!(
                c.check(t0 + Duration::from_secs(i)).is_none(),
                "failure {i}"
            );
            c.record_failure(t0 + Duration::from_secs(i));
        }
        let d = c.check(t0 + Duration::from_secs(4)).expect("refused");
        assert_eq!(d.reason, DenyReason::TooManyFailures);
        assert_eq!(d.code, 16);
        assert!(d.remark.contains("3 failed"), "{}", d.remark);
        assert!(d.remark.contains("6s"), "{}", d.remark);
        assert!(c.check(t0 + Duration::from_millis(9_999)).is_some());
        assert!(c.check(t0 + Duration::from_secs(10)).is_none());
        assert_eq!(c.failures(), 0);
    }

    #[test]
    fn failures_spread_over_windows_never_block() {
        let mut c = FailureCounter::new(FailureLimit {
            max_failures: 2,
            window: Duration::from_secs(5),
        });
        let t0 = Instant::now();
        for i in 0..10 {
            let t = t0 + Duration::from_secs(6 * i);
            assert!(c.check(t).is_none());
            c.record_failure(t);
            assert_eq!(c.failures(), 1);
        }
    }

    #[test]
    fn default_is_ten_a_minute() {
        let l = FailureLimit::default();
        assert_eq!((l.max_failures, l.window), (10, Duration::from_secs(60)));
    }
}
