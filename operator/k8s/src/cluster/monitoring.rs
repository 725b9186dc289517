//! `spec.monitoring` applied: the PodMonitor and PrometheusRule of [`build::monitoring`]
//! server-side applied when asked for and deleted when not. Where the Prometheus operator's
//! CRDs are missing the cluster is not failed: a Warning Event (`MonitoringUnavailable`) says
//! what to install, and the rest of the reconcile goes on.

use super::build::{BuildInput, monitoring as build};
use crate::context::{Context, reconcile_event};
use crate::labels;
use kube::api::{ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};
use rmq_model::{RocketMQCluster, ValidatedCluster};
use serde_json::Value;

/// One kind of the Prometheus operator.
struct Kind {
    kind: &'static str,
    plural: &'static str,
}

const POD_MONITOR: Kind = Kind {
    kind: "PodMonitor",
    plural: "podmonitors",
};
const PROMETHEUS_RULE: Kind = Kind {
    kind: "PrometheusRule",
    plural: "prometheusrules",
};

/// Applies or removes the cluster's PodMonitor and PrometheusRule as `spec.monitoring` says;
/// false when one of them could not be (the caller looks again soon: the Prometheus operator's
/// CRDs may be installed any time, and nothing else would wake the cluster up).
pub async fn ensure(
    ctx: &Context,
    cluster: &RocketMQCluster,
    validated: &ValidatedCluster,
    input: &BuildInput,
) -> bool {
    let spec = &cluster.spec.monitoring;
    let name = cluster.name_any();
    let rule = spec.prometheus_rule.then(|| {
        let percent = validated.retention.max_disk_used_percent;
        build::prometheus_rule(&name, spec, percent, input)
    });
    let monitor = spec
        .pod_monitor
        .then(|| build::pod_monitor(&name, spec, input));
    let mut all = true;
    for (kind, object) in [(POD_MONITOR, monitor), (PROMETHEUS_RULE, rule)] {
        if let Err(why) = converge(ctx, &input.namespace, &name, &kind, object).await {
            all = false;
            tracing::warn!(cluster = %name, kind = kind.kind, error = %why, "monitoring object");
            let ev = reconcile_event(EventType::Warning, "MonitoringUnavailable", &why);
            ctx.publish(cluster, ev).await;
        }
    }
    all
}

/// Applies `object`, or deletes the cluster's object of `kind` when `None`. The error says
/// what went wrong and how to fix it.
async fn converge(
    ctx: &Context,
    ns: &str,
    name: &str,
    kind: &Kind,
    object: Option<Value>,
) -> Result<(), String> {
    let gvk = GroupVersionKind::gvk("monitoring.coreos.com", "v1", kind.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, kind.plural);
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &resource);
    let Some(object) = object else {
        return match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(format!("deleting {} {name}: {e}", kind.kind)),
        };
    };
    let pp = PatchParams::apply(labels::MANAGER).force();
    match api.patch(name, &pp, &Patch::Apply(&object)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Err(format!(
            "spec.monitoring asks for a {} but its CRD ({}.monitoring.coreos.com) is not installed (fix: install the Prometheus operator, e.g. kube-prometheus-stack, or turn spec.monitoring.{} off)",
            kind.kind,
            kind.plural,
            if kind.plural == "podmonitors" {
                "podMonitor"
            } else {
                "prometheusRule"
            }
        )),
        Err(e) => Err(format!("applying {} {name}: {e}", kind.kind)),
    }
}
