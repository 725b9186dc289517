//! rmqctl's error type and exit codes: 2 for bad input (files, fields, flags), 1 for everything
//! that went wrong while talking to or running a cluster.

use rmq_model::admin::AdminError;
use rmq_model::manifest::ManifestError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Problems in the input files (all of them).
    #[error("{} problem(s) in the input:\n{}", .0.len(), lines(.0))]
    Manifest(Vec<ManifestError>),
    /// Bad input other than files.
    #[error("{0}")]
    Input(String),
    /// No plan could be made; nothing was applied.
    #[error("nothing was applied:\n{}", lines(.0))]
    Plan(Vec<String>),
    /// A nameserver or broker call failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// An apply stopped part-way (the report was printed).
    #[error("apply stopped at a failed step: {0}")]
    ApplyFailed(String),
    /// Local mode failed.
    #[error("{0}")]
    Local(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory, as the message shows it.
        path: String,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },
    /// No metrics endpoint could be read (`get metrics`, `top`).
    #[error("{0}")]
    Metrics(String),
    /// Output could not be rendered.
    #[error("cannot render output: {0}")]
    Render(String),
    /// An AWS call or wait failed (`rmqctl aws`).
    #[cfg(feature = "aws")]
    #[error("{0}")]
    Aws(String),
}

impl CtlError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Manifest(_) | CtlError::Input(_) => 2,
            _ => 1,
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        CtlError::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

fn lines<T: std::fmt::Display>(list: &[T]) -> String {
    list.iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}
