//! MCP's tools: each call becomes an action (and what an approval is bound to), goes through the
//! governed path of `warden-govern` (classify → record the intent, durable → approve → act
//! confined → record the outcome), and its verdict becomes the tool's reply. `exec` runs in the
//! sandbox in process; file tools act confined to the workspace; `http_request` goes through the
//! egress proxy. Blocking code; the server runs it off the async executor.

use super::paths::{self, Confined, PathError};
use crate::approval::{Answered, ApprovalAnswer, ApprovalRequest, Approver};
use crate::approval_server::{Client, ServerApprovals};
use crate::exit::CliError;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use warden_govern::{
    ActionRequest, Clearance, GovernError, Governor, IntentMeta, NetworkRecord, Outcome,
    OutputMode, Recorder, Settings, Verdict,
};
use warden_policy::{Action, Context, Policy};

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

/// Everything the tools share: the workspace, the policy's location, the audit log.
#[derive(Debug)]
pub struct Tools {
    /// Canonical workspace root.
    pub workspace: PathBuf,
    pub policy_file: Option<PathBuf>,
    pub recorder: Recorder,
    pub allow_degraded: bool,
    pub approvals: Option<ServerApprovals>,
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
    /// For a file write: the content it proposes, shown to the approver as a diff.
    proposed: Option<Value>,
}

impl Planned {
    /// A read of `shown` by `tool` (`read_file`, `list_dir`), shown to the approver as
    /// `VERB PATH`; `refused` when the path was refused before classification.
    fn read(tool: &'static str, verb: &str, shown: &Path, refused: Option<String>) -> Planned {
        Planned {
            tool,
            action: Action::Read {
                path: shown.to_path_buf(),
                recursive: false,
            },
            text: format!("{verb} {}", shown.display()),
            bound: json!({"kind": "read", "path": shown}),
            refused,
            proposed: None,
        }
    }
}

/// Largest proposed content sent for the approver's diff (the approval server takes 64 KiB
/// bodies); larger writes are shown by their digest only.
const MAX_PROPOSED: usize = 16 * 1024;

/// The content a write proposes, for the approver's diff, when it is small enough to send. The
/// file's current content is never read for it (it may hold secrets): a whole-file write shows
/// as all new lines, an edit as the text it replaces and the text replacing it.
fn proposed(before: Option<&str>, after: &str) -> Option<Value> {
    (before.map_or(0, str::len) + after.len() <= MAX_PROPOSED)
        .then(|| json!({"before": before, "after": after}))
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

/// `warden mcp`'s approver: the approval server (a ticket given back is checked to be pending
/// or for this very action before it is used), or, without one, nobody: MCP has no prompt.
struct McpApprover(Option<ServerApprovals>);

impl Approver for McpApprover {
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<Answered, String> {
        let d = req.decision;
        let Some(server) = &self.0 else {
            return Ok(ApprovalAnswer::Unavailable {
                reason: format!(
                    "needs approval (tier {}, rule {}: {}); no approval server is configured (set WARDEN_SERVER and WARDEN_TOKEN for `warden mcp`) and MCP has no interactive prompt",
                    d.tier,
                    d.rule,
                    d.reasons.first().cloned().unwrap_or_default()
                ),
            }
            .into());
        };
        let approver = server.for_request(req);
        if let Some(t) = req.ticket {
            // A ticket filed earlier for this very action: still pending → still pending;
            // decided → consume it (the server checks the action digest).
            let client = Client::new(&server.server, &server.token);
            let v = client
                .get(&format!("/requests/{t}"))
                .map_err(|e| format!("ticket {t}: {e}"))?;
            if v.get("status").and_then(Value::as_str) == Some("pending") {
                return Ok(ApprovalAnswer::Deferred {
                    ticket: Some(t.to_owned()),
                    reason: "still waiting for an approver".into(),
                }
                .into());
            }
            if v.get("action_digest").and_then(Value::as_str) != Some(approver.digest().as_str()) {
                return Ok(ApprovalAnswer::Unavailable {
                    reason: format!(
                        "ticket {t} was filed for a different action (or policy): refusing to use it"
                    ),
                }
                .into());
            }
        }
        approver.ask(req).map_err(|e| e.to_string())
    }
}

impl Tools {
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
        Ok(Self {
            workspace,
            policy_file,
            recorder,
            allow_degraded,
            approvals: crate::approval::server_from_env(),
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

    /// The policy as it is now (reloaded per call, as `warden run` does).
    fn policy(&self) -> Result<Policy, CliError> {
        crate::policy_load::load(self.policy_file.as_deref(), &self.workspace)
    }

    /// The governed path for one call, with the policy as it is now.
    fn governor(&self) -> Result<Governor, CliError> {
        Ok(Governor::new(
            Arc::new(self.policy()?),
            self.context(),
            self.recorder.clone(),
            Arc::new(McpApprover(self.approvals.clone())),
            Settings {
                allow_degraded: self.allow_degraded,
                output: OutputMode::Capture {
                    limit: self.max_bytes,
                },
            },
        ))
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

    /// `exec`: the governed path in process — classified, recorded, approved, run in the sandbox
    /// with its output captured. The reply tells a refusal from the command's own exit status by
    /// the verdict, never by what the command printed.
    pub fn exec(
        &self,
        argv: Option<Vec<String>>,
        shell: Option<String>,
        cwd: Option<String>,
        rationale: Option<String>,
    ) -> Reply {
        let call_id = self.next_call_id();
        let error =
            |text: String| Reply::err(text, json!({"status": "error", "tool_call_id": call_id}));
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
        let action = match (argv, shell) {
            (Some(a), None) if !a.is_empty() && !a[0].is_empty() => Action::Exec {
                argv: a,
                cwd: Some(cwd.clone()),
            },
            (None, Some(s)) if !s.trim().is_empty() => Action::Shell {
                script: s,
                cwd: Some(cwd.clone()),
            },
            _ => {
                return error(
                    "give exactly one of `argv` (a non-empty list) or `command` (a shell string)"
                        .into(),
                );
            }
        };
        let governor = match self.governor() {
            Ok(g) => g,
            Err(e) => {
                return error(format!(
                    "refused: the governance file cannot be loaded: {}",
                    report(&e)
                ));
            }
        };
        let req = ActionRequest {
            meta: mcp_meta(rationale, &call_id, "exec"),
            context: Some(Context {
                cwd,
                ..self.context()
            }),
            ..ActionRequest::new(action)
        };
        let governed = match governor.govern(&req) {
            Ok(g) => g,
            Err(e) => return error(format!("refused: {e}")),
        };
        let why = governed.verdict.line(&governed.decision);
        let d = &governed.decision;
        let mut s = json!({
            "tool_call_id": call_id,
            "tier": d.tier.as_str(),
            "category": d.category,
            "rule": d.rule,
            "reasons": d.reasons,
        });
        let obj = s.as_object_mut().expect("object");
        match governed.verdict {
            Verdict::Ran(exec) => {
                let code = i32::from(exec.shell_code());
                let (stdout, out_cut) = self.truncate(&exec.stdout);
                let (stderr, err_cut) = self.truncate(&exec.stderr);
                let cut = out_cut
                    || err_cut
                    || exec.stdout_bytes > exec.stdout.len() as u64
                    || exec.stderr_bytes > exec.stderr.len() as u64;
                obj.insert("status".into(), "ran".into());
                obj.insert("exit_code".into(), code.into());
                obj.insert("stdout".into(), stdout.clone().into());
                obj.insert("stderr".into(), stderr.clone().into());
                obj.insert("truncated".into(), cut.into());
                let mut text = format!("exit code {code}\n");
                if !stdout.is_empty() {
                    text.push_str(&format!("--- stdout ---\n{stdout}"));
                    if !stdout.ends_with('\n') {
                        text.push('\n');
                    }
                }
                if !stderr.is_empty() {
                    text.push_str(&format!("--- stderr ---\n{stderr}"));
                }
                // Programs the command ran that Warden refused (above the granted tier).
                let refused: Vec<String> = exec.nested.iter().map(|n| n.line()).collect();
                if !refused.is_empty() {
                    text.push_str("--- refused inside ---\n");
                    for line in &refused {
                        text.push_str(line);
                        text.push('\n');
                    }
                    obj.insert("refused_nested".into(), refused.clone().into());
                }
                Reply {
                    is_error: code != 0 || !refused.is_empty(),
                    text,
                    structured: s,
                }
            }
            Verdict::Deferred {
                ticket: Some(t), ..
            } => {
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
            Verdict::Denied { .. } | Verdict::Unavailable { .. } | Verdict::Deferred { .. } => {
                obj.insert("status".into(), "denied".into());
                obj.insert("reason".into(), why.clone().into());
                let text = if why.starts_with("denied") {
                    why
                } else {
                    format!("denied: {why}")
                };
                Reply::err(text, s)
            }
        }
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
        // The call's last record seals the log's head, whichever way it ends.
        let _seal = self.recorder.seal_on_drop();
        let call_id = self.next_call_id();
        let error =
            |text: String| Reply::err(text, json!({"status": "error", "tool_call_id": call_id}));
        let governor = match self.governor() {
            Ok(g) => g,
            Err(e) => {
                return error(format!(
                    "refused: the governance file cannot be loaded: {}",
                    report(&e)
                ));
            }
        };
        let req = ActionRequest {
            meta: mcp_meta(rationale, &call_id, planned.tool),
            bound: Some(planned.bound),
            proposed: planned.proposed,
            ticket,
            text: Some(planned.text),
            refusal: planned.refused,
            ..ActionRequest::new(planned.action)
        };
        let decision = governor.classify(&req.action, governor.context());
        let mut s = json!({
            "tool_call_id": call_id,
            "tier": decision.tier.as_str(),
            "category": decision.category,
            "rule": decision.rule,
            "reasons": decision.reasons,
        });
        let denied = |mut s: Value, reason: String| {
            let obj = s.as_object_mut().expect("object");
            obj.insert("status".into(), "denied".into());
            obj.insert("reason".into(), reason.clone().into());
            let text = if reason.starts_with("denied") {
                reason
            } else {
                format!("denied: {reason}")
            };
            Reply::err(text, s)
        };
        let running = match governor.clear(&req) {
            Ok(Clearance::Cleared(running)) => running,
            Ok(Clearance::Refused {
                decision, verdict, ..
            }) => {
                let why = verdict.line(&decision);
                return match verdict {
                    Verdict::Deferred {
                        ticket: Some(ticket),
                        reason,
                    } => {
                        let obj = s.as_object_mut().expect("object");
                        obj.insert("status".into(), "pending".into());
                        obj.insert("ticket".into(), ticket.clone().into());
                        obj.insert("reason".into(), reason.clone().into());
                        Reply::ok(
                            format!(
                                "pending approval: ticket {ticket} (tier {}, rule {}). {reason}. Ask `approval_status` with this ticket; once approved, call this tool again with the same arguments and `ticket` set.",
                                decision.tier, decision.rule
                            ),
                            s,
                        )
                    }
                    _ => denied(s, why),
                };
            }
            // MCP has no prompt of its own: its approver never delegates.
            Ok(Clearance::Delegated { reason, .. }) => return denied(s, reason),
            Err(GovernError::Approval(e)) => {
                return denied(s, format!("the approval server failed: {e}"));
            }
            Err(e) => return error(format!("refused: {e}")),
        };
        let started = Instant::now();
        let (result, network) = act(governor.policy());
        for n in &network {
            let _ = governor.recorder().network(&running.intent, n);
        }
        match result {
            Ok((result, text, mut outcome)) => {
                outcome.duration = started.elapsed();
                if let Err(e) = governor.finish(&running, &outcome) {
                    stderr_line!("warden mcp: outcome not recorded: {e}");
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
                let _ = governor.finish(&running, &outcome);
                let obj = s.as_object_mut().expect("object");
                obj.insert("status".into(), "error".into());
                obj.insert("reason".into(), msg.clone().into());
                Reply::err(msg, s)
            }
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
        let refused = confined.as_ref().err().map(ToString::to_string);
        let planned = Planned::read("read_file", "read", &shown, refused);
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
            proposed: proposed(None, content),
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
        let confined = confined.and_then(|c| {
            // Git metadata the sandbox keeps read-only (everything in `.git` but git's data).
            if warden_sandbox::is_git_control_path(&c.rel) {
                return Err(PathError::ReadOnly(c.rel.display().to_string()));
            }
            paths::check_writable(&c, &readonly).map(|()| c)
        });
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
            proposed: proposed(Some(old), new),
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
        let refused = confined.as_ref().err().map(ToString::to_string);
        let planned = Planned::read("list_dir", "list", &shown, refused);
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
            service: None,
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
            proposed: None,
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
        let client = Client::new(&server.server, &server.token);
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
                handling: Some("plain".into()),
                ..Default::default()
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
    let (events, sink) = warden_govern::record::network_collector();
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

/// Who asked, for an MCP tool call's intent: the agent is `mcp`, the call its id.
fn mcp_meta(rationale: Option<String>, call_id: &str, tool: &str) -> IntentMeta {
    IntentMeta {
        rationale,
        agent: Some("mcp".into()),
        session: None,
        tool_call_id: Some(call_id.to_owned()),
        tool: Some(tool.to_owned()),
    }
}
