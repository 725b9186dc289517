//! The state every reconcile receives: the client, metrics, the event recorder and the
//! operator's settings. Built once in `main` and passed as `Arc<Context>`; nothing is global, so
//! one operator serves many clusters in any namespace.

use crate::metrics::Metrics;
use crate::observation::Observations;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource};
use rmq_model::DesiredCluster;
use rmq_model::admin::Admin;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Operator settings (from flags / the chart's values).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Image of cluster pods when `spec.image` is absent; with `spec.version` set, its tag is
    /// replaced by the version.
    pub default_image: String,
    /// Image pull policy of cluster pods (`IfNotPresent` unless told).
    pub image_pull_policy: Option<String>,
    /// DNS suffix after `svc` (`cluster.local`), or none for `<name>.<ns>.svc`.
    pub cluster_domain: Option<String>,
    /// How often topics and groups are re-checked against the brokers (drift is reverted then).
    pub resync: Duration,
    /// Timeout of one admin call.
    pub admin_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            default_image: format!("ghcr.io/rmq-dev/rmq:{}", rmq_model::defaults::VERSION),
            image_pull_policy: None,
            cluster_domain: None,
            resync: Duration::from_secs(60),
            admin_timeout: Duration::from_secs(5),
        }
    }
}

/// What every reconcile gets.
#[derive(Clone)]
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Reconcile counters and durations.
    pub metrics: Arc<Metrics>,
    /// Publishes Kubernetes Events.
    pub recorder: Recorder,
    /// What the operator was started with.
    pub settings: Settings,
    /// Admin clients by cluster (`<ns>/<name>` + nameserver list), so topic and group
    /// reconciles of a cluster reuse their connections to its nameservers and brokers. Owned by
    /// this context, not the process: every cluster gets its own.
    admins: Arc<Mutex<HashMap<String, Arc<Admin>>>>,
    /// One shared observation per cluster for topic and group reconciles (see
    /// [`crate::observation`]).
    pub observations: Arc<Observations>,
}

impl Context {
    /// A context reporting Events as `rmq-operator` (instance = this pod's name when known).
    pub fn new(client: Client, metrics: Arc<Metrics>, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: crate::labels::MANAGER.to_owned(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            settings,
            admins: Arc::default(),
            observations: Arc::default(),
        }
    }

    /// The admin client of cluster `<ns>/<cluster>` as `desired` places its nameservers, with
    /// the credentials and TLS of its `spec.security` (read from its Secrets). Created on first
    /// use and reused while the nameservers and the Secrets' versions stay the same; a rotated
    /// Secret replaces the client.
    pub async fn admin(
        &self,
        ns: &str,
        cluster: &str,
        desired: &DesiredCluster,
    ) -> crate::Result<Arc<Admin>> {
        let name_servers: Vec<String> = desired
            .name_servers
            .iter()
            .map(|n| n.endpoint.address())
            .collect();
        let (security, stamp) =
            crate::admin_security::load(&self.client, ns, &desired.security).await?;
        let prefix = format!("{ns}/{cluster}@");
        let key = format!("{prefix}{}#{stamp}", name_servers.join(";"));
        let mut map = match self.admins.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if !map.contains_key(&key) {
            // a changed Secret or nameserver list: the old client of this cluster goes
            map.retain(|k, _| !k.starts_with(&prefix));
        }
        Ok(map
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Admin::with_security(
                    name_servers,
                    Duration::from_secs(3),
                    self.settings.admin_timeout,
                    security,
                ))
            })
            .clone())
    }

    /// Publishes `ev` about `obj`; a failure is logged, never fatal to the reconcile.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, ev: Event) {
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, reason = %ev.reason, "publishing an event failed");
        }
    }
}

/// An Event of a reconcile (action `Reconcile`), its note cut to 1000 characters.
pub fn reconcile_event(type_: EventType, reason: &str, note: &str) -> Event {
    Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.chars().take(1000).collect()),
        action: "Reconcile".to_owned(),
        secondary: None,
    }
}

/// An Api over one namespace, or all of them.
pub fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}
