//! One observation of a cluster shared by its topic and group reconciles.
//!
//! Observing a cluster reads every ownership record from every nameserver and every topic and
//! group from every master: O(objects) per call. Done once per reconcile, 1,000 Topic CRs
//! created together cost O(n²) and queue behind each other (200 CRs took p99 9 s). Instead each
//! cluster keeps one snapshot: reconciles that arrive together share one observation (one
//! refresh at a time; the others wait for it), each plans against it and writes what its own
//! actions changed back into it ([`Observed::record`]), so the next CR is planned against the
//! state the previous ones produced.
//!
//! A snapshot is used for at most [`MAX_AGE`]: a resync still sees changes made behind the
//! operator's back (drift) within that bound. Any failure (a broker call refused, a master
//! missing) drops the snapshot, so the retry observes afresh. The cluster's CR (its nameservers
//! and broker groups) is read through the same object at most every [`MAX_AGE`] too.

use rmq_model::admin::Admin;
use rmq_model::plan::{Action, Observed};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long a snapshot may be planned against.
pub const MAX_AGE: Duration = Duration::from_secs(2);

/// The snapshots of every cluster, by `<namespace>/<cluster>`.
#[derive(Default)]
pub struct Observations {
    clusters: Mutex<HashMap<String, Arc<ClusterObservation>>>,
}

impl Observations {
    /// The observation of cluster `key` (`<namespace>/<cluster>`), created on first use.
    pub fn of(&self, key: &str) -> Arc<ClusterObservation> {
        let mut map = match self.clusters.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(key.to_owned()).or_default().clone()
    }
}

/// A snapshot and when it was taken.
struct Snapshot {
    observed: Observed,
    taken: Instant,
}

/// One cluster's shared snapshot.
#[derive(Default)]
pub struct ClusterObservation {
    /// Held while observing, so concurrent reconciles observe once.
    refreshing: tokio::sync::Mutex<()>,
    snapshot: RwLock<Option<Snapshot>>,
    /// The cluster's admin client and declared broker groups, read from its CR at most every
    /// [`MAX_AGE`] (not once per topic reconcile).
    pub cluster: Recent<(Arc<Admin>, Vec<String>)>,
}

/// A value kept for at most [`MAX_AGE`].
pub struct Recent<T> {
    slot: Mutex<Option<(Instant, T)>>,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }
}

impl<T: Clone> Recent<T> {
    /// The kept value when younger than [`MAX_AGE`]; else `load`'s, kept when it is `Some`.
    pub async fn get_or_load<E, Fut>(&self, load: impl FnOnce() -> Fut) -> Result<Option<T>, E>
    where
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        if let Some((taken, v)) = self.lock().as_ref()
            && taken.elapsed() < MAX_AGE
        {
            return Ok(Some(v.clone()));
        }
        let loaded = load().await?;
        if let Some(v) = &loaded {
            *self.lock() = Some((Instant::now(), v.clone()));
        }
        Ok(loaded)
    }

    /// Forgets the kept value.
    pub fn clear(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, T)>> {
        match self.slot.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl ClusterObservation {
    /// Runs `use_it` on a snapshot no older than [`MAX_AGE`] taken from `name_servers`,
    /// observing with `observe` first when there is none. `use_it` must not block (it runs under
    /// the snapshot's read lock): planning is pure.
    pub async fn with<T, E, F, Fut>(
        &self,
        name_servers: &[String],
        observe: F,
        use_it: impl FnOnce(&Observed) -> T,
    ) -> Result<T, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Observed, E>>,
    {
        if !self.is_fresh(name_servers) {
            let _one_at_a_time = self.refreshing.lock().await;
            if !self.is_fresh(name_servers) {
                let observed = observe().await?;
                *self.write() = Some(Snapshot {
                    observed,
                    taken: Instant::now(),
                });
            }
        }
        let guard = match self.snapshot.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Just refreshed (or fresh): an empty slot here means another task dropped it in
        // between; an empty observation plans the same as one that found nothing.
        let empty = Observed::default();
        let observed = guard.as_ref().map_or(&empty, |s| &s.observed);
        Ok(use_it(observed))
    }

    /// Writes executed `actions` into the snapshot.
    pub fn record(&self, actions: &[Action]) {
        if let Some(s) = self.write().as_mut() {
            for a in actions {
                s.observed.record(a);
            }
        }
    }

    /// Drops the snapshot and the cluster read from its CR: the next reconcile observes afresh.
    pub fn invalidate(&self) {
        *self.write() = None;
        self.cluster.clear();
    }

    fn is_fresh(&self, name_servers: &[String]) -> bool {
        let guard = match self.snapshot.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        guard
            .as_ref()
            .is_some_and(|s| s.taken.elapsed() < MAX_AGE && s.observed.name_servers == name_servers)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Snapshot>> {
        match self.snapshot.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ns() -> Vec<String> {
        vec!["ns0:9876".to_owned()]
    }

    async fn observe_counting(calls: &AtomicUsize) -> Result<Observed, String> {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(Observed {
            name_servers: ns(),
            ..Observed::default()
        })
    }

    #[tokio::test]
    async fn concurrent_users_share_one_observation() {
        let obs = Arc::new(ClusterObservation::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (obs, calls) = (obs.clone(), calls.clone());
                tokio::spawn(async move {
                    obs.with(&ns(), || observe_counting(&calls), |o| o.name_servers.len())
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.expect("join"), Ok(1));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn invalidation_and_other_nameservers_observe_again() {
        let obs = ClusterObservation::default();
        let calls = AtomicUsize::new(0);
        let run = |servers: Vec<String>| {
            let (obs, calls) = (&obs, &calls);
            async move { obs.with(&servers, || observe_counting(calls), |_| ()).await }
        };
        run(ns()).await.expect("first");
        run(ns()).await.expect("cached");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        obs.invalidate();
        run(ns()).await.expect("after invalidate");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        run(vec!["other:9876".to_owned()])
            .await
            .expect("other list");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_recent_value_is_kept_for_max_age_and_none_is_not_kept() {
        let recent: Recent<u32> = Recent::default();
        let calls = AtomicUsize::new(0);
        let load = |v: Option<u32>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, ()>(v) }
        };
        assert_eq!(recent.get_or_load(|| load(None)).await, Ok(None));
        assert_eq!(recent.get_or_load(|| load(Some(7))).await, Ok(Some(7)));
        assert_eq!(recent.get_or_load(|| load(Some(8))).await, Ok(Some(7)));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        recent.clear();
        assert_eq!(recent.get_or_load(|| load(Some(9))).await, Ok(Some(9)));
    }

    #[tokio::test]
    async fn a_failed_observation_is_returned_and_not_kept() {
        let obs = ClusterObservation::default();
        let r: Result<(), String> = obs
            .with(&ns(), || async { Err("down".to_owned()) }, |_| ())
            .await;
        assert_eq!(r, Err("down".to_owned()));
        assert!(!obs.is_fresh(&ns()));
    }
}
