//! The governed path behind every MCP tool: classify → record the intent (durable) → approve →
//! act confined (the sandbox via `warden run` for `exec`, workspace-confined file access, the
//! egress proxy for HTTP) → record the outcome. Blocking code; the server runs it off the
//! async executor.

use super::paths::{self, Confined, PathError};
use crate::approval::{ApprovalAnswer, ApprovalRequest, Approver};
use crate::approval_server::{Client, ServerApprover};
use crate::exit::CliError;
use crate::record::{IntentMeta, IntentRef, NetworkRecord, Outcome, Recorder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use warden_policy::{Action, Context, Decision, Policy, Tier};

/// What a tool answers: readable text, structured content, and whether it is an error.
#[derive(Debug, Clone)]
pub struct Reply {
    pub is_error: bool,
    pub text: String,
    pub structured: Value,
}

impl Reply {
    fn ok(text: String, structured: Value) -> Self {
        Self {
            is_error: false,
            text,
            structured,
        }
    }

    fn err(text: String, structured: Value) -> Self {
        Self {
            is_error: true,
            text,
            structured,
        }
    }
}

/// The approval server `warden mcp` files requests with.
#[derive(Debug, Clone)]
pub struct ApprovalServer {
    pub url: String,
    pub token: String,
}

/// Everything the tools share: the workspace, the policy's location, the audit log.
#[derive(Debug)]
pub struct Governor {
    /// Canonical workspace root.
    pub workspace: PathBuf,
    pub policy_file: Option<PathBuf>,
    pub recorder: Recorder,
    pub exe: PathBuf,
    pub allow_degraded: bool,
    pub approvals: Option<ApprovalServer>,
    /// Most bytes of file content, command output or response body put into one reply.
    pub max_bytes: usize,
    calls: AtomicU64,
}

/// A file or HTTP action, ready for the governed path.
struct Planned {
    /// The MCP tool that planned it (`read_file`, `http_request`, …), recorded in the intent.
    tool: &'static str,
    action: Action,
    /// What the approver reads.
    text: String,
    /// What an approval is bound to (the action plus digests of any payload).
    bound: Value,
    /// A refusal found before classification finished (e.g. a path escape): recorded, never run.
    refused: Option<String>,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn report(e: &CliError) -> String {
    format!("{}", e.report)
}

impl Governor {
    /// Set up for `workspace` (canonicalised here).
    pub fn new(
        workspace: &Path,
        policy_file: Option<PathBuf>,
        allow_degraded: bool,
        max_bytes: usize,
    ) -> Result<Self, CliError> {
        let workspace = std::fs::canonicalize(workspace).map_err(|e| {
            CliError::bad_input(miette::miette!("workspace {}: {e}", workspace.display()))
        })?;
        let policy = crate::policy_load::load(policy_file.as_deref(), &workspace)?;
        let recorder = Recorder::open(&workspace, &policy)?;
        let exe = std::env::current_exe().map_err(|e| {
            CliError::failure(miette::miette!("cannot find the warden executable: {e}"))
        })?;
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let approvals = match (var("WARDEN_SERVER"), var("WARDEN_TOKEN")) {
            (Some(url), Some(token)) => Some(ApprovalServer { url, token }),
            _ => None,
        };
        Ok(Self {
            workspace,
            policy_file,
            recorder,
            exe,
            allow_degraded,
            approvals,
            max_bytes,
            calls: AtomicU64::new(0),
        })
    }

    /// A fresh id for one tool call, recorded as `gen_ai.tool.call.id`.
    pub fn next_call_id(&self) -> String {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("mcp-{}-{nanos:x}-{n}", std::process::id())
    }

    /// The policy as it is now (reloaded per call, as `warden run` does for `exec`).
    fn policy(&self) -> Result<Policy, CliError> {
        crate::policy_load::load(self.policy_file.as_deref(), &self.workspace)
    }

    fn context(&self) -> Context {
        Context {
            workspace: self.workspace.clone(),
            cwd: self.workspace.clone(),
            home: crate::policy_load::home(),
            sandboxed: true,
        }
    }

    fn truncate(&self, bytes: &[u8]) -> (String, bool) {
        let cut = bytes.len() > self.max_bytes;
        let part = if cut { &bytes[..self.max_bytes] } else { bytes };
        (String::from_utf8_lossy(part).into_owned(), cut)
    }

    /// Resolve a tool's path argument; an escape becomes a refusal on the planned action.
    fn resolve(&self, requested: &str) -> (PathBuf, Result<Confined, PathError>) {
        let r = paths::confine(&self.workspace, requested);
        let shown = match &r {
            Ok(c) => c.abs.clone(),
            Err(_) => paths::lexical(&self.workspace, requested)
                .unwrap_or_else(|| PathBuf::from(requested)),
        };
        (shown, r)
    }

    // ---- exec ---------------------------------------------------------------------------

    /// `exec`: the whole path is `warden run` (classify, record, approve, sandbox, record).
    pub fn exec(
        &self,
        argv: Option<Vec<String>>,
        shell: Option<String>,
        cwd: Option<String>,
        rationale: Option<String>,
    ) -> Reply {
        let call_id = self.next_call_id();
        let base = json!({ "tool_call_id": call_id });
        let cwd = match cwd.as_deref().map(|c| paths::confine(&self.workspace, c)) {
            None => self.workspace.clone(),
            Some(Ok(c)) => c.abs,
            Some(Err(e)) => {
                return Reply::err(
                    format!("denied: cwd {e}"),
                    json!({"status": "denied", "reason": format!("cwd {e}"), "tool_call_id": call_id}),
                );
            }
        };
        let mut cmd = Command::new(&self.exe);
        cmd.arg("run")
            .arg("--agent")
            .arg("mcp")
            .arg("--tool-call-id")
            .arg(&call_id)
            .arg("--tool")
            .arg("exec")
            .arg("--workspace")
            .arg(&self.workspace)
            .arg("--cwd")
            .arg(&cwd);
        if let Some(p) = &self.policy_file {
            cmd.arg("--policy").arg(p);
        }
        if let Some(r) = &rationale {
            cmd.arg("--rationale").arg(r);
        }
        if self.allow_degraded {
            cmd.arg("--allow-degraded");
        }
        match (argv, shell) {
            (Some(a), None) if !a.is_empty() && !a[0].is_empty() => {
                cmd.arg("--").args(a);
            }
            (None, Some(s)) if !s.trim().is_empty() => {
                cmd.arg("--shell").arg(s);
            }
            _ => {
                return Reply::err(
                    "give exactly one of `argv` (a non-empty list) or `command` (a shell string)"
                        .into(),
                    json!({"status": "error", "tool_call_id": call_id}),
                );
            }
        }
        if let Some(a) = &self.approvals {
            cmd.env("WARDEN_SERVER", &a.url)
                .env("WARDEN_TOKEN", &a.token);
        }
        cmd.current_dir(&cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = match cmd.output() {
            Ok(o) => o,
            Err(e) => {
                return Reply::err(
                    format!("cannot start warden run: {e}"),
                    json!({"status": "error", "tool_call_id": call_id}),
                );
            }
        };
        let code = out.status.code();
        let (stdout, out_cut) = self.truncate(&out.stdout);
        let (stderr, err_cut) = self.truncate(&out.stderr);
        // `warden run` explains every non-run case on its last `warden: ` line of stderr.
        let last = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("warden: "))
            .map(|l| l.trim_start_matches("warden: ").to_owned());
        // The command's own exit status may be 77 or 75 and its stderr may say anything: only
        // an outcome in the audit log without an exit status means `warden run` refused it.
        let refused = matches!(code, Some(77 | 75)) && !self.ran_per_audit(&call_id);
        let last = last.filter(|_| refused);
        let mut s = base;
        let obj = s.as_object_mut().expect("object");
        match (code, last) {
            (Some(77), Some(why)) if why.starts_with("denied") => {
                obj.insert("status".into(), "denied".into());
                obj.insert("reason".into(), why.clone().into());
                let text = if why.starts_with("denied:") {
                    why
                } else {
                    format!("denied: {why}")
                };
                Reply::err(text, s)
            }
            (Some(75), Some(why)) if why.starts_with("deferred") => {
                let ticket = why
                    .split_once("(ticket ")
                    .and_then(|(_, r)| r.split_once(')'))
                    .map(|(t, _)| t.to_owned());
                let Some(t) = ticket else {
                    // No approval server: nothing would ever pick the action up.
                    let why = format!(
                        "needs approval ({why}); no approval server is configured (set WARDEN_SERVER and WARDEN_TOKEN for `warden mcp`)"
                    );
                    obj.insert("status".into(), "denied".into());
                    obj.insert("reason".into(), why.clone().into());
                    return Reply::err(format!("denied: {why}"), s);
                };
                obj.insert("status".into(), "pending".into());
                obj.insert("reason".into(), why.clone().into());
                obj.insert("ticket".into(), t.clone().into());
                Reply::ok(
                    format!(
                        "pending approval: ticket {t}. {why}. Ask `approval_status` with this ticket; an approved command is run by `warden approvals worker`."
                    ),
                    s,
                )
            }
            _ => {
                obj.insert("status".into(), "ran".into());
                obj.insert("exit_code".into(), code.into());
                obj.insert("stdout".into(), stdout.clone().into());
                obj.insert("stderr".into(), stderr.clone().into());
                obj.insert("truncated".into(), (out_cut || err_cut).into());
                let mut text = format!(
                    "exit code {}\n",
                    code.map_or("none".into(), |c| c.to_string())
                );
                if !stdout.is_empty() {
                    text.push_str(&format!("--- stdout ---\n{stdout}"));
                    if !stdout.ends_with('\n') {
                        text.push('\n');
                    }
                }
                if !stderr.is_empty() {
                    text.push_str(&format!("--- stderr ---\n{stderr}"));
                }
                Reply {
                    is_error: code != Some(0),
                    text,
                    structured: s,
                }
            }
        }
    }

    /// Whether the audit log shows that the call `call_id` ran (its outcome has an exit status
    /// or a signal). Read from the end: the call was just recorded.
    fn ran_per_audit(&self, call_id: &str) -> bool {
        let Ok(text) = std::fs::read_to_string(self.recorder.log_path()) else {
            return false;
        };
        let mut outcome: Option<Value> = None;
        let mut seen = Vec::new();
        for line in text.lines().rev() {
            let Ok(r) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if r["kind"] == "intent" && r["tool_call_id"] == call_id {
                outcome = seen
                    .into_iter()
                    .find(|o: &Value| o["intent_seq"] == r["seq"]);
                break;
            }
            if r["kind"] == "outcome" {
                seen.push(r);
            }
        }
        outcome.is_some_and(|o| !o["exit_code"].is_null() || !o["signal"].is_null())
    }

    // ---- the shared governed path for file and HTTP tools -------------------------------

    /// Classify, record, approve, then `act` (which returns its structured result, its text
    /// and the outcome to record), then record the outcome.
    fn governed(
        &self,
        planned: Planned,
        rationale: Option<String>,
        ticket: Option<String>,
        act: impl FnOnce(&Policy) -> Acted,
    ) -> Reply {
        let call_id = self.next_call_id();
        let policy = match self.policy() {
            Ok(p) => p,
            Err(e) => {
                return Reply::err(
                    format!(
                        "refused: the governance file cannot be loaded: {}",
                        report(&e)
                    ),
                    json!({"status": "error", "tool_call_id": call_id}),
                );
            }
        };
        let ctx = self.context();
        let decision = policy.classify(&planned.action, &ctx);
        let meta = IntentMeta {
            rationale: rationale.clone(),
            agent: Some("mcp".into()),
            session: None,
            tool_call_id: Some(call_id.clone()),
            tool: Some(planned.tool.into()),
        };
        let intent = match self.recorder.intent(&planned.action, &decision, &meta) {
            Ok(i) => i,
            Err(e) => {
                return Reply::err(
                    format!("refused: the intent could not be recorded: {}", report(&e)),
                    json!({"status": "error", "tool_call_id": call_id}),
                );
            }
        };
        let mut s = json!({
            "tool_call_id": call_id,
            "tier": decision.tier.as_str(),
            "category": decision.category,
            "rule": decision.rule,
            "reasons": decision.reasons,
        });
        let why = decision
            .reasons
            .first()
            .cloned()
            .unwrap_or_else(|| decision.rule.clone());
        if let Some(refusal) = planned.refused {
            return self.refuse(&intent, s, format!("denied: {refusal}"));
        }
        match decision.tier {
            Tier::Auto => {}
            Tier::Deny => {
                return self.refuse(
                    &intent,
                    s,
                    format!("denied by policy (rule {}): {why}", decision.rule),
                );
            }
            Tier::Async | Tier::Sync => {
                match self.approve(
                    &planned,
                    &decision,
                    &intent,
                    rationale.as_deref(),
                    ticket,
                    &ctx,
                    &policy,
                ) {
                    Gate::Go => {}
                    Gate::Refused(reason) => return self.refuse(&intent, s, reason),
                    Gate::Pending { ticket, reason } => {
                        let note = format!("deferred (ticket {ticket}): {reason}");
                        let _ = self.recorder.outcome(
                            &intent,
                            &Outcome {
                                notes: vec![note.clone()],
                                ..Default::default()
                            },
                        );
                        let obj = s.as_object_mut().expect("object");
                        obj.insert("status".into(), "pending".into());
                        obj.insert("ticket".into(), ticket.clone().into());
                        obj.insert("reason".into(), reason.clone().into());
                        return Reply::ok(
                            format!(
                                "pending approval: ticket {ticket} (tier {}, rule {}). {reason}. Ask `approval_status` with this ticket; once approved, call this tool again with the same arguments and `ticket` set.",
                                decision.tier, decision.rule
                            ),
                            s,
                        );
                    }
                }
            }
        }
        let started = Instant::now();
        let (result, network) = act(&policy);
        for n in &network {
            let _ = self.recorder.network(&intent, n);
        }
        match result {
            Ok((result, text, mut outcome)) => {
                outcome.duration = started.elapsed();
                if let Err(e) = self.recorder.outcome(&intent, &outcome) {
                    stderr_line!("warden mcp: outcome not recorded: {}", report(&e));
                }
                let obj = s.as_object_mut().expect("object");
                obj.insert("status".into(), "ok".into());
                if let Value::Object(m) = result {
                    obj.extend(m);
                }
                Reply::ok(text, s)
            }
            Err(msg) => {
                let outcome = Outcome {
                    duration: started.elapsed(),
                    notes: vec![format!("failed: {msg}")],
                    ..Default::default()
                };
                let _ = self.recorder.outcome(&intent, &outcome);
                let obj = s.as_object_mut().expect("object");
                obj.insert("status".into(), "error".into());
                obj.insert("reason".into(), msg.clone().into());
                Reply::err(msg, s)
            }
        }
    }

    fn refuse(&self, intent: &IntentRef, mut s: Value, reason: String) -> Reply {
        let _ = self.recorder.outcome(
            intent,
            &Outcome {
                notes: vec![reason.clone()],
                ..Default::default()
            },
        );
        let obj = s.as_object_mut().expect("object");
        obj.insert("status".into(), "denied".into());
        obj.insert("reason".into(), reason.clone().into());
        let text = if reason.starts_with("denied") {
            reason
        } else {
            format!("denied: {reason}")
        };
        Reply::err(text, s)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the pieces are all distinct"
    )]
    fn approve(
        &self,
        planned: &Planned,
        decision: &Decision,
        intent: &IntentRef,
        rationale: Option<&str>,
        ticket: Option<String>,
        ctx: &Context,
        policy: &Policy,
    ) -> Gate {
        let Some(server) = &self.approvals else {
            return Gate::Refused(format!(
                "needs approval (tier {}, rule {}: {}); no approval server is configured (set WARDEN_SERVER and WARDEN_TOKEN for `warden mcp`) and MCP has no interactive prompt",
                decision.tier,
                decision.rule,
                decision.reasons.first().cloned().unwrap_or_default()
            ));
        };
        let approver = ServerApprover {
            server: server.url.clone(),
            token: server.token.clone(),
            workspace: ctx.workspace.display().to_string(),
            cwd: ctx.cwd.display().to_string(),
            action: planned.bound.clone(),
            policy_digest: policy.digest().to_owned(),
        };
        let answer = if let Some(t) = ticket {
            // A ticket filed earlier for this very action: still pending → still pending;
            // decided → consume it (the server checks the action digest).
            let client = Client::new(&server.url, &server.token);
            match client.get(&format!("/requests/{t}")) {
                Ok(v) if v.get("status").and_then(Value::as_str) == Some("pending") => {
                    return Gate::Pending {
                        ticket: t,
                        reason: "still waiting for an approver".into(),
                    };
                }
                Ok(v)
                    if v.get("action_digest").and_then(Value::as_str)
                        != Some(approver.digest().as_str()) =>
                {
                    return Gate::Refused(format!(
                        "ticket {t} was filed for a different action (or policy): refusing to use it"
                    ));
                }
                Ok(_) => {}
                Err(e) => return Gate::Refused(format!("ticket {t}: {e}")),
            }
            approver.await_and_consume(&t).map_err(|e| e.to_string())
        } else {
            let _ = self.recorder.approval(intent, "requested", None);
            let req = ApprovalRequest {
                action_text: &planned.text,
                decision,
                rationale,
            };
            approver.request(&req).map_err(|e| report(&e))
        };
        match answer {
            Ok(ApprovalAnswer::Granted { by }) => {
                let _ = self.recorder.approval(intent, "granted", Some(&by));
                Gate::Go
            }
            Ok(ApprovalAnswer::Denied { by, reason }) => {
                let event = if by.is_some() { "denied" } else { "expired" };
                let _ = self.recorder.approval(intent, event, by.as_deref());
                Gate::Refused(format!("denied: tier {}: {reason}", decision.tier))
            }
            Ok(ApprovalAnswer::Unavailable { reason }) => {
                let _ = self.recorder.approval(intent, "unavailable", None);
                Gate::Refused(format!("denied: tier {}: {reason}", decision.tier))
            }
            Ok(ApprovalAnswer::Deferred { ticket, reason }) => Gate::Pending {
                ticket: ticket.unwrap_or_default(),
                reason,
            },
            Err(e) => Gate::Refused(format!("the approval server failed: {e}")),
        }
    }

    // ---- file tools ---------------------------------------------------------------------

    /// `read_file`.
    pub fn read_file(
        &self,
        path: &str,
        rationale: Option<String>,
        ticket: Option<String>,
    ) -> Reply {
        let (shown, confined) = self.resolve(path);
        let planned = Planned {
            tool: "read_file",
            action: Action::Read {
                path: shown.clone(),
            },
            text: format!("read {}", shown.display()),
            bound: json!({"kind": "read", "path": shown}),
            refused: confined.as_ref().err().map(ToString::to_string),
        };
        let ws = self.workspace.clone();
        self.governed(planned, rationale, ticket, move |_| {
            let act = || {
                let c = confined.map_err(|e| e.to_string())?;
                let f = paths::open_read(&ws, &c).map_err(|e| e.to_string())?;
                let size = f.metadata().map(|m| m.len()).unwrap_or(0);
                // Never more than the reply can carry (plus one byte to know it was cut).
                let mut bytes = Vec::new();
                f.take(self.max_bytes as u64 + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("{}: {e}", c.rel.display()))?;
                let (content, cut) = self.truncate(&bytes);
                let sent = bytes.len().min(self.max_bytes);
                let outcome = Outcome {
                    exit_code: Some(0),
                    stdout_bytes: sent as u64,
                    stdout_sha256: Some(sha256_hex(&bytes[..sent])),
                    notes: vec![format!("read {sent} of {size} bytes")],
                    ..Default::default()
                };
                Ok((
                    json!({"path": c.abs, "bytes": size, "truncated": cut, "content": content}),
                    content,
                    outcome,
                ))
            };
            local(act())
        })
    }

    /// `write_file`: create or replace a file inside the workspace.
    pub fn write_file(
        &self,
        path: &str,
        content: &str,
        rationale: Option<String>,
        ticket: Option<String>,
    ) -> Reply {
        let (shown, confined) = self.write_target(path);
        let digest = sha256_hex(content.as_bytes());
        let planned = Planned {
            tool: "write_file",
            action: Action::Write {
                path: shown.clone(),
            },
            text: format!(
                "write {} ({} bytes, sha256 {digest})",
                shown.display(),
                content.len()
            ),
            bound: json!({"kind": "write", "path": shown, "content_sha256": digest}),
            refused: confined.as_ref().err().map(ToString::to_string),
        };
        let ws = self.workspace.clone();
        let content = content.to_owned();
        self.governed(planned, rationale, ticket, move |_| {
            let act = || {
                let c = confined.map_err(|e| e.to_string())?;
                let mut f = paths::open_write(&ws, &c, true).map_err(|e| e.to_string())?;
                f.write_all(content.as_bytes())
                    .and_then(|()| f.sync_data())
                    .map_err(|e| format!("{}: {e}", c.rel.display()))?;
                Ok((
                    json!({"path": c.abs, "bytes": content.len(), "sha256": digest}),
                    format!("wrote {} bytes to {}", content.len(), c.rel.display()),
                    Outcome {
                        exit_code: Some(0),
                        notes: vec![format!("wrote {} bytes, sha256 {digest}", content.len())],
                        ..Default::default()
                    },
                ))
            };
            local(act())
        })
    }

    /// Resolve a path the tool will write, refusing read-only places inside the workspace.
    fn write_target(&self, path: &str) -> (PathBuf, Result<Confined, PathError>) {
        let (shown, confined) = self.resolve(path);
        let readonly: Vec<String> = {
            let mut r: Vec<String> = warden_sandbox::READONLY_WORKSPACE_PATHS
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            if let Ok(p) = self.policy() {
                r.extend(p.config().sandbox.readonly_workspace_paths.iter().cloned());
            }
            r
        };
        let confined = confined.and_then(|c| paths::check_writable(&c, &readonly).map(|()| c));
        (shown, confined)
    }

    /// `edit_file`: replace `old` by `new` (exactly once unless `replace_all`).
    pub fn edit_file(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
        rationale: Option<String>,
        ticket: Option<String>,
    ) -> Reply {
        let (shown, confined) = self.write_target(path);
        let planned = Planned {
            tool: "edit_file",
            action: Action::Write {
                path: shown.clone(),
            },
            text: format!("edit {}", shown.display()),
            bound: json!({
                "kind": "write", "path": shown,
                "old_sha256": sha256_hex(old.as_bytes()),
                "new_sha256": sha256_hex(new.as_bytes()),
                "replace_all": replace_all,
            }),
            refused: confined.as_ref().err().map(ToString::to_string),
        };
        let ws = self.workspace.clone();
        let (old, new) = (old.to_owned(), new.to_owned());
        self.governed(planned, rationale, ticket, move |_| {
            let act = || {
                let c = confined.map_err(|e| e.to_string())?;
                if old.is_empty() {
                    return Err("`old_string` must not be empty".into());
                }
                let mut text = String::new();
                paths::open_read(&ws, &c)
                    .map_err(|e| e.to_string())?
                    .read_to_string(&mut text)
                    .map_err(|e| format!("{}: {e}", c.rel.display()))?;
                let n = text.matches(old.as_str()).count();
                if n == 0 {
                    return Err(format!("`old_string` not found in {}", c.rel.display()));
                }
                if n > 1 && !replace_all {
                    return Err(format!(
                        "`old_string` occurs {n} times in {}; make it unique or set replace_all",
                        c.rel.display()
                    ));
                }
                let edited = if replace_all {
                    text.replace(old.as_str(), &new)
                } else {
                    text.replacen(old.as_str(), &new, 1)
                };
                let mut f = paths::open_write(&ws, &c, false).map_err(|e| e.to_string())?;
                f.write_all(edited.as_bytes())
                    .and_then(|()| f.sync_data())
                    .map_err(|e| format!("{}: {e}", c.rel.display()))?;
                let digest = sha256_hex(edited.as_bytes());
                Ok((
                    json!({"path": c.abs, "replacements": n, "sha256": digest}),
                    format!("replaced {n} occurrence(s) in {}", c.rel.display()),
                    Outcome {
                        exit_code: Some(0),
                        notes: vec![format!("{n} replacement(s), sha256 now {digest}")],
                        ..Default::default()
                    },
                ))
            };
            local(act())
        })
    }

    /// `list_dir`.
    pub fn list_dir(&self, path: &str, rationale: Option<String>) -> Reply {
        let (shown, confined) = self.resolve(path);
        let planned = Planned {
            tool: "list_dir",
            action: Action::Read {
                path: shown.clone(),
            },
            text: format!("list {}", shown.display()),
            bound: json!({"kind": "read", "path": shown}),
            refused: confined.as_ref().err().map(ToString::to_string),
        };
        let ws = self.workspace.clone();
        self.governed(planned, rationale, None, move |_| {
            let act = || {
                let c = confined.map_err(|e| e.to_string())?;
                let entries = paths::list(&ws, &c).map_err(|e| e.to_string())?;
                let text = entries
                    .iter()
                    .map(|e| {
                        if e.kind == "dir" {
                            format!("{}/", e.name)
                        } else {
                            e.name.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                Ok((
                    json!({"path": c.abs, "entries": entries}),
                    text,
                    Outcome {
                        exit_code: Some(0),
                        notes: vec![format!("{} entries", entries.len())],
                        ..Default::default()
                    },
                ))
            };
            local(act())
        })
    }

    // ---- http_request -------------------------------------------------------------------

    /// `http_request`: classified as a network action, sent through Warden's egress proxy
    /// (which applies the `[network]` allowlist and the private-address guard).
    pub fn http_request(
        &self,
        req: HttpRequest,
        rationale: Option<String>,
        ticket: Option<String>,
    ) -> Reply {
        let method = req
            .method
            .clone()
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase();
        let parsed: Result<ureq::http::Uri, _> = req.url.parse();
        let (host, port, path, refused) = match &parsed {
            Ok(u)
                if matches!(u.scheme_str(), Some("http") | Some("https")) && u.host().is_some() =>
            {
                let https = u.scheme_str() == Some("https");
                let host = u
                    .host()
                    .unwrap_or_default()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                let port = u.port_u16().unwrap_or(if https { 443 } else { 80 });
                let path = u.path_and_query().map(|p| p.as_str().to_owned());
                (host, port, path, None)
            }
            _ => (
                String::new(),
                0,
                None,
                Some(format!("`{}` is not an http:// or https:// URL", req.url)),
            ),
        };
        if refused.is_some() && host.is_empty() {
            return Reply::err(refused.unwrap_or_default(), json!({"status": "error"}));
        }
        let body = req.body.clone().unwrap_or_default();
        let action = Action::Net {
            host: host.clone(),
            port: Some(port),
            method: Some(method.clone()),
            path: path.clone(),
        };
        let planned = Planned {
            tool: "http_request",
            text: format!("{method} {}", req.url),
            bound: json!({
                "kind": "net", "host": host, "port": port, "method": method, "path": path,
                "body_sha256": sha256_hex(body.as_bytes()),
            }),
            action,
            refused,
        };
        let ws = self.workspace.clone();
        let max = self.max_bytes;
        self.governed(planned, rationale, ticket, move |policy| {
            send_via_proxy(policy, &ws, &req, (&host, port), &method, &body, max)
        })
    }

    // ---- approval_status ----------------------------------------------------------------

    /// `approval_status`: the approval server's view of a ticket.
    pub fn approval_status(&self, ticket: &str) -> Reply {
        let Some(server) = &self.approvals else {
            return Reply::err(
                "no approval server is configured (set WARDEN_SERVER and WARDEN_TOKEN for `warden mcp`)".into(),
                json!({"status": "error"}),
            );
        };
        if ticket.is_empty()
            || !ticket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Reply::err(
                format!("`{ticket}` is not a ticket id"),
                json!({"status": "error"}),
            );
        }
        let client = Client::new(&server.url, &server.token);
        match client.get(&format!("/requests/{ticket}")) {
            Ok(v) => {
                let get = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                let status = get("status");
                let mut text = format!(
                    "ticket {ticket}: {status} — {} (tier {}, {})",
                    get("action_text"),
                    get("tier"),
                    get("category")
                );
                if let Some(o) = v.get("outcome").filter(|o| !o.is_null()) {
                    text.push_str(&format!("; outcome {o}"));
                }
                if let Some(r) = v.get("reason").and_then(Value::as_str) {
                    text.push_str(&format!("; reason: {r}"));
                }
                let structured = json!({
                    "ticket": ticket,
                    "status": status,
                    "tier": get("tier"),
                    "category": get("category"),
                    "action_text": get("action_text"),
                    "votes": v.get("votes").cloned().unwrap_or(Value::Null),
                    "outcome": v.get("outcome").cloned().unwrap_or(Value::Null),
                });
                Reply::ok(text, structured)
            }
            Err(e) => Reply::err(
                format!("ticket {ticket}: {e}"),
                json!({"status": "error", "ticket": ticket}),
            ),
        }
    }
}

/// What an action did: its result (structured, text, outcome) or why it failed, and the
/// network decisions made on its behalf.
type Acted = (Result<(Value, String, Outcome), String>, Vec<NetworkRecord>);

/// Wrap a result of an action that makes no network connection.
fn local(r: Result<(Value, String, Outcome), String>) -> Acted {
    (r, Vec::new())
}

enum Gate {
    Go,
    Refused(String),
    Pending { ticket: String, reason: String },
}

/// The arguments of `http_request`.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
pub struct HttpRequest {
    /// `http://` or `https://` URL.
    pub url: String,
    /// HTTP method (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// Request headers.
    #[serde(default)]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// Request body (text).
    #[serde(default)]
    pub body: Option<String>,
}

/// Start a private egress proxy for this request, send it through, stop the proxy.
fn send_via_proxy(
    policy: &Policy,
    workspace: &Path,
    req: &HttpRequest,
    (host, port): (&str, u16),
    method: &str,
    body: &str,
    max: usize,
) -> Acted {
    let cfg =
        match warden_proxy::ProxyConfig::from_network_config(&policy.config().network, workspace) {
            Ok(c) => c,
            Err(e) => return local(Err(format!("the [network] section cannot be used: {e}"))),
        };
    // The proxy decides again when it is asked (and adds the private-address guard); deciding
    // here first gives the agent the rule by name, which a refused tunnel does not carry.
    if let Ok(h) = warden_proxy::Host::parse(host) {
        let verdict = cfg.decide(&h, port, Some(method));
        if !verdict.allowed {
            let record = NetworkRecord {
                protocol: "http".into(),
                host: host.to_owned(),
                port,
                method: Some(method.to_owned()),
                allowed: false,
                rule: verdict.rule.clone(),
            };
            return (
                Err(format!(
                    "denied by the network policy (rule {}): {}",
                    verdict.rule, verdict.reason
                )),
                vec![record],
            );
        }
    }
    let (events, sink) = crate::record::network_collector();
    let listen = warden_proxy::Listen::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let proxy = match warden_proxy::spawn(listen, cfg, sink) {
        Ok(p) => p,
        Err(e) => return local(Err(format!("cannot start the egress proxy: {e}"))),
    };
    let result = proxy
        .tcp_addr()
        .ok_or_else(|| "the egress proxy has no TCP address".to_owned())
        .and_then(|addr| send(&format!("http://{addr}"), req, method, body, max));
    proxy.shutdown();
    let events = events.lock().map(|v| v.clone()).unwrap_or_default();
    (result, events)
}

/// Send one request through the proxy at `proxy_url`; a proxy refusal is an error.
fn send(
    proxy_url: &str,
    req: &HttpRequest,
    method: &str,
    body: &str,
    max: usize,
) -> Result<(Value, String, Outcome), String> {
    let proxy = ureq::Proxy::new(proxy_url).map_err(|e| format!("proxy: {e}"))?;
    let agent: ureq::Agent = warden_tls::agent_builder()
        .http_status_as_error(false)
        .proxy(Some(proxy))
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let mut b = ureq::http::Request::builder().method(method).uri(&req.url);
    for (k, v) in req.headers.iter().flatten() {
        b = b.header(k, v);
    }
    let request = b
        .body(body.as_bytes().to_vec())
        .map_err(|e| format!("bad request: {e}"))?;
    let started = Instant::now();
    let mut resp = agent.run(request).map_err(|e| match e {
        // A tunnel the proxy refused (its event names the rule in the audit log).
        ureq::Error::ConnectProxyFailed(m) if m.contains("403") => {
            format!(
                "denied by the network policy: the egress proxy refused {}",
                req.url
            )
        }
        e => format!("request failed: {e}"),
    })?;
    let status = resp.status().as_u16();
    if let Some(rule) = resp
        .headers()
        .get("x-warden-deny")
        .and_then(|v| v.to_str().ok())
    {
        return Err(format!(
            "denied by the network policy (rule {rule}): {} is not an allowed destination",
            req.url
        ));
    }
    let headers: serde_json::Map<String, Value> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(v.to_str().unwrap_or(""))))
        .collect();
    let mut bytes = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading the response: {e}"))?;
    let cut = bytes.len() > max;
    let shown = &bytes[..bytes.len().min(max)];
    let text_body = String::from_utf8_lossy(shown).into_owned();
    let outcome = Outcome {
        exit_code: Some(0),
        duration: started.elapsed(),
        stdout_bytes: bytes.len() as u64,
        stdout_sha256: Some(sha256_hex(&bytes)),
        notes: vec![format!("HTTP {status}")],
        ..Default::default()
    };
    Ok((
        json!({"http_status": status, "headers": headers, "body": text_body, "truncated": cut}),
        format!("HTTP {status}\n{text_body}"),
        outcome,
    ))
}
