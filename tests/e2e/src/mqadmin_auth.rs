//! Apache's `mqadmin` 5.3.3 signing its requests as a user, as an operator runs it against a
//! broker with ACL (1.0 or 2.0): the credentials go into `conf/tools.yml` of a temporary
//! `ROCKETMQ_HOME`, which `MQAdminStartup` reads (`accessKey`, `secretKey`).

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `mqadmin ARGS` signed with `(access_key, secret_key)`; returns (exit ok, stdout+stderr).
/// `mqadmin` exits 0 even when a command fails: check the text. Panics when the jars cannot be
/// fetched or java cannot start.
pub fn mqadmin_as((access_key, secret_key): (&str, &str), args: &[&str]) -> (bool, String) {
    let fetch = Command::new(repo().join("tests/peers/apache.sh"))
        .args(["fetch", "--version", "5.3.3"])
        .output()
        .unwrap_or_else(|e| panic!("tests/peers/apache.sh cannot run: {e}"));
    assert!(
        fetch.status.success(),
        "cannot fetch the Apache jars (tests/peers/apache.sh fetch): {}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    let jars = String::from_utf8_lossy(&fetch.stdout).trim().to_owned();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("conf")).unwrap();
    std::fs::write(
        home.path().join("conf/tools.yml"),
        format!("accessKey: {access_key}\nsecretKey: {secret_key}\n"),
    )
    .unwrap();
    let out = Command::new("java")
        .args(["-Xmx256m", "-Drocketmq.client.logUseSlf4j=false"])
        .arg(format!("-Drocketmq.home.dir={}", home.path().display()))
        .env("ROCKETMQ_HOME", home.path())
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
    eprintln!("mqadmin (as {access_key}) {args:?}:\n{text}");
    (out.status.success(), text)
}
