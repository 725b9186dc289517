//! Exposes the resolved `rocketmq-client-rust` version (from Cargo.lock) as RMQ_CLIENT_VERSION.
fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let lock = std::fs::read_to_string(format!("{dir}/Cargo.lock")).unwrap_or_default();
    let mut version = "unknown".to_owned();
    let mut in_pkg = false;
    for line in lock.lines() {
        let line = line.trim();
        if line == "[[package]]" {
            in_pkg = false;
        } else if line == "name = \"rocketmq-client-rust\"" {
            in_pkg = true;
        } else if in_pkg && let Some(v) = line.strip_prefix("version = \"") {
            version = v.trim_end_matches('"').to_owned();
            break;
        }
    }
    println!("cargo:rustc-env=RMQ_CLIENT_VERSION={version}");
}
