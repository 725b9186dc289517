//! Volumes of a pod materialised as directories under the pod's directory (or, for PVCs, the
//! hostPath of the bound PersistentVolume). `Ok(None)` means "not yet" (e.g. the claim is not
//! bound): the pod is retried on the next pass.

use super::Config;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, KeyToPath, PersistentVolume, PersistentVolumeClaim, Pod, Secret, ServiceAccount,
    Volume,
};
use kube::api::PostParams;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Volume name → host directory.
pub type Mounted = BTreeMap<String, PathBuf>;

fn write(dir: &Path, rel: &str, data: &[u8]) -> std::io::Result<()> {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(p, data)
}

fn pick(items: Option<&Vec<KeyToPath>>, key: &str) -> Option<String> {
    match items {
        None => Some(key.to_owned()),
        Some(items) => items.iter().find(|i| i.key == key).map(|i| i.path.clone()),
    }
}

async fn config_map(client: &Client, ns: &str, name: &str) -> Result<Option<ConfigMap>, String> {
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| format!("configmap {name}: {e}"))
}

async fn write_config_map(
    client: &Client,
    ns: &str,
    name: &str,
    items: Option<&Vec<KeyToPath>>,
    optional: bool,
    dir: &Path,
) -> Result<bool, String> {
    let Some(cm) = config_map(client, ns, name).await? else {
        return Ok(optional);
    };
    for (k, v) in cm.data.unwrap_or_default() {
        if let Some(rel) = pick(items, &k) {
            write(dir, &rel, v.as_bytes()).map_err(|e| e.to_string())?;
        }
    }
    Ok(true)
}

async fn write_secret(
    client: &Client,
    ns: &str,
    name: &str,
    items: Option<&Vec<KeyToPath>>,
    optional: bool,
    dir: &Path,
) -> Result<bool, String> {
    let api = Api::<Secret>::namespaced(client.clone(), ns);
    let Some(s) = api
        .get_opt(name)
        .await
        .map_err(|e| format!("secret {name}: {e}"))?
    else {
        return Ok(optional);
    };
    for (k, v) in s.data.unwrap_or_default() {
        if let Some(rel) = pick(items, &k) {
            write(dir, &rel, &v.0).map_err(|e| e.to_string())?;
        }
    }
    Ok(true)
}

async fn token(
    client: &Client,
    pod: &Pod,
    audiences: Vec<String>,
    seconds: i64,
) -> Result<String, String> {
    let ns = pod.namespace().unwrap_or_default();
    let sa = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.clone())
        .unwrap_or_else(|| "default".into());
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &ns);
    let req = TokenRequest {
        spec: TokenRequestSpec {
            audiences,
            expiration_seconds: Some(seconds.max(3600)),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(pod.name_any()),
                uid: pod.uid(),
            }),
        },
        ..TokenRequest::default()
    };
    let tr: TokenRequest = api
        .create_subresource("token", &sa, &PostParams::default(), &req)
        .await
        .map_err(|e| format!("token for service account {sa}: {e}"))?;
    Ok(tr.status.map(|s| s.token).unwrap_or_default())
}

fn field(pod: &Pod, path: &str) -> String {
    let m = &pod.metadata;
    match path {
        "metadata.name" => pod.name_any(),
        "metadata.namespace" => pod.namespace().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "spec.nodeName" => pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        "spec.serviceAccountName" => pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        p if p.starts_with("metadata.labels['") => {
            let k = p
                .trim_start_matches("metadata.labels['")
                .trim_end_matches("']");
            m.labels
                .as_ref()
                .and_then(|l| l.get(k).cloned())
                .unwrap_or_default()
        }
        p if p.starts_with("metadata.annotations['") => {
            let k = p
                .trim_start_matches("metadata.annotations['")
                .trim_end_matches("']");
            m.annotations
                .as_ref()
                .and_then(|l| l.get(k).cloned())
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// A pod field for the downward API (`status.podIP` comes from the agent).
pub fn field_value(pod: &Pod, path: &str, pod_ip: &str) -> String {
    match path {
        "status.podIP" | "status.podIPs" => pod_ip.to_owned(),
        "status.hostIP" | "status.hostIPs" => "127.0.0.1".to_owned(),
        _ => field(pod, path),
    }
}

/// Materialises every volume of `pod` under `dir`; `Ok(None)` when something is not ready yet.
pub async fn materialise(
    client: &Client,
    cfg: &Config,
    pod: &Pod,
    pod_ip: &str,
    dir: &Path,
) -> Result<Option<Mounted>, String> {
    let ns = pod.namespace().unwrap_or_default();
    let mut out = Mounted::new();
    let volumes: Vec<Volume> = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.clone())
        .unwrap_or_default();
    for v in volumes {
        let vdir = dir.join("volumes").join(&v.name);
        std::fs::create_dir_all(&vdir).map_err(|e| e.to_string())?;
        if let Some(cm) = &v.config_map {
            if !write_config_map(
                client,
                &ns,
                &cm.name,
                cm.items.as_ref(),
                cm.optional.unwrap_or(false),
                &vdir,
            )
            .await?
            {
                return Ok(None);
            }
        } else if let Some(s) = &v.secret {
            let name = s.secret_name.clone().unwrap_or_default();
            if !write_secret(
                client,
                &ns,
                &name,
                s.items.as_ref(),
                s.optional.unwrap_or(false),
                &vdir,
            )
            .await?
            {
                return Ok(None);
            }
        } else if v.empty_dir.is_some() {
        } else if let Some(hp) = &v.host_path {
            out.insert(v.name.clone(), PathBuf::from(&hp.path));
            continue;
        } else if let Some(claim) = &v.persistent_volume_claim {
            let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), &ns)
                .get_opt(&claim.claim_name)
                .await
                .map_err(|e| e.to_string())?;
            let Some(pv_name) = pvc.and_then(|c| c.spec.and_then(|s| s.volume_name)) else {
                return Ok(None);
            };
            let pv = Api::<PersistentVolume>::all(client.clone())
                .get_opt(&pv_name)
                .await
                .map_err(|e| e.to_string())?;
            let Some(path) = pv.and_then(|p| p.spec.and_then(|s| s.host_path.map(|h| h.path)))
            else {
                return Err(format!("volume {pv_name} is not a hostPath volume"));
            };
            std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            out.insert(v.name.clone(), PathBuf::from(path));
            continue;
        } else if let Some(da) = &v.downward_api {
            for item in da.items.iter().flatten() {
                if let Some(f) = &item.field_ref {
                    write(
                        &vdir,
                        &item.path,
                        field_value(pod, &f.field_path, pod_ip).as_bytes(),
                    )
                    .map_err(|e| e.to_string())?;
                }
            }
        } else if let Some(p) = &v.projected {
            for src in p.sources.iter().flatten() {
                if let Some(t) = &src.service_account_token {
                    let aud = t.audience.clone().map(|a| vec![a]).unwrap_or_default();
                    let tok = token(client, pod, aud, t.expiration_seconds.unwrap_or(3607)).await?;
                    write(&vdir, &t.path, tok.as_bytes()).map_err(|e| e.to_string())?;
                }
                if let Some(cm) = &src.config_map
                    && !write_config_map(
                        client,
                        &ns,
                        &cm.name,
                        cm.items.as_ref(),
                        cm.optional.unwrap_or(false),
                        &vdir,
                    )
                    .await?
                {
                    return Ok(None);
                }
                if let Some(s) = &src.secret
                    && !write_secret(
                        client,
                        &ns,
                        &s.name,
                        s.items.as_ref(),
                        s.optional.unwrap_or(false),
                        &vdir,
                    )
                    .await?
                {
                    return Ok(None);
                }
                if let Some(da) = &src.downward_api {
                    for item in da.items.iter().flatten() {
                        if let Some(f) = &item.field_ref {
                            write(
                                &vdir,
                                &item.path,
                                field_value(pod, &f.field_path, pod_ip).as_bytes(),
                            )
                            .map_err(|e| e.to_string())?;
                        }
                    }
                }
            }
        } else {
            return Err(format!(
                "volume {} has a type the node agent does not support",
                v.name
            ));
        }
        let _ = cfg;
        out.insert(v.name.clone(), vdir);
    }
    Ok(Some(out))
}
