//! A minimal static provisioner: every Pending PVC without a volume gets a hostPath
//! PersistentVolume under `<state>/pv/` pre-bound to it (claimRef), with the claim's size,
//! access modes and storage class; kube-controller-manager's binder then binds them. Retained
//! when the claim goes (the suite's temp dir is removed at the end).

use super::Config;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

/// One pass over the claims.
pub async fn provision(client: &Client, cfg: &Config) -> Result<(), kube::Error> {
    let pvcs: Api<PersistentVolumeClaim> = Api::all(client.clone());
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    for pvc in pvcs.list(&ListParams::default()).await? {
        let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref());
        let spec = pvc.spec.clone().unwrap_or_default();
        if phase != Some("Pending") || spec.volume_name.is_some() {
            continue;
        }
        let ns = pvc.namespace().unwrap_or_default();
        let uid = pvc.uid().unwrap_or_default();
        let name = format!("rmq-e2e-{}", &uid[..uid.len().min(18)]);
        if pvs.get_opt(&name).await?.is_some() {
            continue;
        }
        let dir = cfg
            .state_dir
            .join("pv")
            .join(format!("{ns}_{}", pvc.name_any()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot create PV directory");
            continue;
        }
        let size = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map_or_else(|| "1Gi".to_owned(), |q| q.0.clone());
        let pv: PersistentVolume = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": {"rmq.dev/test-node": "true"}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": spec.access_modes.clone().unwrap_or_else(|| vec!["ReadWriteOnce".into()]),
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": spec.storage_class_name.clone().unwrap_or_default(),
                "hostPath": {"path": dir.display().to_string(), "type": "DirectoryOrCreate"},
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns,
                             "name": pvc.name_any(), "uid": uid},
            },
        }))
        .map_err(kube::Error::SerdeError)?;
        match pvs.create(&PostParams::default(), &pv).await {
            Ok(_) => {
                tracing::info!(pvc = %pvc.name_any(), %ns, pv = %name, "provisioned a hostPath volume")
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
