//! The files `rmqctl aws secrets put --from-dir DIR` writes: `DIR/<secret>/<key>`, the layout
//! `rmqctl local up --secrets-dir` reads. Hidden entries (`.…`, e.g. the `..data` links of a
//! copied Kubernetes Secret volume) are skipped; anything else that cannot become a parameter is
//! an error naming the file. Errors never show a value.

use super::{SecretFile, is_key, is_secret_name};
use std::path::Path;

/// The largest value SSM stores (an advanced parameter: 8 KiB).
pub const MAX_VALUE: usize = 8 * 1024;

/// Why a directory cannot be put.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A directory or file could not be read.
    #[error(
        "cannot read {path}: {source} (fix: pass --from-dir DIR holding DIR/<secret>/<key> files)"
    )]
    Read {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A name that cannot be part of a parameter name.
    #[error("{path}: {what} (fix: {fix})")]
    Name {
        /// The path.
        path: String,
        /// What is wrong with it.
        what: String,
        /// How to fix it.
        fix: String,
    },
    /// A value SSM cannot hold.
    #[error("{path}: {what} (fix: {fix})")]
    Value {
        /// The file.
        path: String,
        /// What is wrong with it.
        what: String,
        /// How to fix it.
        fix: String,
    },
    /// Nothing to put.
    #[error(
        "{0} holds no DIR/<secret>/<key> file (fix: lay it out as `rmqctl local up --secrets-dir` takes it)"
    )]
    Empty(String),
}

/// Every `<secret>/<key>` file under `dir` with its contents, sorted by secret and key; only the
/// secrets in `only` when it is not empty.
pub fn read_dir(dir: &Path, only: &[String]) -> Result<Vec<(SecretFile, String)>, LocalError> {
    let mut out = Vec::new();
    for secret_dir in entries(dir)? {
        let Some(secret) = visible_name(&secret_dir) else {
            continue;
        };
        if !secret_dir.is_dir() || (!only.is_empty() && !only.contains(&secret)) {
            continue;
        }
        if !is_secret_name(&secret) {
            return Err(LocalError::Name {
                path: secret_dir.display().to_string(),
                what: format!("{secret:?} is not a valid secret name"),
                fix: "name the directory as spec.security names the secret: lowercase letters, digits, '-' and '.'".into(),
            });
        }
        for file in entries(&secret_dir)? {
            let Some(key) = visible_name(&file) else {
                continue;
            };
            if file.is_file() {
                out.push((SecretFile::new(&secret, &key), value(&file, &key)?));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if out.is_empty() {
        return Err(LocalError::Empty(dir.display().to_string()));
    }
    Ok(out)
}

/// The entries of `dir`, sorted.
fn entries(dir: &Path) -> Result<Vec<std::path::PathBuf>, LocalError> {
    let read = |source| LocalError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut paths = std::fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    paths.sort();
    Ok(paths)
}

/// The file name of `path`, unless it is hidden or not UTF-8.
fn visible_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    (!name.starts_with('.')).then(|| name.to_owned())
}

/// The contents of secret file `file` (named `key`), checked to fit a parameter.
fn value(file: &Path, key: &str) -> Result<String, LocalError> {
    let path = file.display().to_string();
    if !is_key(key) {
        return Err(LocalError::Name {
            path,
            what: format!("{key:?} cannot be part of a parameter name"),
            fix: "use letters, digits, '.', '_' and '-' in file names".into(),
        });
    }
    let bytes = std::fs::read(file).map_err(|source| LocalError::Read {
        path: path.clone(),
        source,
    })?;
    if bytes.is_empty() || bytes.len() > MAX_VALUE {
        return Err(LocalError::Value {
            path,
            what: format!("{} bytes", bytes.len()),
            fix: format!("a parameter holds 1 to {MAX_VALUE} bytes"),
        });
    }
    String::from_utf8(bytes).map_err(|_| LocalError::Value {
        path,
        what: "not UTF-8 text".into(),
        fix: "store PEM or YAML text (SSM parameters hold text)".into(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_local_mode_layout_and_skips_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("rmq-admin/..2024")).unwrap();
        std::fs::create_dir_all(d.join("rmq-acl")).unwrap();
        std::fs::write(d.join("rmq-admin/accessKey"), "rmqadmin").unwrap();
        std::fs::write(d.join("rmq-admin/secretKey"), "s3cret-value").unwrap();
        std::fs::write(d.join("rmq-admin/..data"), "x").unwrap();
        std::fs::write(d.join("rmq-acl/plain_acl.yml"), "accounts: []\n").unwrap();
        let files = read_dir(d, &[]).unwrap();
        let items: Vec<String> = files.iter().map(|(f, _)| f.item()).collect();
        assert_eq!(
            items,
            [
                "rmq-acl/plain_acl.yml",
                "rmq-admin/accessKey",
                "rmq-admin/secretKey"
            ]
        );
        assert_eq!(files[0].1, "accounts: []\n");
        let only = read_dir(d, &["rmq-acl".into()]).unwrap();
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn bad_names_and_values_are_named_without_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("Admin")).unwrap();
        std::fs::write(d.join("Admin/accessKey"), "x").unwrap();
        let e = read_dir(d, &[]).unwrap_err().to_string();
        assert!(e.contains("\"Admin\" is not a valid secret name"), "{e}");
        std::fs::remove_dir_all(d.join("Admin")).unwrap();
        std::fs::create_dir_all(d.join("tls")).unwrap();
        std::fs::write(d.join("tls/tls.key"), [0xff, 0xfe, b's']).unwrap();
        let e = read_dir(d, &[]).unwrap_err().to_string();
        assert!(e.contains("tls.key: not UTF-8 text"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_dir(empty.path(), &[]),
            Err(LocalError::Empty(_))
        ));
    }
}
