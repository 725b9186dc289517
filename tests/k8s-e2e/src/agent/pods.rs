//! Pods bound to the node, run as processes: start, probe, restart, report status, stop.
//! One pass every 500 ms over the API (lists, not watches: a handful of pods, and a pass is
//! idempotent, so a missed event or an agent restart cannot leave a pod behind).

use super::hosts::{self, PodAddr};
use super::{Config, now, spawn, volumes};
use k8s_openapi::api::core::v1::{Container, Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::process::Child;

struct Proc {
    spec: Container,
    env: BTreeMap<String, String>,
    script: String,
    log: PathBuf,
    child: Option<Child>,
    restarts: i32,
    next_start: Instant,
    started_at: String,
    up_since: Instant,
}

struct Running {
    name: String,
    namespace: String,
    ip: String,
    procs: Vec<Proc>,
    reported: Option<serde_json::Value>,
    started: String,
}

/// The pod runner's state.
pub struct Runner {
    client: Client,
    cfg: Config,
    pods: HashMap<String, Running>,
    failed: HashMap<String, (String, Instant)>,
    next_ip: u32,
    hosts: String,
}

fn probe_port(c: &Container) -> Option<u16> {
    let p = c.readiness_probe.as_ref()?.tcp_socket.as_ref()?;
    match &p.port {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .and_then(|cp| u16::try_from(cp.container_port).ok()),
    }
}

async fn tcp_ok(ip: &str, port: u16) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect((ip, port))
        )
        .await,
        Ok(Ok(_))
    )
}

async fn terminate(mut procs: Vec<Proc>, grace: Duration) {
    for p in &procs {
        if let Some(pid) = p.child.as_ref().and_then(Child::id) {
            let _ = tokio::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
    }
    let deadline = Instant::now() + grace;
    for p in &mut procs {
        if let Some(child) = p.child.as_mut() {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, child.wait()).await.is_err() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }
}

impl Runner {
    /// A runner.
    pub fn new(client: Client, cfg: Config) -> Self {
        Self {
            client,
            cfg,
            pods: HashMap::new(),
            failed: HashMap::new(),
            next_ip: 0,
            hosts: String::new(),
        }
    }

    fn alloc_ip(&mut self) -> String {
        let n = self.next_ip;
        self.next_ip += 1;
        format!("127.77.{}.{}", n / 250, n % 250 + 2)
    }

    /// One pass.
    pub async fn pass(&mut self) -> Result<(), kube::Error> {
        let api: Api<Pod> = Api::all(self.client.clone());
        let lp = ListParams::default().fields(&format!("spec.nodeName={}", self.cfg.node));
        let list = api.list(&lp).await?;
        let mut seen = Vec::new();
        for pod in &list.items {
            let uid = pod.uid().unwrap_or_default();
            seen.push(uid.clone());
            if pod.metadata.deletion_timestamp.is_some() {
                self.delete(pod).await;
                continue;
            }
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default();
            if !self.pods.contains_key(&uid) && phase != "Succeeded" && phase != "Failed" {
                self.start(pod).await;
            }
        }
        let gone: Vec<String> = self
            .pods
            .keys()
            .filter(|u| !seen.contains(u))
            .cloned()
            .collect();
        for uid in gone {
            if let Some(r) = self.pods.remove(&uid) {
                tracing::info!(pod = %r.name, ns = %r.namespace, "pod gone from the API: stopping its processes");
                tokio::spawn(terminate(r.procs, Duration::from_secs(2)));
            }
        }
        self.supervise().await;
        self.report(&list.items).await;
        self.write_hosts(&list.items).await;
        Ok(())
    }

    async fn delete(&mut self, pod: &Pod) {
        let uid = pod.uid().unwrap_or_default();
        let ns = pod.namespace().unwrap_or_default();
        let grace = pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .clamp(0, i64::try_from(self.cfg.max_grace_seconds).unwrap_or(10));
        if let Some(r) = self.pods.remove(&uid) {
            tracing::info!(pod = %r.name, %ns, "stopping (pod terminating)");
            terminate(
                r.procs,
                Duration::from_secs(u64::try_from(grace).unwrap_or(0)),
            )
            .await;
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let dp = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&pod.name_any(), &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => tracing::warn!(error = %e, pod = %pod.name_any(), "deleting the pod failed"),
        }
    }

    async fn start(&mut self, pod: &Pod) {
        let uid = pod.uid().unwrap_or_default();
        if let Some((_, at)) = self.failed.get(&uid)
            && at.elapsed() < Duration::from_secs(3)
        {
            return;
        }
        let name = pod.name_any();
        let ns = pod.namespace().unwrap_or_default();
        let ip = self.alloc_ip();
        let dir = self
            .cfg
            .state_dir
            .join("pods")
            .join(format!("{ns}_{name}_{}", &uid[..uid.len().min(8)]));
        match self.prepare(pod, &ip, &dir).await {
            Ok(Some(procs)) => {
                self.failed.remove(&uid);
                tracing::info!(pod = %name, %ns, %ip, "started");
                self.pods.insert(
                    uid,
                    Running {
                        name,
                        namespace: ns,
                        ip,
                        procs,
                        reported: None,
                        started: now(),
                    },
                );
            }
            Ok(None) => {}
            Err(msg) => {
                tracing::warn!(pod = %name, %ns, error = %msg, "cannot start the pod");
                let first = self.failed.get(&uid).is_none_or(|(m, _)| *m != msg);
                self.failed.insert(uid, (msg.clone(), Instant::now()));
                if first {
                    let status = json!({"status": {"phase": "Pending", "conditions": [
                        {"type": "Ready", "status": "False", "reason": "AgentError", "message": msg},
                        {"type": "PodScheduled", "status": "True"}]}});
                    let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
                    let _ = api
                        .patch_status(
                            &pod.name_any(),
                            &PatchParams::default(),
                            &Patch::Merge(&status),
                        )
                        .await;
                }
            }
        }
    }

    async fn prepare(
        &self,
        pod: &Pod,
        ip: &str,
        dir: &std::path::Path,
    ) -> Result<Option<Vec<Proc>>, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let Some(mounted) = volumes::materialise(&self.client, &self.cfg, pod, ip, dir).await?
        else {
            return Ok(None);
        };
        let mut procs = Vec::new();
        for c in pod
            .spec
            .as_ref()
            .map(|s| s.containers.clone())
            .unwrap_or_default()
        {
            let env = spawn::environment(&self.client, &self.cfg, pod, &c, ip).await?;
            let script = spawn::mount_script(&self.cfg, &c, &mounted)?;
            let log = dir.join(format!("{}.log", c.name));
            let mut cmd = spawn::command(&self.cfg, &c, &env, &script, &log)?;
            let child = cmd
                .spawn()
                .map_err(|e| format!("starting {}: {e}", c.name))?;
            procs.push(Proc {
                spec: c,
                env,
                script,
                log,
                child: Some(child),
                restarts: 0,
                next_start: Instant::now(),
                started_at: now(),
                up_since: Instant::now(),
            });
        }
        Ok(Some(procs))
    }

    async fn supervise(&mut self) {
        for r in self.pods.values_mut() {
            for p in &mut r.procs {
                if let Some(child) = p.child.as_mut()
                    && let Ok(Some(status)) = child.try_wait()
                {
                    tracing::warn!(pod = %r.name, container = %p.spec.name, %status, "container exited; restarting");
                    p.child = None;
                    p.restarts += 1;
                    let backoff = 1u64 << p.restarts.clamp(0, 3);
                    p.next_start = Instant::now() + Duration::from_secs(backoff);
                }
                if p.child.is_none() && Instant::now() >= p.next_start {
                    match spawn::command(&self.cfg, &p.spec, &p.env, &p.script, &p.log)
                        .and_then(|mut c| c.spawn().map_err(|e| e.to_string()))
                    {
                        Ok(child) => {
                            p.child = Some(child);
                            p.started_at = now();
                            p.up_since = Instant::now();
                        }
                        Err(e) => tracing::warn!(pod = %r.name, error = %e, "restart failed"),
                    }
                }
            }
        }
    }

    async fn report(&mut self, pods: &[Pod]) {
        for r in self.pods.values_mut() {
            let mut statuses = Vec::new();
            let mut all_ready = true;
            let image = |p: &Proc| p.spec.image.clone().unwrap_or_default();
            for p in &r.procs {
                let running = p.child.is_some();
                let ready = running
                    && match probe_port(&p.spec) {
                        Some(port) => tcp_ok(&r.ip, port).await,
                        // HTTP/exec probes are not run: ready once it stayed up for 3 s.
                        None => p.up_since.elapsed() >= Duration::from_secs(3),
                    };
                all_ready &= ready;
                let state = if running {
                    json!({"running": {"startedAt": p.started_at}})
                } else {
                    json!({"waiting": {"reason": "CrashLoopBackOff", "message": "restarting after an exit"}})
                };
                statuses.push(json!({"name": p.spec.name, "ready": ready, "restartCount": p.restarts,
                    "image": image(p), "imageID": format!("rmq-node-agent://{}", image(p)),
                    "containerID": format!("rmq-node-agent://{}", p.child.as_ref().and_then(Child::id).unwrap_or(0)),
                    "started": running, "state": state}));
            }
            let rs = if all_ready { "True" } else { "False" };
            let status = json!({"status": {
                "phase": "Running", "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
                "podIP": r.ip, "podIPs": [{"ip": r.ip}], "startTime": r.started,
                "conditions": [
                    {"type": "PodReadyToStartContainers", "status": "True"},
                    {"type": "Initialized", "status": "True"},
                    {"type": "ContainersReady", "status": rs},
                    {"type": "Ready", "status": rs},
                    {"type": "PodScheduled", "status": "True"}],
                "containerStatuses": statuses}});
            let exists = pods.iter().any(|p| {
                p.name_any() == r.name && p.namespace().as_deref() == Some(r.namespace.as_str())
            });
            if r.reported.as_ref() == Some(&status) || !exists {
                continue;
            }
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &r.namespace);
            match api
                .patch_status(&r.name, &PatchParams::default(), &Patch::Merge(&status))
                .await
            {
                Ok(_) => r.reported = Some(status),
                Err(e) => tracing::warn!(pod = %r.name, error = %e, "status patch failed"),
            }
        }
    }

    async fn write_hosts(&mut self, pods: &[Pod]) {
        let services: Vec<Service> = match Api::<Service>::all(self.client.clone())
            .list(&ListParams::default())
            .await
        {
            Ok(l) => l.items,
            Err(e) => {
                tracing::warn!(error = %e, "listing services failed");
                return;
            }
        };
        let mut addrs = Vec::new();
        for p in pods {
            if let Some(r) = self.pods.get(&p.uid().unwrap_or_default()) {
                let ready = r
                    .reported
                    .as_ref()
                    .is_some_and(|s| s["status"]["conditions"][3]["status"] == "True");
                addrs.push(PodAddr::from_pod(p, &r.ip, ready));
            }
        }
        let text = hosts::render(&services, &addrs);
        if text != self.hosts {
            match hosts::write_in_place(&self.cfg.hosts_file(), &text) {
                Ok(()) => self.hosts = text,
                Err(e) => tracing::warn!(error = %e, "writing the hosts file failed"),
            }
        }
    }

    /// Stops every process (agent shutdown).
    pub async fn stop_all(&mut self) {
        let all: Vec<Running> = self.pods.drain().map(|(_, r)| r).collect();
        for r in all {
            terminate(r.procs, Duration::from_secs(5)).await;
        }
    }
}
