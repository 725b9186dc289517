//! The ACL 2.0 gate of a broker (`authenticationEnabled` / `authorizationEnabled`): the users
//! and ACLs in force, loaded from and saved to one file (`<storePathRootDir>/config/auth.json`),
//! every request decided by [`crate::v2::decide()`], the administration requests 3001–3010
//! applied and saved before they are answered, and failed authentication attempts counted per
//! connection as ACL 1.0 does ([`ConnectionFailures`]).
//!
//! The file is written atomically (a temporary file, fsync, rename, fsync of the directory)
//! with mode 0600: it holds the passwords, which the signatures need in clear. Passwords never
//! reach a log line.

use crate::failures::ConnectionFailures;
use crate::v2::admin;
use crate::v2::decide::{Settings, decide};
use crate::v2::store::AuthStore;
use crate::{Denial, Request, Secret};
use parking_lot::{Mutex, RwLock};
use rmq_protocol::net::Channel;
use rmq_protocol::{RemotingCommand, response_code};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The users and ACLs in force, their file, and per-connection failure counts.
pub struct AuthGate {
    path: PathBuf,
    settings: Settings,
    store: RwLock<Arc<AuthStore>>,
    /// Serializes the administration requests (read, change, save, swap).
    writing: Mutex<()>,
    failures: ConnectionFailures,
}

/// The gate cannot start: the file cannot be read, is invalid, or cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("ACL 2.0 users and ACLs in {path}: {problem}")]
pub struct OpenError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong and how to fix it.
    pub problem: String,
}

impl AuthGate {
    /// Loads `path` (absent: no users yet), creates the super users `initial` names when absent
    /// (`initAuthenticationUser`, `innerClientAuthenticationCredentials`) and saves the file
    /// if it changed.
    pub fn open(
        path: &Path,
        settings: Settings,
        initial: &[(String, Secret)],
    ) -> Result<Self, OpenError> {
        let fail = |problem: String| OpenError {
            path: path.to_owned(),
            problem,
        };
        let mut store = match std::fs::read(path) {
            Ok(bytes) => AuthStore::from_json(&bytes)
                .map_err(|e| fail(format!("{e}; fix the file or restore it from a backup")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AuthStore::default(),
            Err(e) => return Err(fail(format!("cannot be read: {e}"))),
        };
        let mut created = false;
        for (name, password) in initial {
            if store.ensure_super_user(name, password) {
                tracing::info!(user = %name, "ACL 2.0: super user created");
                created = true;
            }
        }
        if created {
            persist(path, &store.to_json()).map_err(|e| fail(format!("cannot be written: {e}")))?;
        }
        if store.user_count() == 0 {
            tracing::warn!(
                "ACL 2.0 is on and there are no users: every request will be refused; set \
                 initAuthenticationUser={{\"username\":\"..\",\"password\":\"..\"}}"
            );
        }
        tracing::info!(
            file = %path.display(),
            users = store.user_count(),
            acls = store.acl_count(),
            authorization = settings.authorization,
            "ACL 2.0 on: every request is authenticated"
        );
        Ok(Self {
            path: path.to_owned(),
            settings,
            store: RwLock::new(Arc::new(store)),
            writing: Mutex::new(()),
            failures: ConnectionFailures::default(),
        })
    }

    /// The users and ACLs in force.
    pub fn current(&self) -> Arc<AuthStore> {
        self.store.read().clone()
    }

    /// The file they are kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `Some(denial)` if `req` from `ch` must be refused.
    pub fn check(&self, ch: &Channel, req: &RemotingCommand) -> Option<Denial> {
        let remote = ch.remote_addr().ip().to_canonical();
        self.check_from(ch.id(), remote, req, Instant::now())
    }

    /// [`Self::check`] for connection `conn` from `remote` at `now`.
    pub fn check_from(
        &self,
        conn: u64,
        remote: IpAddr,
        req: &RemotingCommand,
        now: Instant,
    ) -> Option<Denial> {
        if let Some(refused) = self.failures.refused(conn, now) {
            return Some(refused);
        }
        let store = self.current();
        let request = Request {
            code: req.code,
            version: req.version,
            fields: &req.ext_fields,
            body: &req.body,
            remote,
        };
        let denial = decide(&store, &self.settings, &request).err()?;
        if denial.reason.is_authentication_failure() {
            self.failures.record(conn, now);
        }
        tracing::debug!(
            code = req.code,
            peer = %remote,
            reason = ?denial.reason,
            "request refused by ACL 2.0"
        );
        Some(denial)
    }

    /// Forgets a closed connection's failures.
    pub fn connection_closed(&self, conn: u64) {
        self.failures.forget(conn);
    }

    /// Answers an administration request (3001–3010) that [`Self::check`] let through (so a
    /// super user sent it): a change is saved before the answer, and a failed save changes
    /// nothing.
    pub fn handle_admin(&self, req: &RemotingCommand) -> RemotingCommand {
        let _writing = self.writing.lock();
        let mut next = (*self.current()).clone();
        let reply = admin::handle(&mut next, req.code, &req.ext_fields, &req.body);
        if reply.changed {
            if let Err(e) = persist(&self.path, &next.to_json()) {
                tracing::error!(file = %self.path.display(), error = %e, "ACL 2.0: cannot save");
                return RemotingCommand::error(
                    req,
                    response_code::SYSTEM_ERROR,
                    format!(
                        "ACL 2.0: the change was not made: {} cannot be written: {e}; check the \
                         disk and the directory's permissions",
                        self.path.display()
                    ),
                );
            }
            *self.store.write() = Arc::new(next);
            tracing::info!(
                code = req.code,
                user = req.ext_fields.get("username").unwrap_or(""),
                subject = req.ext_fields.get("subject").unwrap_or(""),
                "ACL 2.0: users or ACLs changed"
            );
        }
        RemotingCommand::response_to(req, reply.code, reply.remark).with_body(reply.body)
    }
}

/// Writes `bytes` to `path` atomically and durably, mode 0600, creating the directory.
pub fn persist(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
