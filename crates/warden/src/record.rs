//! Glue between the commands and the audit log: turns the policy's types and the run's facts
//! into records of `warden-audit`'s write-ahead log. `warden run` calls these in order:
//! `intent` (durable before the action starts), any number of `approval` and `network`, then
//! `outcome`.

use crate::exit::CliError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use warden_audit::{AuditLog, ExporterHandle, IntentId, LogOptions, NoteSigner, OtlpSettings};
use warden_policy::sections::AuditConfig;
use warden_policy::{Action, Decision, Policy};

/// Who asked and why, as stated by the agent.
#[derive(Debug, Clone, Default)]
pub struct IntentMeta {
    pub rationale: Option<String>,
    pub agent: Option<String>,
    pub session: Option<String>,
    pub tool_call_id: Option<String>,
}

/// A written intent record, named by later records.
#[derive(Debug, Clone)]
pub struct IntentRef {
    pub seq: u64,
    pub hash: String,
}

/// How the action ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration: Duration,
    pub stdout_bytes: u64,
    pub stdout_sha256: Option<String>,
    pub stderr_bytes: u64,
    pub stderr_sha256: Option<String>,
    /// What the sandbox could not enforce, or why the action did not run.
    pub notes: Vec<String>,
}

/// One network decision made by the egress proxy on behalf of an action.
#[derive(Debug, Clone)]
pub struct NetworkRecord {
    pub protocol: String,
    pub host: String,
    pub port: u16,
    pub method: Option<String>,
    pub allowed: bool,
    pub rule: String,
}

/// Writes records for one workspace's audit log. Shareable across threads (clones share the
/// open log and its group commit).
#[derive(Debug, Clone)]
pub struct Recorder {
    log: Arc<AuditLog>,
    policy_digest: String,
    user: Option<String>,
    host: Option<String>,
    otlp: Option<OtlpSettings>,
    poll: Duration,
}

fn audit_err(e: warden_audit::AuditError) -> CliError {
    CliError::failure(miette::miette!("audit log: {e}"))
}

/// Expand a leading `~/` with the home directory.
pub fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => crate::policy_load::home().join(rest),
        None => PathBuf::from(p),
    }
}

/// The audit log file of `workspace` under `cfg` (default `.warden/audit/audit.jsonl`).
pub fn log_path(workspace: &Path, cfg: &AuditConfig) -> PathBuf {
    let p = cfg
        .path
        .as_deref()
        .map(expand_home)
        .unwrap_or_else(|| PathBuf::from(".warden/audit/audit.jsonl"));
    if p.is_absolute() {
        p
    } else {
        workspace.join(p)
    }
}

/// The signer key file under `cfg` (default `~/.config/warden/audit.key`).
pub fn key_path(cfg: &AuditConfig) -> PathBuf {
    cfg.signing_key
        .as_deref()
        .map(expand_home)
        .unwrap_or_else(|| crate::policy_load::home().join(".config/warden/audit.key"))
}

/// The checkpoint origin of `workspace` under `cfg`.
pub fn origin(workspace: &Path, cfg: &AuditConfig) -> String {
    cfg.origin.clone().unwrap_or_else(|| {
        let name = workspace
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_whitespace() || c == '+' {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        format!(
            "warden/{}",
            if name.is_empty() {
                "workspace".into()
            } else {
                name
            }
        )
    })
}

/// Load the signer key at `path` if it exists.
pub fn load_signer(path: &Path) -> Result<Option<NoteSigner>, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) => NoteSigner::parse(&text).map(Some).map_err(|e| {
            CliError::bad_input(miette::miette!("audit signing key {}: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::failure(miette::miette!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Open the log of `workspace` as `cfg` says (creating it durably if needed).
pub fn open_log(
    workspace: &Path,
    cfg: &AuditConfig,
    path: Option<&Path>,
) -> Result<AuditLog, CliError> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| log_path(workspace, cfg));
    let opts = LogOptions {
        checkpoint_every: cfg.checkpoint_every.unwrap_or(1000),
        signer: load_signer(&key_path(cfg))?,
        origin: origin(workspace, cfg),
    };
    AuditLog::open(&path, opts).map_err(audit_err)
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn id(r: &IntentRef) -> IntentId {
    IntentId {
        seq: r.seq,
        hash: r.hash.clone(),
    }
}

impl Recorder {
    /// Open (creating if needed) the audit log for `workspace` as the policy configures it.
    pub fn open(workspace: &Path, policy: &Policy) -> Result<Self, CliError> {
        Self::open_at(workspace, policy, None)
    }

    /// Like [`Recorder::open`], writing to `log` instead of the configured file when given.
    pub fn open_at(
        workspace: &Path,
        policy: &Policy,
        log: Option<&Path>,
    ) -> Result<Self, CliError> {
        let cfg = &policy.config().audit;
        let log = open_log(workspace, cfg, log)?;
        let env = |k: &str| std::env::var(k).ok();
        let otlp = OtlpSettings::resolve(&cfg.otlp, &env, None, None)
            .map_err(|e| CliError::bad_input(miette::miette!("[audit.otlp]: {e}")))?;
        Ok(Self {
            log: Arc::new(log),
            policy_digest: policy.digest().to_owned(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .ok(),
            host: hostname(),
            otlp,
            poll: Duration::from_millis(cfg.otlp.poll_ms.unwrap_or(2000)),
        })
    }

    /// The log file.
    #[allow(dead_code, reason = "for `warden run`/`serve`, which the lead wires")]
    pub fn log_path(&self) -> &Path {
        self.log.path()
    }

    /// Append the intent record and make it durable before returning.
    pub fn intent(
        &self,
        action: &Action,
        decision: &Decision,
        meta: &IntentMeta,
    ) -> Result<IntentRef, CliError> {
        let info = warden_audit::IntentInfo {
            tool: None,
            rationale: meta.rationale.clone(),
            agent: meta.agent.clone(),
            session: meta.session.clone(),
            tool_call_id: meta.tool_call_id.clone(),
            user: self.user.clone(),
            host: self.host.clone(),
            policy_digest: Some(self.policy_digest.clone()),
            sandboxed: None,
        };
        let body = warden_audit::records::intent_body(action, decision, &info);
        let a = self.log.append("intent", body).map_err(audit_err)?;
        Ok(IntentRef {
            seq: a.seq,
            hash: a.hash,
        })
    }

    /// Append an approval event (`requested`, `granted`, `denied`, `expired`), by whom.
    pub fn approval(
        &self,
        intent: &IntentRef,
        event: &str,
        by: Option<&str>,
    ) -> Result<(), CliError> {
        let body = warden_audit::records::approval_body(&id(intent), event, by);
        self.log
            .append("approval", body)
            .map(|_| ())
            .map_err(audit_err)
    }

    /// Append a network decision made while the action ran. Written at once but not waited on
    /// for `fdatasync` (the next durable record syncs it): only intents gate an action.
    pub fn network(&self, intent: &IntentRef, event: &NetworkRecord) -> Result<(), CliError> {
        let info = warden_audit::NetworkInfo {
            protocol: event.protocol.clone(),
            host: event.host.clone(),
            port: event.port,
            method: event.method.clone(),
            allowed: event.allowed,
            rule: event.rule.clone(),
        };
        let body = warden_audit::records::network_body(&id(intent), &info);
        self.log
            .append_lazy("network", body)
            .map(|_| ())
            .map_err(audit_err)
    }

    /// Append the outcome record, written at once but not waited on for `fdatasync`: after a
    /// power failure a missing outcome is reported as "outcome unknown", which is the design's
    /// answer for every crash, and saving the sync takes one disk flush off every `warden run`.
    pub fn outcome(&self, intent: &IntentRef, outcome: &Outcome) -> Result<(), CliError> {
        let info = warden_audit::OutcomeInfo {
            exit_code: outcome.exit_code,
            signal: outcome.signal,
            duration_ns: u64::try_from(outcome.duration.as_nanos()).unwrap_or(u64::MAX),
            stdout_bytes: outcome.stdout_bytes,
            stdout_sha256: outcome.stdout_sha256.clone(),
            stderr_bytes: outcome.stderr_bytes,
            stderr_sha256: outcome.stderr_sha256.clone(),
            notes: outcome.notes.clone(),
        };
        let body = warden_audit::records::outcome_body(&id(intent), &info);
        self.log
            .append_lazy("outcome", body)
            .map(|_| ())
            .map_err(audit_err)
    }

    /// Start the background OTLP exporter of this log when an endpoint is configured
    /// (`[audit.otlp]` or `OTEL_EXPORTER_OTLP_*`). Call `shutdown()` on the handle before
    /// exiting to flush what was written.
    pub fn spawn_exporter(&self) -> Option<ExporterHandle> {
        let settings = self.otlp.clone()?;
        Some(warden_audit::Exporter::new(self.log.path(), settings).spawn(self.poll))
    }
}
