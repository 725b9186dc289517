//! The controller loop of one kind: watch the CRs (and their clusters), reconcile (unmanage,
//! or apply / clean up behind the finalizer), error policy.

use super::managed::Managed;
use super::{apply, cleanup};
use crate::context::{self, Context};
use crate::{Error, Result, labels};
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use rmq_model::RocketMQCluster;
use std::sync::Arc;

/// Runs the controller of `K` until `shutdown` resolves.
pub async fn run<K: Managed>(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let api = context::scoped::<K>(&ctx.client, namespace.as_deref());
    let clusters = context::scoped::<RocketMQCluster>(&ctx.client, namespace.as_deref());
    let controller = Controller::new(api, watcher::Config::default());
    let store = controller.store();
    controller
        .watches(clusters, watcher::Config::default(), move |c| {
            referencing(&store, &c)
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "reconcile failed");
            }
        })
        .await;
}

/// The CRs of kind `K` in `store` that reference `cluster` (same namespace, `spec.cluster`):
/// reconciled when the cluster changes, so a CR waiting for its cluster is applied as soon as
/// the cluster is Ready (not at its next retry), and one whose cluster is deleted says so.
fn referencing<K: Managed>(store: &Store<K>, cluster: &RocketMQCluster) -> Vec<ObjectRef<K>> {
    let (ns, name) = (cluster.namespace(), cluster.name_any());
    store
        .state()
        .iter()
        .filter(|o| o.namespace() == ns && o.cluster_name() == name)
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

/// Counts and logs a failed reconcile, and says when to retry.
pub fn error_policy<K: Managed>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.failure(K::CONTROLLER, error);
    tracing::warn!(kind = K::CONTROLLER, name = %obj.name_any(), error = %error, "reconcile failed");
    error.retry()
}

/// One reconcile: unmanage, or apply / clean up behind the finalizer.
pub async fn reconcile<K: Managed>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile(K::CONTROLLER);
    let ns = obj.namespace().ok_or(Error::MissingField("namespace"))?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    if labels::annotation_false(obj.meta().annotations.as_ref(), labels::MANAGED) {
        return cleanup::unmanage(&api, &obj, &ctx).await;
    }
    let obj = with_finalizer(&api, obj).await?;
    let (api2, ctx2) = (api.clone(), ctx.clone());
    finalizer(&api, K::FINALIZER, obj, |ev| async move {
        match ev {
            Finalizer::Apply(o) => apply::apply(&api2, o.as_ref(), &ctx2).await,
            Finalizer::Cleanup(o) => cleanup::cleanup(o.as_ref(), &ctx2).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    })
}

/// `obj` with `K::FINALIZER` added (patched in the API server first) when it is not being
/// deleted and lacks it; else `obj` as it is. Added here, not by `finalizer()` (which returns
/// after adding it and waits for the watch to bring the object back), so a new CR is applied in
/// its first reconcile — one watch round trip less between `kubectl apply` and the topic.
async fn with_finalizer<K: Managed>(api: &Api<K>, obj: Arc<K>) -> Result<Arc<K>> {
    let finalizers = obj.meta().finalizers.clone();
    if obj.meta().deletion_timestamp.is_some()
        || finalizers.iter().flatten().any(|f| f == K::FINALIZER)
    {
        return Ok(obj);
    }
    // The test makes the patch fail if another writer changed the list since we read it.
    let ops = match &finalizers {
        None => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [K::FINALIZER]},
        ]),
        Some(list) => serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": list},
            {"op": "add", "path": "/metadata/finalizers/-", "value": K::FINALIZER},
        ]),
    };
    let patch: json_patch::Patch = serde_json::from_value(ops)
        .map_err(|e| Error::Finalizer(format!("building the finalizer patch: {e}")))?;
    let patched = api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Json::<()>(patch),
        )
        .await
        .map_err(|e| Error::Finalizer(format!("adding {}: {e}", K::FINALIZER)))?;
    Ok(Arc::new(patched))
}
