//! The `[audit]` section of the governance file: where the write-ahead audit log lives, how
//! often it is checkpointed and signed, and where it is exported. Plain serde data; the
//! `warden-audit` crate and the binary interpret it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `[audit]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// The log file. Relative paths are relative to the workspace root; an absolute path lets
    /// several workspaces (and concurrent `warden` processes) share one log.
    /// Default: `.warden/audit/audit.jsonl`.
    pub path: Option<String>,
    /// Write a signed checkpoint after every this many records (0 disables periodic
    /// checkpoints; `warden audit checkpoint` still works). Default: 1000.
    pub checkpoint_every: Option<u64>,
    /// The Ed25519 signer key file made by `warden audit keygen`, kept outside the workspace.
    /// `~/` is expanded. Default: `~/.config/warden/audit.key` (checkpoints are unsigned when
    /// the file does not exist).
    pub signing_key: Option<String>,
    /// The checkpoint origin line (the log's name in its checkpoints).
    /// Default: `warden/<workspace directory name>`.
    pub origin: Option<String>,
    /// How the records of programs and requests an action runs *inside* it (`nested` records)
    /// are made durable. `durable` (default): each is on disk (`fdatasync`, shared by concurrent
    /// ones) before the nested operation proceeds. `buffered`: a nested operation that proceeds
    /// at the action's granted tier waits only for its record to be written; it is made durable
    /// within 50 ms (a background flush) and at the end of the run. A nested operation that is
    /// held, refused or above the granted tier is always durable before it is answered. See
    /// docs/audit-nested.md.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nested: Option<NestedRecords>,
    /// OpenTelemetry export of the log.
    pub otlp: OtlpConfig,
}

/// How `nested` audit records are made durable (`[audit] nested`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NestedRecords {
    /// Durable before the nested operation proceeds.
    #[default]
    Durable,
    /// Proceeding (not escalated) ones durable within a bounded delay; escalated ones durable
    /// before the answer.
    Buffered,
}

/// The `[audit.otlp]` section. The standard `OTEL_EXPORTER_OTLP_*` environment variables
/// override these values, and `warden audit export --otlp URL` overrides both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpConfig {
    /// Base URL of an OTLP/HTTP collector (`/v1/traces` and `/v1/logs` are appended), e.g.
    /// `http://127.0.0.1:4318`. Export is off when no endpoint is configured anywhere.
    pub endpoint: Option<String>,
    /// Full URL for traces, overriding `endpoint`.
    pub traces_endpoint: Option<String>,
    /// Full URL for logs, overriding `endpoint`.
    pub logs_endpoint: Option<String>,
    /// `http/protobuf` (default) or `http/json`.
    pub protocol: Option<String>,
    /// Extra HTTP headers sent with every request (e.g. an API key header).
    pub headers: BTreeMap<String, String>,
    /// Add the (redacted) action as `gen_ai.tool.call.arguments` to spans. Default: false.
    pub include_arguments: bool,
    /// Add the outcome summary as `gen_ai.tool.call.result` to spans. Default: false.
    pub include_results: bool,
    /// Records per export request. Default: 256.
    pub batch_size: Option<u64>,
    /// Per-request timeout in milliseconds. Default: 10000.
    pub timeout_ms: Option<u64>,
    /// How often the background exporter looks for new records, in milliseconds. Default: 2000.
    pub poll_ms: Option<u64>,
}
