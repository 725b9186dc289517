//! The committed CRDs (operator/model/crds/rmq.dev.yaml) match the generator. Regenerate with
//! `cargo run -p rmq-model --bin crdgen > operator/model/crds/rmq.dev.yaml`.
#![allow(clippy::unwrap_used)]

#[test]
fn committed_crds_match_the_generator() {
    let path = format!("{}/crds/rmq.dev.yaml", env!("CARGO_MANIFEST_DIR"));
    let committed = std::fs::read_to_string(&path).unwrap();
    let generated = rmq_model::crd::crds_yaml().unwrap();
    assert!(
        committed == generated,
        "{path} is stale: run `cargo run -p rmq-model --bin crdgen > operator/model/crds/rmq.dev.yaml` and commit it"
    );
}

#[test]
fn crds_have_the_expected_names_and_status() {
    let crds = rmq_model::crd::crds();
    let names: Vec<&str> = crds
        .iter()
        .map(|c| c.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "rocketmqclusters.rmq.dev",
            "rocketmqtopics.rmq.dev",
            "rocketmqconsumergroups.rmq.dev"
        ]
    );
    for c in &crds {
        let v = &c.spec.versions[0];
        assert_eq!(v.name, "v1alpha1");
        assert!(v.subresources.as_ref().unwrap().status.is_some());
        let schema = serde_json::to_string(&v.schema).unwrap();
        assert!(schema.contains("observedGeneration") && schema.contains("conditions"));
    }
    let yaml = rmq_model::crd::crds_yaml().unwrap();
    assert!(yaml.contains("minimum: 1.0"), "ranges reach the schema");
}
