//! Apache RocketMQ's own `mqadmin` (rocketmq-tools 5.3.3, the jars `tests/peers/apache.sh`
//! fetches) run against rmq, as a RocketMQ user runs it: unsigned ([`mqadmin`]) or signing its
//! requests as a user ([`mqadmin_as`]: the credentials go into `conf/tools.yml` of a temporary
//! `ROCKETMQ_HOME`, which `MQAdminStartup` reads for ACL 1.0 and 2.0 brokers).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Apache 5.3.3 distribution's directory (fetched once, cached).
fn apache_home() -> String {
    let fetch = Command::new(repo().join("tests/peers/apache.sh"))
        .args(["fetch", "--version", "5.3.3"])
        .output()
        .unwrap_or_else(|e| panic!("tests/peers/apache.sh cannot run: {e}"));
    assert!(
        fetch.status.success(),
        "cannot fetch the Apache jars (tests/peers/apache.sh fetch): {}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    String::from_utf8_lossy(&fetch.stdout).trim().to_owned()
}

/// Runs `MQAdminStartup ARGS` with `rocketmq_home` (for `conf/tools.yml`) when given.
fn run(rocketmq_home: Option<&Path>, who: &str, args: &[&str]) -> (bool, String) {
    let jars = apache_home();
    let mut cmd = Command::new("java");
    cmd.args(["-Xmx256m", "-Drocketmq.client.logUseSlf4j=false"]);
    if let Some(home) = rocketmq_home {
        cmd.arg(format!("-Drocketmq.home.dir={}", home.display()))
            .env("ROCKETMQ_HOME", home);
    }
    let out = cmd
        .arg("-cp")
        .arg(format!("{jars}/lib/*"))
        .arg("org.apache.rocketmq.tools.command.MQAdminStartup")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("java cannot start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("mqadmin{who} {args:?}:\n{text}");
    (out.status.success(), text)
}

/// Runs `mqadmin ARGS` (MQAdminStartup on the Apache jars); returns (exit ok, stdout+stderr).
/// Panics when the jars cannot be fetched or java cannot start.
pub fn mqadmin(args: &[&str]) -> (bool, String) {
    run(None, "", args)
}

/// Runs `mqadmin ARGS` signed with `(access_key, secret_key)`; returns (exit ok, stdout+stderr).
/// `mqadmin` exits 0 even when a command fails: check the text. Panics when the jars cannot be
/// fetched or java cannot start.
pub fn mqadmin_as((access_key, secret_key): (&str, &str), args: &[&str]) -> (bool, String) {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("conf")).unwrap();
    std::fs::write(
        home.path().join("conf/tools.yml"),
        format!("accessKey: {access_key}\nsecretKey: {secret_key}\n"),
    )
    .unwrap();
    run(Some(home.path()), &format!(" (as {access_key})"), args)
}
