//! warden-audit: the write-ahead, hash-chained audit log of every governed action, its signed
//! RFC 6962 checkpoints, verification, secret redaction and OpenTelemetry (OTLP/HTTP) export.
//!
//! The crate knows nothing of the command line or the other layers: it receives structured
//! records (built from `warden-policy` types by [`records`]) and hands structured results back.

pub mod anchor;
pub mod canonical;
mod error;
mod journal;
pub mod log;
pub mod merkle;
pub mod note;
pub mod otlp;
pub mod records;
pub mod redact;
pub mod verify;

pub use anchor::Anchor;
pub use error::{AuditError, Result};
pub use log::{Appended, AuditLog, LogOptions, Sealed};
pub use note::{Checkpoint, NoteSigner, NoteVerifier};
pub use otlp::{Cursor, Exporter, ExporterHandle, OtlpSettings, Protocol};
pub use records::{
    Approval, ApprovalEvent, Disposition, Entry, Intent, IntentId, IntentInfo, Nested,
    NestedAnswer, NestedLayer, Network, NetworkInfo, Outcome, OutcomeInfo, Record, read_entries,
};
pub use verify::{InclusionProof, VerifyOptions, VerifyReport, inclusion_proof, verify};
