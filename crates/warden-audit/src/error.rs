//! The error type of the audit crate: every failure names the file or record it concerns.

use std::path::PathBuf;

/// Errors from writing, reading, verifying or exporting the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An I/O operation on a file failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be encoded canonically.
    #[error(transparent)]
    Canonical(#[from] crate::canonical::CanonicalError),
    /// A key, note or checkpoint was malformed or did not verify.
    #[error(transparent)]
    Note(#[from] crate::note::NoteError),
    /// A record was malformed in a way that stops the operation.
    #[error("{0}")]
    Corrupt(String),
    /// The caller passed something unusable.
    #[error("{0}")]
    Invalid(String),
    /// The OTLP collector could not be reached or refused the data.
    #[error("OTLP export to {endpoint} failed: {message}")]
    Export {
        /// The endpoint URL.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
}

impl AuditError {
    /// An I/O error on `path` while doing `op`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = AuditError> = std::result::Result<T, E>;
