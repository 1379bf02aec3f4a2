//! The audit side of the governed path: where a workspace's log lives and how it is opened
//! (signing key, checkpoint origin, OTLP export), and [`Recorder`], which writes the typed
//! records of `warden-audit` for one action: `intent` (durable before the action starts), any
//! number of `approval`, `network` and `nested`, then `outcome`.

use crate::error::{GovernError, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use warden_audit::{
    Approval, ApprovalEvent, AuditLog, Disposition, ExporterHandle, IntentInfo, LogOptions,
    NetworkInfo, NoteSigner, OtlpSettings, Record,
};
use warden_policy::sections::AuditConfig;
use warden_policy::{Action, Decision, Policy};

/// A written intent record, named by later records.
pub type IntentRef = warden_audit::IntentId;

/// Who asked and why, as stated by the agent.
#[derive(Debug, Clone, Default)]
pub struct IntentMeta {
    /// The agent's stated rationale.
    pub rationale: Option<String>,
    /// Agent identity (`claude-code`, `mcp`, …).
    pub agent: Option<String>,
    /// Agent session id.
    pub session: Option<String>,
    /// The agent's id for this tool call.
    pub tool_call_id: Option<String>,
    /// The agent's tool name (Claude Code's `Bash`/`Edit`/…, the MCP tool); the audit record
    /// falls back to the action kind when absent.
    pub tool: Option<String>,
}

/// How the action ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// How it ended; derived from `exit_code`/`signal` (ran) or left to the caller.
    pub disposition: Option<Disposition>,
    /// The request a deferred action is parked as.
    pub ticket: Option<String>,
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// Terminating signal, when killed.
    pub signal: Option<i32>,
    /// Wall-clock duration.
    pub duration: Duration,
    /// Bytes of stdout.
    pub stdout_bytes: u64,
    /// Hex SHA-256 of stdout.
    pub stdout_sha256: Option<String>,
    /// Bytes of stderr.
    pub stderr_bytes: u64,
    /// Hex SHA-256 of stderr.
    pub stderr_sha256: Option<String>,
    /// What the sandbox could not enforce, warnings, or why the action did not run.
    pub notes: Vec<String>,
}

/// One network decision made by the egress proxy on behalf of an action: the audit record's
/// own payload, kept as the proxy reported it until the action's records are written.
pub type NetworkRecord = NetworkInfo;

/// Collected network decisions and the proxy sink that collects them, for an action's
/// `network` records once it has ended.
pub fn network_collector() -> (
    Arc<std::sync::Mutex<Vec<NetworkRecord>>>,
    warden_proxy::EventSink,
) {
    let events: Arc<std::sync::Mutex<Vec<NetworkRecord>>> = Arc::default();
    let sink_events = Arc::clone(&events);
    let sink: warden_proxy::EventSink = Arc::new(move |e: warden_proxy::NetworkEvent| {
        if let Ok(mut v) = sink_events.lock() {
            v.push(NetworkRecord {
                protocol: e.protocol.to_string(),
                host: e.host,
                port: e.port,
                method: e.method,
                allowed: e.allowed,
                rule: e.rule,
                path: e.path,
                service: e.service,
                handling: Some(e.handling.to_string()),
                tier: e.tier.map(|t| t.to_string()),
                judged_by: e.judged_by,
            });
        }
    });
    (events, sink)
}

/// The home directory (`$HOME`, else `/root`).
pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// Expand a leading `~/` with the home directory.
pub fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
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
        .unwrap_or_else(|| home().join(".config/warden/audit.key"))
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
pub fn load_signer(path: &Path) -> Result<Option<NoteSigner>> {
    match std::fs::read_to_string(path) {
        Ok(text) => NoteSigner::parse(&text)
            .map(Some)
            .map_err(|e| GovernError::AuditConfig(format!("signing key {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(GovernError::Io {
            what: "cannot read the audit signing key",
            source,
        }),
    }
}

/// Open the log of `workspace` as `cfg` says (creating it durably if needed); `path`
/// overrides the configured file.
pub fn open_log(workspace: &Path, cfg: &AuditConfig, path: Option<&Path>) -> Result<AuditLog> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| log_path(workspace, cfg));
    let opts = LogOptions {
        checkpoint_every: cfg.checkpoint_every.unwrap_or(1000),
        signer: load_signer(&key_path(cfg))?,
        origin: origin(workspace, cfg),
        anchor: None,
    };
    let mut log = AuditLog::open(&path, opts)?;
    // Named once the file exists, so that its canonical path is the one `verify` will see.
    log.set_anchor(anchor_path(&path));
    // A new log's first record declares it anchored (a seal), so no cut of it verifies without
    // its anchor.
    log.declare_anchored()?;
    Ok(log)
}

/// Where the head anchor of the log at `log` is kept: under Warden's own state
/// (`~/.config/warden/heads/`, next to the signing key), outside every workspace and never
/// visible from inside the sandbox, named by a digest of the log's canonical path.
pub fn anchor_path(log: &Path) -> PathBuf {
    use sha2::Digest as _;
    let canonical = std::fs::canonicalize(log).unwrap_or_else(|_| log.to_path_buf());
    let digest = sha2::Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    home()
        .join(".config/warden/heads")
        .join(format!("{name}.checkpoint"))
}

/// This machine's host name.
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// How soon a buffered nested record is durable (`[audit] nested = "buffered"`).
pub const NESTED_FLUSH_WITHIN: Duration = Duration::from_millis(50);

/// Writes records for one workspace's audit log. Shareable across threads (clones share the
/// open log and its group commit).
#[derive(Debug, Clone)]
pub struct Recorder {
    log: Arc<AuditLog>,
    /// `[audit] nested = "buffered"`.
    nested_buffered: bool,
    policy_digest: String,
    user: Option<String>,
    host: Option<String>,
    otlp: Option<OtlpSettings>,
    poll: Duration,
}

impl Recorder {
    /// Open (creating if needed) the audit log for `workspace` as the policy configures it.
    pub fn open(workspace: &Path, policy: &Policy) -> Result<Self> {
        Self::open_at(workspace, policy, None)
    }

    /// Like [`Recorder::open`], writing to `log` instead of the configured file when given.
    pub fn open_at(workspace: &Path, policy: &Policy, log: Option<&Path>) -> Result<Self> {
        let cfg = &policy.config().audit;
        let log = open_log(workspace, cfg, log)?;
        let env = |k: &str| std::env::var(k).ok();
        let otlp = OtlpSettings::resolve(&cfg.otlp, &env, None, None)
            .map_err(|e| GovernError::AuditConfig(format!("[audit.otlp]: {e}")))?;
        Ok(Self {
            log: Arc::new(log),
            nested_buffered: cfg.nested
                == Some(warden_policy::sections::audit::NestedRecords::Buffered),
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
    pub fn log_path(&self) -> &Path {
        self.log.path()
    }

    /// The open log (for records the governed path does not write itself).
    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    /// The typed intent record of `action` with this recorder's user, host and policy.
    pub fn intent_record(
        &self,
        action: &Action,
        decision: &Decision,
        meta: &IntentMeta,
    ) -> warden_audit::Intent {
        IntentInfo {
            tool: meta.tool.clone(),
            rationale: meta.rationale.clone(),
            agent: meta.agent.clone(),
            session: meta.session.clone(),
            tool_call_id: meta.tool_call_id.clone(),
            user: self.user.clone(),
            host: self.host.clone(),
            policy_digest: Some(self.policy_digest.clone()),
            sandboxed: None,
        }
        .intent(action, decision)
    }

    /// Append the intent record and make it durable before returning.
    pub fn intent(
        &self,
        action: &Action,
        decision: &Decision,
        meta: &IntentMeta,
    ) -> Result<IntentRef> {
        self.append_intent(self.intent_record(action, decision, meta))
    }

    /// Append a prepared intent record, durably.
    pub fn append_intent(&self, intent: warden_audit::Intent) -> Result<IntentRef> {
        let a = self
            .log
            .append_record(Record::Intent(Box::new(intent)))
            .map_err(GovernError::Intent)?;
        Ok(IntentRef {
            seq: a.seq,
            hash: a.hash,
        })
    }

    /// Append an approval event, by whom, durably. `filed` is the approval server's request
    /// (id, action digest) the event is about, when one was filed.
    pub fn approval(
        &self,
        intent: &IntentRef,
        event: ApprovalEvent,
        by: Option<&str>,
        filed: Option<&(String, String)>,
    ) -> Result<()> {
        let mut a = Approval::new(intent, event, by);
        if let Some((request, digest)) = filed {
            a.request_id = Some(request.clone());
            a.action_digest = Some(digest.clone());
            a.decision = Some(
                match event {
                    ApprovalEvent::Granted => "approved",
                    other => other.as_str(),
                }
                .into(),
            );
        }
        self.approval_record(a)
    }

    /// Append a full approval record, durably.
    pub fn approval_record(&self, a: Approval) -> Result<()> {
        self.log.append_record(Record::Approval(a))?;
        Ok(())
    }

    /// Append a network decision made while the action ran. Written at once but not waited on
    /// for `fdatasync` (the next durable record syncs it): only intents gate an action.
    pub fn network(&self, intent: &IntentRef, event: &NetworkRecord) -> Result<()> {
        self.log
            .append_record_lazy(Record::Network(event.record(intent)))?;
        Ok(())
    }

    /// Append a nested decision, durably (the nested operation waits on it); returns its seq.
    /// With `[audit] nested = "buffered"`, one that proceeds at the granted tier (never a held,
    /// refused or escalated one) is only written, and made durable within
    /// [`NESTED_FLUSH_WITHIN`] by a background flush.
    pub fn nested(&self, n: warden_audit::Nested) -> Result<u64> {
        let escalated = n.answer != warden_audit::NestedAnswer::Proceed
            || n.held.is_some()
            || n.tier > n.granted;
        if self.nested_buffered && !escalated {
            return Ok(self
                .log
                .append_record_buffered(Record::Nested(n), NESTED_FLUSH_WITHIN)?
                .seq);
        }
        Ok(self.log.append_record(Record::Nested(n))?.seq)
    }

    /// Append the outcome record, written at once but not waited on for `fdatasync`: after a
    /// power failure a missing outcome is reported as "outcome unknown", which is the design's
    /// answer for every crash, and saving the sync takes one disk flush off every `warden run`.
    pub fn outcome(&self, intent: &IntentRef, outcome: &Outcome) -> Result<()> {
        self.log
            .append_record_lazy(Record::Outcome(outcome_record(intent, outcome)))?;
        Ok(())
    }

    /// Seal the log's head (a checkpoint, and its note stored in the head anchor): the last
    /// record of a unit of work.
    pub fn seal(&self) -> Result<()> {
        self.log.seal()?;
        Ok(())
    }

    /// A guard that seals the log when dropped, whichever way the caller returns. A failure is
    /// reported on stderr, not fatal: the action has already run.
    pub fn seal_on_drop(&self) -> SealOnDrop<'_> {
        SealOnDrop(self)
    }

    /// Start the background OTLP exporter of this log when an endpoint is configured
    /// (`[audit.otlp]` or `OTEL_EXPORTER_OTLP_*`). Call `shutdown()` on the handle before
    /// exiting to flush what was written.
    pub fn spawn_exporter(&self) -> Option<ExporterHandle> {
        let settings = self.otlp.clone()?;
        Some(warden_audit::Exporter::new(self.log.path(), settings).spawn(self.poll))
    }
}

/// The typed `outcome` record of `outcome` about `intent`.
pub fn outcome_record(intent: &IntentRef, outcome: &Outcome) -> warden_audit::Outcome {
    let ran = outcome.exit_code.is_some() || outcome.signal.is_some();
    warden_audit::Outcome {
        intent: intent.clone(),
        // Every outcome written now says how the action ended; a caller that gives nothing
        // either ran it (an exit status) or did not.
        disposition: Some(outcome.disposition.unwrap_or(if ran {
            Disposition::Ran
        } else {
            Disposition::NotRun
        })),
        ticket: outcome.ticket.clone(),
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        duration_ns: u64::try_from(outcome.duration.as_nanos()).unwrap_or(u64::MAX),
        stdout_bytes: outcome.stdout_bytes,
        stdout_sha256: outcome.stdout_sha256.clone(),
        stderr_bytes: outcome.stderr_bytes,
        stderr_sha256: outcome.stderr_sha256.clone(),
        notes: outcome.notes.clone(),
    }
}

/// Seals a [`Recorder`]'s log when dropped (see [`Recorder::seal_on_drop`]).
#[derive(Debug)]
pub struct SealOnDrop<'a>(&'a Recorder);

impl Drop for SealOnDrop<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.seal() {
            use std::io::Write as _;
            // A closed stderr must not turn a finished action into a panic.
            let _ = writeln!(
                std::io::stderr(),
                "warden: audit log: cannot seal the head: {e}"
            );
        }
    }
}
