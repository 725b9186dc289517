//! The ACL gate of a server (`aclEnable=true`): every request is checked against the accounts
//! of `plain_acl.yml` (`aclFile`) before it is handled — by [`crate::decide()`] on a broker, by
//! [`crate::namesrv::check`] on a nameserver ([`Policy`]) — and refused with `NO_PERMISSION` and
//! a remark saying what is missing. Each connection counts its failed authentication attempts
//! and is refused unchecked after too many ([`ConnectionFailures`]).
//!
//! The file is polled ([`spawn_reload`]): a new valid version replaces the accounts at once for
//! the next request; an invalid one keeps the previous accounts and is logged once per change.
//! Secrets never reach a log line: [`ConfigError`] and denial remarks never hold them.

use crate::failures::ConnectionFailures;
use crate::{AclConfig, ConfigError, Decision, Denial, Request};
use parking_lot::RwLock;
use rmq_protocol::RemotingCommand;
use rmq_protocol::net::Channel;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio_util::sync::CancellationToken;

/// How often [`spawn_reload`] looks at the file's modification time and size.
pub const RELOAD_PERIOD: Duration = Duration::from_secs(2);

/// Which decision a gate applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Every request is authenticated and authorized ([`crate::decide()`]).
    Broker,
    /// Only state-changing requests, and only admins ([`crate::namesrv::check`]).
    Namesrv,
}

/// The accounts in force and the per-connection failure counts.
pub struct AclGate {
    path: PathBuf,
    policy: Policy,
    accounts: RwLock<Arc<AclConfig>>,
    failures: ConnectionFailures,
}

impl AclGate {
    /// Loads `path` (`plain_acl.yml`); the error lists every problem with its line.
    pub fn load(path: &Path, policy: Policy) -> Result<Self, ConfigError> {
        let config = AclConfig::load_from_path(path)?;
        Ok(Self::with_config(path, config, policy))
    }

    /// A gate over an already loaded configuration (`path` is what reloads read).
    pub fn with_config(path: &Path, config: AclConfig, policy: Policy) -> Self {
        Self {
            path: path.to_owned(),
            policy,
            accounts: RwLock::new(Arc::new(config)),
            failures: ConnectionFailures::default(),
        }
    }

    /// The file the accounts come from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The accounts in force.
    pub fn current(&self) -> Arc<AclConfig> {
        self.accounts.read().clone()
    }

    /// Replaces the accounts; requests decided after this see the new ones.
    pub fn replace(&self, config: AclConfig) {
        *self.accounts.write() = Arc::new(config);
    }

    /// `Some(denial)` if `req` from `ch` must be refused (answer with its code and remark).
    pub fn check(&self, ch: &Channel, req: &RemotingCommand) -> Option<Denial> {
        let remote = ch.remote_addr().ip().to_canonical();
        self.check_from(ch.id(), remote, req, Instant::now())
    }

    /// [`Self::check`] for connection `conn` from `remote` at `now` (pure but for the state).
    pub fn check_from(
        &self,
        conn: u64,
        remote: std::net::IpAddr,
        req: &RemotingCommand,
        now: Instant,
    ) -> Option<Denial> {
        if let Some(refused) = self.failures.refused(conn, now) {
            return Some(refused);
        }
        let config = self.current();
        let request = Request {
            code: req.code,
            version: req.version,
            fields: &req.ext_fields,
            body: &req.body,
            remote,
        };
        let denial = match self.policy {
            Policy::Broker => match crate::decide(&config, &request) {
                Decision::Allow(_) => return None,
                Decision::Deny(d) => d,
            },
            Policy::Namesrv => crate::namesrv::check(&config, &request)?,
        };
        if denial.reason.is_authentication_failure() {
            self.failures.record(conn, now);
        }
        tracing::debug!(
            code = req.code,
            peer = %remote,
            reason = ?denial.reason,
            "request refused by the ACL"
        );
        Some(denial)
    }

    /// Forgets a closed connection's failures.
    pub fn connection_closed(&self, conn: u64) {
        self.failures.forget(conn);
    }
}

/// What tells one version of the file from another: modification time and size (`None`: the
/// file cannot be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Last modification.
    pub modified: Option<SystemTime>,
    /// Length in bytes.
    pub len: u64,
}

/// The current stamp of `path`, `None` when it cannot be read.
pub fn file_stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

/// Polls the file every `period` until `stop`; applies each change once (see the module doc).
pub fn spawn_reload(gate: Arc<AclGate>, period: Duration, stop: CancellationToken) {
    let mut seen = file_stamp(gate.path());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = file_stamp(gate.path());
            if now == seen {
                continue;
            }
            seen = now;
            reload_once(&gate);
        }
    });
}

/// Reads the file again: a valid one replaces the accounts, an invalid one is logged and the
/// accounts in force stay. Returns whether the accounts were replaced.
pub fn reload_once(gate: &AclGate) -> bool {
    match AclConfig::load_from_path(gate.path()) {
        Ok(config) => {
            let accounts = config.accounts().len();
            gate.replace(config);
            tracing::info!(file = %gate.path().display(), accounts, "ACL file reloaded");
            true
        }
        Err(e) => {
            tracing::error!(
                error = %e,
                "ACL file changed but is invalid; the previous accounts stay in force until it \
                 is fixed"
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Credentials, DenyReason};
    use rmq_protocol::{request_code as rc, response_code};
    use std::net::{IpAddr, Ipv4Addr};

    const YML: &str = "accounts:\n- accessKey: producer1\n  secretKey: secret-p1\n  \
                       defaultTopicPerm: DENY\n  topicPerms:\n  - T1=PUB\n";
    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn send(topic: &str, creds: Option<&Credentials>) -> RemotingCommand {
        let mut req = RemotingCommand::request(rc::SEND_MESSAGE);
        req.ext_fields.insert("topic", topic);
        if let Some(c) = creds {
            let added = c.sign_request(req.ext_fields.iter(), &req.body).unwrap();
            for (k, v) in added {
                req.ext_fields.insert(k, v);
            }
        }
        req
    }

    fn gate(dir: &tempfile::TempDir, text: &str) -> AclGate {
        let path = dir.path().join("plain_acl.yml");
        std::fs::write(&path, text).unwrap();
        AclGate::load(&path, Policy::Broker).unwrap()
    }

    #[test]
    fn signed_requests_pass_and_the_rest_is_refused_with_a_remark() {
        let dir = tempfile::tempdir().unwrap();
        let g = gate(&dir, YML);
        let good = Credentials::new("producer1", "secret-p1");
        let now = Instant::now();
        assert_eq!(g.check_from(1, LOCAL, &send("T1", Some(&good)), now), None);
        let d = g
            .check_from(1, LOCAL, &send("T2", Some(&good)), now)
            .unwrap();
        assert_eq!(
            (d.code, d.reason),
            (response_code::NO_PERMISSION, DenyReason::NoPermission)
        );
        assert!(d.remark.contains("T2"), "{}", d.remark);
        let d = g.check_from(1, LOCAL, &send("T1", None), now).unwrap();
        assert_eq!(d.reason, DenyReason::NoAccessKey);
        let bad = Credentials::new("producer1", "wrong-secret");
        let d = g
            .check_from(1, LOCAL, &send("T1", Some(&bad)), now)
            .unwrap();
        assert_eq!(d.reason, DenyReason::BadCredentials);
        assert!(!d.remark.contains("secret-p1"));
    }

    #[test]
    fn a_connection_is_refused_after_too_many_failures_until_closed() {
        let dir = tempfile::tempdir().unwrap();
        let g = gate(&dir, YML);
        let bad = Credentials::new("producer1", "wrong-secret");
        let good = Credentials::new("producer1", "secret-p1");
        let now = Instant::now();
        for _ in 0..crate::FailureLimit::default().max_failures {
            assert!(
                g.check_from(7, LOCAL, &send("T1", Some(&bad)), now)
                    .is_some()
            );
        }
        let d = g
            .check_from(7, LOCAL, &send("T1", Some(&good)), now)
            .unwrap();
        assert_eq!(d.reason, DenyReason::TooManyFailures);
        // another connection is not affected; a closed one starts afresh
        assert_eq!(g.check_from(8, LOCAL, &send("T1", Some(&good)), now), None);
        g.connection_closed(7);
        assert_eq!(g.check_from(7, LOCAL, &send("T1", Some(&good)), now), None);
    }

    #[test]
    fn reload_replaces_valid_files_and_keeps_accounts_on_invalid_ones() {
        let dir = tempfile::tempdir().unwrap();
        let g = gate(&dir, YML);
        let good = Credentials::new("producer1", "secret-p1");
        let now = Instant::now();
        assert!(
            g.check_from(1, LOCAL, &send("T2", Some(&good)), now)
                .is_some()
        );
        let stamp = file_stamp(g.path());
        std::fs::write(g.path(), YML.replace("T1=PUB", "T2=PUB")).unwrap();
        assert_ne!(file_stamp(g.path()), stamp);
        assert!(reload_once(&g));
        assert_eq!(g.check_from(1, LOCAL, &send("T2", Some(&good)), now), None);
        std::fs::write(g.path(), "accounts:\n- accessKey: short\n  secretKey: x\n").unwrap();
        assert!(!reload_once(&g));
        assert_eq!(g.check_from(1, LOCAL, &send("T2", Some(&good)), now), None);
        std::fs::remove_file(g.path()).unwrap();
        assert_eq!(file_stamp(g.path()), None);
        assert!(!reload_once(&g));
    }
}
