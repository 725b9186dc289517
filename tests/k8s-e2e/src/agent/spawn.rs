//! Starting one container as a process: environment (with the downward API and `$(VAR)`
//! expansion), the binary the image maps to, and the mount-namespace wrapper that bind-mounts
//! the hosts file and the pod's volumes at their container paths.

use super::Config;
use super::volumes::{Mounted, field_value};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Expands `$(VAR)` from `env` (`$$(VAR)` escapes), as the kubelet does.
pub fn expand(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("$(") {
        if i > 0 && rest[..i].ends_with('$') {
            out.push_str(&rest[..i - 1]);
            out.push_str("$(");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        match rest[i + 2..].find(')') {
            Some(j) => {
                let name = &rest[i + 2..i + 2 + j];
                match env.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[i..i + 3 + j]),
                }
                rest = &rest[i + 3 + j..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The container's environment.
pub async fn environment(
    client: &Client,
    cfg: &Config,
    pod: &Pod,
    c: &Container,
    pod_ip: &str,
) -> Result<BTreeMap<String, String>, String> {
    let ns = pod.namespace().unwrap_or_default();
    let hostname = pod
        .spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .unwrap_or_else(|| pod.name_any());
    let mut env = BTreeMap::from([
        (
            "PATH".to_owned(),
            format!("{}:/usr/local/bin:/usr/bin:/bin", cfg.bin_dir.display()),
        ),
        ("HOSTNAME".to_owned(), hostname),
        (
            "HOME".to_owned(),
            cfg.state_dir.join("home").display().to_string(),
        ),
        (
            "KUBERNETES_SERVICE_HOST".to_owned(),
            cfg.apiserver.0.clone(),
        ),
        (
            "KUBERNETES_SERVICE_PORT".to_owned(),
            cfg.apiserver.1.to_string(),
        ),
        (
            "KUBERNETES_SERVICE_PORT_HTTPS".to_owned(),
            cfg.apiserver.1.to_string(),
        ),
        ("RMQ_BIND_IP".to_owned(), pod_ip.to_owned()),
    ]);
    if let Some(shim) = &cfg.shim {
        env.insert("LD_PRELOAD".to_owned(), shim.display().to_string());
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(v) = &e.value {
            expand(v, &env)
        } else if let Some(src) = &e.value_from {
            if let Some(f) = &src.field_ref {
                field_value(pod, &f.field_path, pod_ip)
            } else if let Some(k) = &src.config_map_key_ref {
                let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
                    .get_opt(&k.name)
                    .await
                    .map_err(|e| e.to_string())?;
                match cm.and_then(|c| c.data).and_then(|d| d.get(&k.key).cloned()) {
                    Some(v) => v,
                    None if k.optional == Some(true) => continue,
                    None => return Err(format!("configmap key {}/{} missing", k.name, k.key)),
                }
            } else if let Some(k) = &src.secret_key_ref {
                let s = Api::<Secret>::namespaced(client.clone(), &ns)
                    .get_opt(&k.name)
                    .await
                    .map_err(|e| e.to_string())?;
                match s.and_then(|c| c.data).and_then(|d| d.get(&k.key).cloned()) {
                    Some(v) => String::from_utf8_lossy(&v.0).into_owned(),
                    None if k.optional == Some(true) => continue,
                    None => return Err(format!("secret key {}/{} missing", k.name, k.key)),
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.insert(e.name.clone(), value);
    }
    Ok(env)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The shell script run inside the private mount namespace before `exec`.
pub fn mount_script(cfg: &Config, c: &Container, mounted: &Mounted) -> Result<String, String> {
    let mut s = String::from("set -e\n");
    s.push_str(&format!(
        "mount --bind {} /etc/hosts\n",
        quote(&cfg.hosts_file().display().to_string())
    ));
    for m in c.volume_mounts.iter().flatten() {
        let Some(src) = mounted.get(&m.name) else {
            return Err(format!("volumeMount {} names no volume", m.name));
        };
        let mut src: PathBuf = src.clone();
        if let Some(sub) = m.sub_path.as_deref().filter(|p| !p.is_empty()) {
            src = src.join(sub);
        }
        let target = quote(&m.mount_path);
        if src.is_file() {
            s.push_str(&format!(
                "mkdir -p \"$(dirname {target})\"; [ -e {target} ] || : > {target}\n"
            ));
        } else {
            std::fs::create_dir_all(&src).map_err(|e| e.to_string())?;
            s.push_str(&format!("mkdir -p {target}\n"));
        }
        s.push_str(&format!(
            "mount --bind {} {target}\n",
            quote(&src.display().to_string())
        ));
    }
    if let Some(wd) = &c.working_dir {
        s.push_str(&format!("cd {}\n", quote(wd)));
    }
    s.push_str("exec \"$@\"\n");
    Ok(s)
}

/// The command to start `c`: `unshare --mount -- sh -c <script> sh <binary> <args...>`.
pub fn command(
    cfg: &Config,
    c: &Container,
    env: &BTreeMap<String, String>,
    script: &str,
    log: &Path,
) -> Result<tokio::process::Command, String> {
    let image = c.image.clone().unwrap_or_default();
    if !cfg.image_supported(&image) {
        return Err(format!(
            "image {image:?} is not one the node agent runs (--image)"
        ));
    }
    let argv: Vec<String> = c
        .command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .map(|a| expand(a, env))
        .collect();
    let Some(first) = argv.first() else {
        return Err(
            "the container has no command (the node agent cannot read image entrypoints)".into(),
        );
    };
    let base = Path::new(first)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bin = cfg.bin_dir.join(&base);
    if !bin.is_file() {
        return Err(format!(
            "{} does not exist (command {first:?})",
            bin.display()
        ));
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = tokio::process::Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        script,
        "sh",
    ])
    .arg(bin)
    .args(&argv[1..])
    .env_clear()
    .envs(env)
    .stdin(Stdio::null())
    .stdout(Stdio::from(out))
    .stderr(Stdio::from(err))
    .kill_on_drop(true);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_like_the_kubelet() {
        let env = BTreeMap::from([("POD_NAME".to_owned(), "demo-broker-a-0".to_owned())]);
        assert_eq!(
            expand("/etc/rmq/$(POD_NAME).conf", &env),
            "/etc/rmq/demo-broker-a-0.conf"
        );
        assert_eq!(expand("$(MISSING)x", &env), "$(MISSING)x");
        assert_eq!(expand("$$(POD_NAME)", &env), "$(POD_NAME)");
    }
}
