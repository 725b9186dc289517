//! Validation of `spec.nameServer.pod`, `spec.brokers.pod` and `spec.controller.pod`: quantities that parse, requests
//! not above limits, known toleration operators and effects, a template that is an object with
//! named containers. Fills in the role's default resources.

use super::{ValidationError, parse_quantity};
use crate::types::{PodOptions, ResourceAmounts, ResourcesSpec};

/// Which role a [`PodOptions`] belongs to (for defaults and error paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `spec.nameServer.pod`.
    NameServer,
    /// `spec.brokers.pod`.
    Broker,
    /// `spec.controller.pod`.
    Controller,
}

impl Role {
    fn path(self) -> &'static str {
        match self {
            Role::NameServer => "spec.nameServer.pod",
            Role::Broker => "spec.brokers.pod",
            Role::Controller => "spec.controller.pod",
        }
    }

    fn default_resources(self) -> ResourcesSpec {
        let (cpu, memory, limit) = match self {
            Role::NameServer => crate::defaults::NAME_SERVER_RESOURCES,
            Role::Broker => crate::defaults::BROKER_RESOURCES,
            Role::Controller => crate::defaults::CONTROLLER_RESOURCES,
        };
        ResourcesSpec {
            requests: ResourceAmounts {
                cpu: Some(cpu.to_owned()),
                memory: Some(memory.to_owned()),
            },
            limits: ResourceAmounts {
                cpu: None,
                memory: Some(limit.to_owned()),
            },
        }
    }
}

/// CPU in millicores: `500m`, `0.5`, `2`.
pub fn parse_cpu(q: &str) -> Option<u64> {
    let q = q.trim();
    let millis = match q.strip_suffix('m') {
        Some(m) => m.parse::<f64>().ok()?,
        None => q.parse::<f64>().ok()? * 1000.0,
    };
    (1.0..1e15).contains(&millis).then_some(millis as u64)
}

/// `pod` with the role's default resources filled in when none are given.
pub fn check_pod(pod: &PodOptions, role: Role, errs: &mut Vec<ValidationError>) -> PodOptions {
    let path = role.path();
    let resources = pod
        .resources
        .clone()
        .unwrap_or_else(|| role.default_resources());
    check_resources(&resources, &format!("{path}.resources"), errs);
    for (i, t) in pod.tolerations.iter().enumerate() {
        check_toleration(t, &format!("{path}.tolerations[{i}]"), errs);
    }
    if let Some(template) = &pod.template {
        check_template(template, &format!("{path}.template"), errs);
    }
    if pod
        .priority_class_name
        .as_deref()
        .is_some_and(str::is_empty)
    {
        errs.push(ValidationError::new(
            format!("{path}.priorityClassName"),
            "is empty",
            "name a PriorityClass or leave the field out",
        ));
    }
    PodOptions {
        resources: Some(resources),
        ..pod.clone()
    }
}

fn check_resources(r: &ResourcesSpec, path: &str, errs: &mut Vec<ValidationError>) {
    let cpu = |v: &Option<String>, field: &str, errs: &mut Vec<ValidationError>| {
        let parsed = v.as_deref().map(|q| (q, parse_cpu(q)));
        if let Some((q, None)) = parsed {
            errs.push(ValidationError::new(
                format!("{path}.{field}.cpu"),
                format!("{q:?} is not a CPU quantity"),
                "write cores (1, 0.5) or millicores (500m)",
            ));
        }
        parsed.and_then(|(_, c)| c)
    };
    let memory = |v: &Option<String>, field: &str, errs: &mut Vec<ValidationError>| {
        let parsed = v.as_deref().map(|q| (q, parse_quantity(q)));
        if let Some((q, None)) = parsed {
            errs.push(ValidationError::new(
                format!("{path}.{field}.memory"),
                format!("{q:?} is not a memory quantity"),
                "write a Kubernetes quantity such as 512Mi or 2Gi",
            ));
        }
        parsed.and_then(|(_, m)| m)
    };
    let (req_cpu, lim_cpu) = (
        cpu(&r.requests.cpu, "requests", errs),
        cpu(&r.limits.cpu, "limits", errs),
    );
    let (req_mem, lim_mem) = (
        memory(&r.requests.memory, "requests", errs),
        memory(&r.limits.memory, "limits", errs),
    );
    for (what, req, lim) in [("cpu", req_cpu, lim_cpu), ("memory", req_mem, lim_mem)] {
        if let (Some(req), Some(lim)) = (req, lim)
            && req > lim
        {
            errs.push(ValidationError::new(
                format!("{path}.requests.{what}"),
                format!("the request is above the limit ({path}.limits.{what})"),
                "lower the request or raise the limit",
            ));
        }
    }
}

fn check_toleration(t: &crate::types::TolerationSpec, path: &str, errs: &mut Vec<ValidationError>) {
    if let Some(op) = t.operator.as_deref()
        && op != "Equal"
        && op != "Exists"
    {
        errs.push(ValidationError::new(
            format!("{path}.operator"),
            format!("unknown operator {op:?}"),
            "use Equal or Exists",
        ));
    }
    if let Some(effect) = t.effect.as_deref()
        && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
    {
        errs.push(ValidationError::new(
            format!("{path}.effect"),
            format!("unknown effect {effect:?}"),
            "use NoSchedule, PreferNoSchedule or NoExecute (or leave it out for all)",
        ));
    }
    if t.operator.as_deref() == Some("Exists") && t.value.is_some() {
        errs.push(ValidationError::new(
            format!("{path}.value"),
            "a value with operator Exists",
            "remove the value, or use operator Equal",
        ));
    }
}

fn check_template(t: &serde_json::Value, path: &str, errs: &mut Vec<ValidationError>) {
    let Some(obj) = t.as_object() else {
        errs.push(ValidationError::new(
            path,
            "is not an object",
            "write a partial PodTemplateSpec: {metadata: ..., spec: {...}}",
        ));
        return;
    };
    if let Some(key) = obj.keys().find(|k| *k != "metadata" && *k != "spec") {
        errs.push(ValidationError::new(
            format!("{path}.{key}"),
            "is not a PodTemplateSpec field",
            "a pod template has only metadata and spec",
        ));
    }
    if let Err(e) = serde_json::from_value::<k8s_openapi::api::core::v1::PodTemplateSpec>(t.clone())
    {
        errs.push(ValidationError::new(
            path,
            format!("is not a valid PodTemplateSpec: {e}"),
            "fix the field named in the message (the same shape as a Deployment's spec.template)",
        ));
    }
    for list in ["containers", "initContainers", "volumes"] {
        let items = t["spec"][list].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for (i, item) in items.iter().enumerate() {
            if item["name"].as_str().is_none_or(str::is_empty) {
                errs.push(ValidationError::new(
                    format!("{path}.spec.{list}[{i}].name"),
                    "is missing",
                    "name every container and volume (items merge with the generated ones by name)",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities() {
        assert_eq!(parse_cpu("500m"), Some(500));
        assert_eq!(parse_cpu("0.5"), Some(500));
        assert_eq!(parse_cpu("2"), Some(2000));
        assert_eq!(parse_cpu("two"), None);
        assert_eq!(parse_cpu("0"), None);
    }

    #[test]
    fn defaults_fill_in_and_bad_values_are_named() {
        let mut errs = Vec::new();
        let pod = check_pod(&PodOptions::default(), Role::Broker, &mut errs);
        assert!(errs.is_empty());
        let r = pod.resources.unwrap();
        assert_eq!(r.requests.memory.as_deref(), Some("512Mi"));
        assert_eq!(r.limits.cpu, None);

        let bad = PodOptions {
            resources: Some(ResourcesSpec {
                requests: ResourceAmounts {
                    cpu: Some("lots".into()),
                    memory: Some("4Gi".into()),
                },
                limits: ResourceAmounts {
                    cpu: None,
                    memory: Some("1Gi".into()),
                },
            }),
            template: Some(serde_json::json!({"spec": {"containers": [{"image": "x"}]}})),
            ..PodOptions::default()
        };
        let mut errs = Vec::new();
        check_pod(&bad, Role::NameServer, &mut errs);
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 3, "{text:#?}");
        assert!(text[0].contains("spec.nameServer.pod.resources.requests.cpu"));
        assert!(text[1].contains("request is above the limit"));
        assert!(text[2].contains("containers[0].name"));
    }
}
