//! Signatures made by the real Java `AclClientRPCHook` (tests/vectors.json, produced by
//! tests/java-vectors/gen.sh) must be reproduced byte for byte, and verified, by this crate.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rmq_acl::signature::{self, SIGNATURE};
use rmq_acl::{Credentials, Secret};
use serde_json::Value;

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .expect("pairs")
        .iter()
        .map(|p| {
            let p = p.as_array().expect("pair");
            (
                p[0].as_str().expect("key").to_owned(),
                p[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

fn b64(v: &Value) -> Vec<u8> {
    v.as_str()
        .map_or_else(Vec::new, |s| STANDARD.decode(s).expect("base64"))
}

#[test]
fn java_signatures_match() {
    let text = include_str!("vectors.json");
    let doc: Value = serde_json::from_str(text).expect("vectors.json is JSON");
    let vectors = doc["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 10, "too few vectors: {}", vectors.len());
    for v in vectors {
        let name = v["name"].as_str().expect("name");
        let mut creds = Credentials::new(
            v["access_key"].as_str().expect("access_key"),
            v["secret_key"].as_str().expect("secret_key"),
        );
        creds.security_token = v["security_token"].as_str().map(str::to_owned);
        let fields_in = pairs(&v["fields_in"]);
        let body = b64(&v["body_b64"]);
        let expected_sig = v["signature"].as_str().expect("signature");

        // client side: what our signer adds equals what the Java hook added
        let added = creds
            .sign_request(
                fields_in.iter().map(|(k, val)| (k.as_str(), val.as_str())),
                &body,
            )
            .expect("sign");
        let mut out: Vec<(String, String)> = fields_in.clone();
        for (k, val) in &added {
            out.retain(|(ok, _)| ok != k);
            out.push(((*k).to_owned(), val.clone()));
        }
        out.sort();
        let mut java_out = pairs(&v["fields_out"]);
        java_out.sort();
        assert_eq!(out, java_out, "{name}: fields after signing");

        // server side: the content rebuilt from the received fields, and the verification
        let received: Vec<(&str, &str)> = java_out
            .iter()
            .map(|(k, val)| (k.as_str(), val.as_str()))
            .collect();
        let content = signature::content_to_verify(received.iter().copied(), &body, 479);
        assert_eq!(content, b64(&v["content_b64"]), "{name}: signed content");
        assert_eq!(
            signature::sign(&content, &creds.secret_key).expect("sign"),
            expected_sig,
            "{name}"
        );
        assert!(
            signature::verify(&content, &creds.secret_key, expected_sig),
            "{name}: verify"
        );
        assert!(
            !signature::verify(&content, &Secret::new("wrong-secret"), expected_sig),
            "{name}"
        );
        let presented = received
            .iter()
            .find(|(k, _)| *k == SIGNATURE)
            .expect("Signature")
            .1;
        assert_eq!(presented, expected_sig, "{name}");
    }
}

#[test]
fn vectors_cover_the_tricky_cases() {
    let doc: Value = serde_json::from_str(include_str!("vectors.json")).expect("JSON");
    let names: Vec<&str> = doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|v| v["name"].as_str().expect("name"))
        .collect();
    for wanted in [
        "send_v2_with_body",
        "pull_no_body",
        "unicode_everywhere",
        "no_fields_json_body",
        "empty_values",
        "security_token",
        "utf16_key_order",
        "binary_body",
        "stale_signature_field",
    ] {
        assert!(
            names.contains(&wanted),
            "vectors.json lacks {wanted}; regenerate it"
        );
    }
}
