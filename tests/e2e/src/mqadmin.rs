//! Apache RocketMQ's own `mqadmin` (rocketmq-tools 5.3.3, the jars `tests/peers/apache.sh`
//! fetches) run against rmq, as a RocketMQ user runs it.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `mqadmin ARGS` (MQAdminStartup on the Apache jars); returns (exit ok, stdout+stderr).
/// Panics when the jars cannot be fetched or java cannot start.
pub fn mqadmin(args: &[&str]) -> (bool, String) {
    let fetch = Command::new(repo().join("tests/peers/apache.sh"))
        .args(["fetch", "--version", "5.3.3"])
        .output()
        .unwrap_or_else(|e| panic!("tests/peers/apache.sh cannot run: {e}"));
    assert!(
        fetch.status.success(),
        "cannot fetch the Apache jars (tests/peers/apache.sh fetch): {}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    let home = String::from_utf8_lossy(&fetch.stdout).trim().to_owned();
    let out = Command::new("java")
        .args(["-Xmx256m", "-Drocketmq.client.logUseSlf4j=false", "-cp"])
        .arg(format!("{home}/lib/*"))
        .arg("org.apache.rocketmq.tools.command.MQAdminStartup")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("java cannot start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("mqadmin {args:?}:\n{text}");
    (out.status.success(), text)
}
