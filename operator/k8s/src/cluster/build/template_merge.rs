//! The pod template override (`spec.*.pod.template`) merged under the generated template.
//!
//! Rules (pure JSON, so every field of PodTemplateSpec works without naming it here):
//! - objects merge key by key;
//! - lists whose items are objects with a `name` (containers, volumes, env, ports,
//!   volumeMounts, ...) merge item by item by name: generated items keep their order, merged
//!   with the user's item of the same name; the user's other items follow;
//! - anything else: the generated value wins where it exists, the user's fills in where not.
//!
//! So a user adds sidecars, volumes, env vars, hostAliases or dnsConfig, and cannot replace the
//! container's command, ports, probes, security context or the data volume.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{Map, Value};

fn named(list: &[Value]) -> bool {
    !list.is_empty() && list.iter().all(|v| v["name"].is_string())
}

/// `generated` merged over `user` (see the module rules).
pub fn merge(user: &Value, generated: Value) -> Value {
    match (user, generated) {
        (Value::Object(u), Value::Object(g)) => {
            let mut out: Map<String, Value> = u.clone();
            for (k, gv) in g {
                let merged = match u.get(&k) {
                    Some(uv) => merge(uv, gv),
                    None => gv,
                };
                out.insert(k, merged);
            }
            Value::Object(out)
        }
        (Value::Array(u), Value::Array(g)) if named(&g) && (u.is_empty() || named(u)) => {
            let mut out: Vec<Value> = g
                .into_iter()
                .map(|gv| match u.iter().find(|uv| uv["name"] == gv["name"]) {
                    Some(uv) => merge(uv, gv),
                    None => gv,
                })
                .collect();
            for uv in u {
                if !out.iter().any(|o| o["name"] == uv["name"]) {
                    out.push(uv.clone());
                }
            }
            Value::Array(out)
        }
        (_, Value::Null) => user.clone(),
        (_, g) => g,
    }
}

/// The generated template with the user's override merged under it. The model validated the
/// override as a PodTemplateSpec, so the merge is one too; if it ever is not, the generated
/// template is used unchanged and the reason logged.
pub fn apply(user: Option<&Value>, generated: PodTemplateSpec) -> PodTemplateSpec {
    let Some(user) = user else {
        return generated;
    };
    let Ok(g) = serde_json::to_value(&generated) else {
        return generated;
    };
    match serde_json::from_value(merge(user, g)) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "pod template override ignored: the merge is not a PodTemplateSpec");
            generated
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sidecars_and_env_join_generated_fields_win() {
        let user = json!({
            "metadata": {"labels": {"team": "mq"}},
            "spec": {
                "hostAliases": [{"ip": "10.0.0.1", "hostnames": ["ns.example"]}],
                "containers": [
                    {"name": "broker", "command": ["sh"], "env": [{"name": "TZ", "value": "UTC"}]},
                    {"name": "exporter", "image": "exporter:1"}
                ],
                "volumes": [{"name": "extra", "emptyDir": {}}]
            }
        });
        let generated = json!({
            "metadata": {"labels": {"app": "rmq"}},
            "spec": {
                "containers": [{"name": "broker", "command": ["rmq-broker"],
                                "env": [{"name": "RMQ_LOG", "value": "info"}]}],
                "volumes": [{"name": "config", "configMap": {"name": "c"}}]
            }
        });
        let m = merge(&user, generated);
        assert_eq!(m["metadata"]["labels"], json!({"app": "rmq", "team": "mq"}));
        let containers = m["spec"]["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 2);
        assert_eq!(
            containers[0]["command"],
            json!(["rmq-broker"]),
            "generated wins"
        );
        assert_eq!(
            containers[0]["env"],
            json!([{"name": "RMQ_LOG", "value": "info"}, {"name": "TZ", "value": "UTC"}])
        );
        assert_eq!(containers[1]["name"], "exporter");
        assert_eq!(m["spec"]["volumes"].as_array().unwrap().len(), 2);
        assert_eq!(m["spec"]["hostAliases"][0]["ip"], "10.0.0.1");
    }

    #[test]
    fn apply_round_trips_through_pod_template_spec() {
        let generated: PodTemplateSpec = serde_json::from_value(json!({
            "spec": {"containers": [{"name": "namesrv", "image": "rmq:dev"}]}
        }))
        .unwrap();
        let user = json!({"spec": {"dnsPolicy": "ClusterFirstWithHostNet",
                                    "containers": [{"name": "namesrv", "image": "evil:1"}]}});
        let t = apply(Some(&user), generated);
        let spec = t.spec.unwrap();
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
        assert_eq!(spec.containers[0].image.as_deref(), Some("rmq:dev"));
    }
}
