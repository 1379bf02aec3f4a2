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
    /// The agent's tool name (Claude Code's `Bash`/`Edit`/…, the MCP tool); the audit record
    /// falls back to the action kind when absent.
    pub tool: Option<String>,
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
#[derive(Debug, Clone, Default)]
pub struct NetworkRecord {
    pub protocol: String,
    pub host: String,
    pub port: u16,
    pub method: Option<String>,
    pub allowed: bool,
    pub rule: String,
    pub path: Option<String>,
    pub service: Option<String>,
    pub handling: String,
    pub tier: Option<String>,
    pub judged_by: Option<String>,
}

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
                handling: e.handling.to_string(),
                tier: e.tier.map(|t| t.to_string()),
                judged_by: e.judged_by,
            });
        }
    });
    (events, sink)
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

/// Where the head anchor of the log at `log` is kept: under Warden's own state
/// (`~/.config/warden/heads/`, next to the signing key), outside every workspace and never
/// writable from inside the sandbox, named by a digest of the log's canonical path.
pub fn anchor_path(log: &Path) -> PathBuf {
    use sha2::Digest as _;
    let canonical = std::fs::canonicalize(log).unwrap_or_else(|_| log.to_path_buf());
    let digest = sha2::Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    crate::policy_load::home()
        .join(".config/warden/heads")
        .join(format!("{name}.checkpoint"))
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
        anchor: None,
    };
    let mut log = AuditLog::open(&path, opts).map_err(audit_err)?;
    // Named once the file exists, so that its canonical path is the one `verify` will see.
    log.set_anchor(anchor_path(&path));
    Ok(log)
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
        self.intent_with(action, decision, meta, None, &[])
    }

    /// The one intent writer: `sandboxed` and `extra` fields on top of the common body.
    fn intent_with(
        &self,
        action: &Action,
        decision: &Decision,
        meta: &IntentMeta,
        sandboxed: Option<bool>,
        extra: &[(&str, &str)],
    ) -> Result<IntentRef, CliError> {
        let info = warden_audit::IntentInfo {
            tool: meta.tool.clone(),
            rationale: meta.rationale.clone(),
            agent: meta.agent.clone(),
            session: meta.session.clone(),
            tool_call_id: meta.tool_call_id.clone(),
            user: self.user.clone(),
            host: self.host.clone(),
            policy_digest: Some(self.policy_digest.clone()),
            sandboxed,
        };
        let mut body = warden_audit::records::intent_body(action, decision, &info);
        for (k, v) in extra {
            body.insert((*k).into(), (*v).into());
        }
        let a = self.log.append("intent", body).map_err(audit_err)?;
        Ok(IntentRef {
            seq: a.seq,
            hash: a.hash,
        })
    }

    /// Append an approval event (`requested`, `granted`, `denied`, `expired`), by whom. Once
    /// this process has filed the request with an approval server, the record also names the
    /// server's request id and the action digest the approval is bound to.
    pub fn approval(
        &self,
        intent: &IntentRef,
        event: &str,
        by: Option<&str>,
    ) -> Result<(), CliError> {
        let mut body = warden_audit::records::approval_body(&id(intent), event, by);
        if let Some((request, digest)) = crate::approval_server::last_filed() {
            body.insert("request_id".into(), request.into());
            body.insert("action_digest".into(), digest.into());
            let decision = match event {
                "granted" => "approved",
                other => other,
            };
            body.insert("decision".into(), decision.into());
        }
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
            path: event.path.clone(),
            service: event.service.clone(),
            handling: Some(event.handling.clone()),
            tier: event.tier.clone(),
            judged_by: event.judged_by.clone(),
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
        let body = outcome_body(intent, outcome);
        self.log
            .append_lazy("outcome", body)
            .map(|_| ())
            .map_err(audit_err)
    }

    /// Seal the log's head (a checkpoint, and its note stored in the head anchor): the last
    /// record of a unit of work. A failure is reported, not fatal: the action has already run.
    pub fn seal(&self) {
        if let Err(e) = self.log.seal() {
            stderr_line!("warden: audit log: cannot seal the head: {e}");
        }
    }

    /// A guard that seals the log when dropped, whichever way the caller returns.
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

/// What an `approval` record says beyond its event: which request, which exact action, who
/// decided and what. The same fields in the server's log and in a workspace's log.
#[derive(Debug, Clone, Default)]
pub struct ApprovalDetail {
    /// `requested`, `vote`, `granted`, `denied`, `expired`, `consumed`, `executed`.
    pub event: String,
    /// The decider (approver, requester or worker that acted).
    pub by: Option<String>,
    /// The approval server's request id.
    pub request_id: Option<String>,
    /// Digest binding the approval to the exact action.
    pub action_digest: Option<String>,
    /// `approve`/`deny` for a vote; `approved`, `denied`, `expired`, `consumed`, `executed`.
    pub decision: Option<String>,
    pub reason: Option<String>,
    pub comment: Option<String>,
    /// For `executed`: the outcome the executor reported.
    pub outcome: Option<serde_json::Value>,
}

fn approval_detail_body(
    intent: &IntentRef,
    d: &ApprovalDetail,
) -> serde_json::Map<String, serde_json::Value> {
    let mut m = warden_audit::records::approval_body(&id(intent), &d.event, d.by.as_deref());
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    };
    put("request_id", &d.request_id);
    put("action_digest", &d.action_digest);
    put("decision", &d.decision);
    put("reason", &d.reason);
    put("comment", &d.comment);
    if let Some(o) = &d.outcome {
        m.insert("outcome".into(), o.clone());
    }
    m
}

impl Recorder {
    /// Append an `approval` record carrying the server's request id, the action digest, the
    /// decider and the decision (a richer [`Recorder::approval`]).
    pub fn approval_detail(&self, intent: &IntentRef, d: &ApprovalDetail) -> Result<(), CliError> {
        self.log
            .append("approval", approval_detail_body(intent, d))
            .map(|_| ())
            .map_err(audit_err)
    }

    /// Append an intent record for an action an approval server request carries (the worker
    /// running a parked `async` action), naming the request and its digest.
    pub fn request_intent(
        &self,
        action: &Action,
        decision: &Decision,
        meta: &IntentMeta,
        request_id: &str,
        action_digest: &str,
    ) -> Result<IntentRef, CliError> {
        self.intent_with(
            action,
            decision,
            meta,
            Some(true),
            &[("request_id", request_id), ("action_digest", action_digest)],
        )
    }
}

/// Seals a [`Recorder`]'s log when dropped (see [`Recorder::seal_on_drop`]).
#[derive(Debug)]
pub struct SealOnDrop<'a>(&'a Recorder);

impl Drop for SealOnDrop<'_> {
    fn drop(&mut self) {
        self.0.seal();
    }
}

/// The approval server's own audit log (`warden serve --audit-log PATH`): the same hash-chained
/// `warden-audit` log as a workspace's. Each request opens an `intent` record (the action as
/// filed, its tier, category, rule, requester, request id and action digest) which every later
/// `approval` record names (requested, each vote, granted, denied, expired, consumed, executed);
/// an `outcome` record closes it once the action can no longer run (denied, expired), was handed
/// to `warden run` (sync, consumed) or was executed (async, with the reported exit status).
///
/// Replicas and restarts: a request first seen here (filed on another replica, or before a
/// restart of a log that did not hold it) gets its intent written on first sight, so every log is
/// self-contained and verifies on its own.
#[derive(Debug)]
pub struct ApprovalAudit {
    log: AuditLog,
    /// Request id → its intent in this log, and whether an outcome closed it.
    intents: std::sync::Mutex<std::collections::HashMap<String, (IntentRef, bool)>>,
    host: Option<String>,
}

impl ApprovalAudit {
    /// Open (creating durably if needed) the log at `path`; signing and checkpoints as `cfg`.
    pub fn open(path: &Path, workspace: &Path, cfg: &AuditConfig) -> Result<Self, CliError> {
        let log = open_log(workspace, cfg, Some(path))?;
        let mut intents = std::collections::HashMap::new();
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::failure(miette::miette!("cannot read {}: {e}", path.display()))
        })?;
        let mut by_seq = std::collections::HashMap::new();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
            match s("kind") {
                Some("intent") => {
                    if let (Some(rid), Some(seq), Some(hash)) = (
                        s("request_id"),
                        v.get("seq").and_then(serde_json::Value::as_u64),
                        s("hash"),
                    ) {
                        by_seq.insert(seq, rid.to_owned());
                        let r = IntentRef {
                            seq,
                            hash: hash.to_owned(),
                        };
                        intents.insert(rid.to_owned(), (r, false));
                    }
                }
                Some("outcome") => {
                    if let Some(rid) = v
                        .get("intent_seq")
                        .and_then(serde_json::Value::as_u64)
                        .and_then(|seq| by_seq.get(&seq))
                        && let Some(e) = intents.get_mut(rid)
                    {
                        e.1 = true;
                    }
                }
                _ => {}
            }
        }
        Ok(Self {
            log,
            intents: std::sync::Mutex::new(intents),
            host: hostname(),
        })
    }

    /// The intent of request `r` in this log, written now if this log has none yet.
    fn intent_of(
        &self,
        intents: &mut std::collections::HashMap<String, (IntentRef, bool)>,
        r: &warden_approvals::RequestView,
    ) -> Result<IntentRef, CliError> {
        if let Some((i, _)) = intents.get(&r.id) {
            return Ok(i.clone());
        }
        let tier: warden_policy::Tier =
            serde_json::from_value(serde_json::Value::String(r.tier.clone()))
                .unwrap_or(warden_policy::Tier::Sync);
        let decision = Decision {
            tier,
            category: r.category.clone(),
            rule: r.rule.clone(),
            reasons: r.reasons.clone(),
            commands: vec![],
        };
        // The action as the agent filed it; a shape the policy layer does not know is kept
        // verbatim below, under a neutral tool name.
        let action: Action = serde_json::from_value(r.action.clone()).unwrap_or(Action::Tool {
            name: "approval-request".into(),
            arguments: serde_json::Value::Null,
        });
        let info = warden_audit::IntentInfo {
            tool: None,
            rationale: r.rationale.clone(),
            agent: Some(r.requester.clone()),
            session: None,
            tool_call_id: None,
            user: None,
            host: self.host.clone(),
            policy_digest: Some(r.policy_digest.clone()),
            sandboxed: None,
        };
        let mut body = warden_audit::records::intent_body(&action, &decision, &info);
        body.insert("action".into(), r.action.clone());
        body.insert("action_text".into(), r.action_text.clone().into());
        // What the filer claimed, and where the server's own reading differed.
        body.insert("claimed".into(), serde_json::json!(r.claimed));
        if !r.discrepancies.is_empty() {
            body.insert("discrepancies".into(), serde_json::json!(r.discrepancies));
        }
        body.insert("cwd".into(), r.cwd.clone().into());
        body.insert("workspace".into(), r.workspace.clone().into());
        body.insert("request_id".into(), r.id.clone().into());
        body.insert("action_digest".into(), r.action_digest.clone().into());
        body.insert("groups".into(), serde_json::json!(r.groups));
        let a = self.log.append("intent", body).map_err(audit_err)?;
        let i = IntentRef {
            seq: a.seq,
            hash: a.hash,
        };
        intents.insert(r.id.clone(), (i.clone(), false));
        Ok(i)
    }

    /// Record `ev` about request `r` (the request as stored after the event), durably.
    pub fn record(
        &self,
        ev: &warden_approvals::Event,
        r: &warden_approvals::RequestView,
    ) -> Result<(), CliError> {
        use warden_approvals::Event as E;
        let mut intents = self.intents.lock().unwrap_or_else(|p| p.into_inner());
        let intent = self.intent_of(&mut intents, r)?;
        let base = ApprovalDetail {
            request_id: Some(r.id.clone()),
            action_digest: Some(r.action_digest.clone()),
            ..ApprovalDetail::default()
        };
        let approvers = |verdict: &str| {
            r.votes
                .iter()
                .filter(|v| v.verdict == verdict)
                .map(|v| v.approver.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        // (record, why the action will not run here: closes the intent with an outcome)
        let (detail, close): (ApprovalDetail, Option<Outcome>) = match ev {
            E::Requested { requester, .. } => (
                ApprovalDetail {
                    event: "requested".into(),
                    by: Some(requester.clone()),
                    decision: Some("pending".into()),
                    reason: Some(format!("routed to {}", r.groups.join(", "))),
                    ..base
                },
                None,
            ),
            E::Voted {
                approver, verdict, ..
            } => (
                ApprovalDetail {
                    event: "vote".into(),
                    by: Some(approver.clone()),
                    decision: Some(verdict.clone()),
                    comment: r
                        .votes
                        .iter()
                        .find(|v| &v.approver == approver)
                        .and_then(|v| v.comment.clone()),
                    ..base
                },
                None,
            ),
            E::Decided { status, reason, .. } => {
                let denied = *status == warden_approvals::Status::Denied;
                let by = approvers(if denied { "deny" } else { "approve" });
                let detail = ApprovalDetail {
                    event: if denied { "denied" } else { "granted" }.into(),
                    by: Some(by),
                    decision: Some(status.as_str().into()),
                    reason: reason.clone(),
                    ..base
                };
                let close = denied.then(|| not_run(reason.as_deref().unwrap_or("denied")));
                (detail, close)
            }
            E::Expired { reason, .. } => (
                ApprovalDetail {
                    event: "expired".into(),
                    decision: Some("expired".into()),
                    reason: Some(reason.clone()),
                    ..base
                },
                Some(not_run(reason)),
            ),
            E::Consumed { by, .. } => {
                let sync = r.tier == "sync";
                let close = sync.then(|| Outcome {
                    notes: vec![format!(
                        "approval used by {by}; the action runs under `warden run`, whose workspace log records its outcome"
                    )],
                    ..Outcome::default()
                });
                (
                    ApprovalDetail {
                        event: "consumed".into(),
                        by: Some(by.clone()),
                        decision: Some("consumed".into()),
                        ..base
                    },
                    close,
                )
            }
            E::Executed { outcome, .. } => {
                let code = outcome
                    .get("exit_code")
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|c| i32::try_from(c).ok());
                let ran = outcome.get("ran").and_then(serde_json::Value::as_bool) == Some(true);
                let close = Outcome {
                    exit_code: code,
                    notes: if ran {
                        vec![format!("executed by {} after approval", r.requester)]
                    } else {
                        vec![format!("not run: {outcome}")]
                    },
                    ..Outcome::default()
                };
                (
                    ApprovalDetail {
                        event: "executed".into(),
                        by: Some(r.requester.clone()),
                        decision: Some("executed".into()),
                        outcome: Some(outcome.clone()),
                        ..base
                    },
                    Some(close),
                )
            }
        };
        self.log
            .append("approval", approval_detail_body(&intent, &detail))
            .map_err(audit_err)?;
        if let Some(outcome) = close
            && let Some(entry) = intents.get_mut(&r.id)
            && !entry.1
        {
            entry.1 = true;
            self.log
                .append("outcome", outcome_body(&intent, &outcome))
                .map_err(audit_err)?;
        }
        Ok(())
    }
}

fn not_run(why: &str) -> Outcome {
    Outcome {
        notes: vec![format!("not run: {why}")],
        ..Outcome::default()
    }
}

fn outcome_body(
    intent: &IntentRef,
    outcome: &Outcome,
) -> serde_json::Map<String, serde_json::Value> {
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
    warden_audit::records::outcome_body(&id(intent), &info)
}
