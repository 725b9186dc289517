//! The broker's stable identity in controller mode, kept in `<storePathRootDir>/controller-id`:
//! a random token (part of Java's `registerCheckCode`, `address;token`, with which the
//! controller recognises the broker that applied for an id) and, once the controller granted
//! it, the broker id. Written atomically (temporary file, fsync, rename).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file name under the store root.
pub const FILE: &str = "controller-id";

/// What the file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Random, made once per store.
    pub token: String,
    /// The id the controller granted (`None` until it did).
    pub broker_id: Option<i64>,
    path: PathBuf,
}

impl Identity {
    /// Reads the identity of the store at `root`, making a new token when there is none.
    pub fn load_or_create(root: &Path) -> Result<Self, String> {
        let path = root.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let (token, broker_id) = parse(&text).map_err(|e| {
            format!(
                "{} is damaged ({e}); delete it to apply for a new broker id",
                path.display()
            )
        })?;
        let fresh = token.is_none();
        let token = token.unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()));
        let id = Self {
            token,
            broker_id,
            path,
        };
        if fresh {
            id.save()?;
        }
        Ok(id)
    }

    /// Records the granted id.
    pub fn set_broker_id(&mut self, id: i64) -> Result<(), String> {
        self.broker_id = Some(id);
        self.save()
    }

    /// Java's `registerCheckCode`: `address;token`.
    pub fn check_code(&self, addr: &str) -> String {
        format!("{addr};{}", self.token)
    }

    fn save(&self) -> Result<(), String> {
        let mut text = format!("token={}\n", self.token);
        if let Some(id) = self.broker_id {
            text.push_str(&format!("brokerId={id}\n"));
        }
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", self.path.display());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = self.path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).map_err(fail)?;
        f.write_all(text.as_bytes()).map_err(fail)?;
        f.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

/// `(token, brokerId)` from the file's `key=value` lines.
fn parse(text: &str) -> Result<(Option<String>, Option<i64>), String> {
    let (mut token, mut id) = (None, None);
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some(("token", v)) if !v.is_empty() => token = Some(v.to_owned()),
            Some(("brokerId", v)) => {
                id = Some(
                    v.parse()
                        .map_err(|_| format!("brokerId={v} is not a number"))?,
                )
            }
            _ => return Err(format!("unexpected line {line:?}")),
        }
    }
    Ok((token, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_survives_and_keeps_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Identity::load_or_create(dir.path()).unwrap();
        assert_eq!(a.broker_id, None);
        a.set_broker_id(2).unwrap();
        let b = Identity::load_or_create(dir.path()).unwrap();
        assert_eq!((b.token.as_str(), b.broker_id), (a.token.as_str(), Some(2)));
        assert_eq!(b.check_code("h:1"), format!("h:1;{}", a.token));
        std::fs::write(dir.path().join(FILE), "junk\n").unwrap();
        let err = Identity::load_or_create(dir.path()).unwrap_err();
        assert!(err.contains("delete it"), "{err}");
    }
}
