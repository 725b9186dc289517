//! Leader election on a `coordination.k8s.io/v1` Lease (the client-go algorithm, simplified):
//! a replica takes the Lease when it is free or expired, renews it every `renew` interval with an
//! optimistic-concurrency replace (resourceVersion), and reports leadership lost when it could
//! not renew before the lease expired. Releasing on shutdown empties the holder so a standby
//! takes over at once instead of waiting out the lease.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use std::time::Duration;

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Namespace of the Lease (the operator's own).
    pub namespace: String,
    /// The Lease every replica competes for (`--lease-name`).
    pub name: String,
    /// This replica's identity (pod name).
    pub identity: String,
    /// How long a lease is valid without renewal.
    pub duration: Duration,
    /// How often the holder renews / a candidate retries.
    pub retry: Duration,
}

/// A held lease.
pub struct Leadership {
    api: Api<Lease>,
    config: LeaseConfig,
}

fn expired(spec: &LeaseSpec, now: Timestamp) -> bool {
    let Some(renew) = spec.renew_time.as_ref() else {
        return true;
    };
    let secs = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    renew.0 + SignedDuration::from_secs(secs) < now
}

impl Leadership {
    /// Blocks until this replica holds the lease.
    pub async fn acquire(client: Client, config: LeaseConfig) -> Self {
        let api: Api<Lease> = Api::namespaced(client, &config.namespace);
        let me = Self { api, config };
        loop {
            match me.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %me.config.name, identity = %me.config.identity, "became leader");
                    return me;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "leader election: lease call failed"),
            }
            tokio::time::sleep(me.config.retry).await;
        }
    }

    /// One attempt: `Ok(true)` if this replica holds the lease afterwards.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let secs = i32::try_from(self.config.duration.as_secs()).unwrap_or(15);
        let existing = self.api.get_opt(&self.config.name).await?;
        let Some(mut lease) = existing else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == self.config.identity;
        if !mine && !holder.is_empty() && !expired(&spec, now) {
            return Ok(false);
        }
        let mut new = spec.clone();
        if !mine {
            new.acquire_time = Some(MicroTime(now));
            new.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        new.holder_identity = Some(self.config.identity.clone());
        new.lease_duration_seconds = Some(secs);
        new.renew_time = Some(MicroTime(now));
        lease.spec = Some(new);
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Renews until renewal fails for longer than the lease duration; returns then (leadership
    /// is lost and the caller must stop acting as leader).
    pub async fn keep(&self) {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.config.retry).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::error!("leader lease taken by another replica");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "renewing the leader lease failed"),
            }
            if last_ok.elapsed() > self.config.duration {
                tracing::error!("could not renew the leader lease in time");
                return;
            }
        }
    }

    /// Gives the lease up so a standby replica takes over immediately.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!("released the leader lease"),
            Err(e) => tracing::warn!(error = %e, "releasing the leader lease failed"),
        }
    }
}
