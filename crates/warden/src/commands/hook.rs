//! `warden hook claude-code`: Claude Code's PreToolUse / PostToolUse hook, so that every tool call
//! the agent makes is classified, recorded before it happens, approved as its tier says, and (for
//! shell commands) run inside Warden's sandbox, without changing the agent.
//!
//! One command serves both events and dispatches on `hook_event_name`. Any failure answers exit
//! status 2, the protocol's blocking error (stderr is shown to Claude): a hook that cannot decide
//! must never let the tool run by default. The protocol itself (payload → action, the answer,
//! the rewritten Bash command) is `agents::claude_code`; the decision is `warden-govern`'s.

use crate::agents::claude_code::{
    self as protocol, AGENT, Answer, HookInput, Rewrite, Wrap, redact,
};
use crate::approval::{Answered, ApprovalAnswer, ApprovalRequest, Approver};
use crate::approval_server::{Client, ServerApprovals, ServerApprover};
use crate::exit::{BAD_INPUT, CliError, CmdResult};
use crate::policy_load;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_govern::{
    ActionRequest, Clearance, Governor, IntentMeta, IntentRef, Outcome, OutputMode, Recorder,
    Refuser, Settings, Verdict,
};
use warden_policy::{Context, Decision, Tier};

/// Subcommands of `warden hook`.
#[derive(clap::Subcommand, Debug)]
pub enum HookCommand {
    /// Claude Code's PreToolUse / PostToolUse hook: JSON on stdin, JSON on stdout.
    #[command(
        after_help = "Configure it with `warden init --agent claude-code`. Exit status: 0 with \
the decision as JSON on stdout (PreToolUse) or nothing (PostToolUse); 2 when the input is malformed \
or Warden cannot decide (Claude Code then blocks the tool call and shows the message)."
    )]
    ClaudeCode(ClaudeCodeArgs),
}

/// Arguments of `warden hook claude-code`.
#[derive(clap::Args, Debug)]
pub struct ClaudeCodeArgs {
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Workspace root (default: the nearest directory with `.git` or `.warden` above the hook's `cwd`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

/// Run `warden hook`.
pub fn run(cmd: HookCommand) -> CmdResult {
    match cmd {
        HookCommand::ClaudeCode(args) => claude_code(&args).map_err(|e| CliError {
            // Exit 1 would be a non-blocking error, i.e. the tool would run undecided.
            code: BAD_INPUT,
            report: e.report,
        }),
    }
}

fn malformed(msg: impl std::fmt::Display) -> CliError {
    CliError::bad_input(miette::miette!(
        help = "warden hook claude-code reads one Claude Code hook payload (PreToolUse or PostToolUse) as JSON on standard input",
        "warden hook claude-code: {msg}"
    ))
}

fn claude_code(args: &ClaudeCodeArgs) -> CmdResult {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| malformed(format!("cannot read standard input: {e}")))?;
    let input = parse_input(&text)?;
    match input.hook_event_name.as_str() {
        "PreToolUse" => pre_tool_use(args, &input),
        "PostToolUse" | "PostToolUseFailure" => post_tool_use(args, &input),
        other => Err(malformed(format!(
            "unsupported hook event `{}`: configure this command for PreToolUse, PostToolUse and PostToolUseFailure",
            redact(other)
        ))),
    }
}

fn parse_input(text: &str) -> Result<HookInput, CliError> {
    if text.trim().is_empty() {
        return Err(malformed("standard input is empty"));
    }
    // The payload's text is never echoed whole: it may hold secrets.
    let input: HookInput = serde_json::from_str(text).map_err(|e| {
        malformed(format!(
            "invalid hook payload (line {} column {}): {}",
            e.line(),
            e.column(),
            redact(&e.to_string())
        ))
    })?;
    if !input.cwd.is_absolute() {
        return Err(malformed("`cwd` must be an absolute path"));
    }
    if input.session_id.is_empty() || input.tool_name.is_empty() {
        return Err(malformed("`session_id` and `tool_name` must not be empty"));
    }
    Ok(input)
}

/// What PostToolUse needs to find the intent of a tool call, kept under `.warden/` because every
/// hook call is a separate process.
#[derive(Debug, Serialize, Deserialize)]
struct PendingCall {
    intent_seq: u64,
    intent_hash: String,
    tool_name: String,
    started_ms: u64,
    /// The call was left to Claude Code's own prompt (`ask`): it running means a person allowed it.
    #[serde(default)]
    asked: bool,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `<workspace>/.warden/hooks/claude-code/<sha256(session, tool_use_id)>.json`: hashed so that
/// no id can name a path outside the directory.
fn pending_path(workspace: &Path, session: &str, tool_use_id: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(session.as_bytes());
    h.update([0]);
    h.update(tool_use_id.as_bytes());
    let name: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    workspace
        .join(".warden")
        .join("hooks")
        .join(AGENT)
        .join(format!("{name}.json"))
}

fn save_pending(path: &Path, call: &PendingCall) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::failure(miette::miette!("cannot write {}: {e}", path.display()))
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let text = serde_json::to_string(call).unwrap_or_default();
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(fail)
}

/// Removes the export handle's backlog on the way out, as `warden run` does.
struct ExportOnExit(Option<warden_audit::ExporterHandle>);

impl Drop for ExportOnExit {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.shutdown();
        }
    }
}

/// The shell Claude Code's Bash tool would have used: bash where there is one.
fn bash_path() -> Option<&'static str> {
    ["/bin/bash", "/usr/bin/bash"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
}

/// Everything a hook call needs about where it runs.
struct Setup {
    governor: Governor,
}

fn setup(args: &ClaudeCodeArgs, input: &HookInput, sandboxed: bool) -> Result<Setup, CliError> {
    let cwd = warden_policy::normalise_path(&input.cwd);
    let workspace = match &args.workspace {
        Some(w) => policy_load::absolute(w)?,
        None => policy_load::find_workspace(&cwd),
    };
    let ctx = Context {
        workspace: warden_policy::normalise_path(&workspace),
        cwd,
        home: policy_load::home(),
        sandboxed,
    };
    let policy = policy_load::load(args.policy.as_deref(), &ctx.workspace)?;
    let recorder = Recorder::open(&ctx.workspace, &policy)?;
    // With an approval server, it decides (an `async` request approved since it was deferred is
    // used for the retry); without, Claude Code's own prompt asks the person.
    let approver: Arc<dyn Approver> = match crate::approval::server_from_env() {
        Some(server) => Arc::new(HookServer(server)),
        None => Arc::new(ClaudeCodePrompt),
    };
    let governor = Governor::new(
        Arc::new(policy),
        ctx,
        recorder,
        approver,
        Settings {
            allow_degraded: false,
            output: OutputMode::Stream,
        },
    );
    Ok(Setup { governor })
}

/// No approval server: Claude Code's own permission prompt asks the person.
struct ClaudeCodePrompt;

impl Approver for ClaudeCodePrompt {
    fn request(&self, _: &ApprovalRequest<'_>) -> Result<Answered, String> {
        Ok(ApprovalAnswer::Delegated {
            reason: "needs a person's approval (no approval server is configured: set WARDEN_SERVER and WARDEN_TOKEN to route it)".into(),
        }
        .into())
    }
}

/// The approval server, reusing an `async` approval granted since the call was deferred.
struct HookServer(ServerApprovals);

impl Approver for HookServer {
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<Answered, String> {
        let approver = self.0.for_request(req);
        if req.decision.tier == Tier::Async
            && let Some((id, by)) = consume_earlier_approval(&approver)
        {
            return Ok(Answered {
                answer: ApprovalAnswer::Granted { by },
                filed: Some((id, approver.digest())),
                earlier: true,
            });
        }
        approver.ask(req).map_err(|e| e.to_string())
    }
}

fn warden_exe() -> Result<String, CliError> {
    let exe = std::env::current_exe().map_err(|e| {
        CliError::failure(miette::miette!("cannot find Warden's own executable: {e}"))
    })?;
    exe.to_str().map(str::to_owned).ok_or_else(|| {
        CliError::failure(miette::miette!(
            "Warden's own path is not UTF-8: {}",
            exe.display()
        ))
    })
}

/// The Bash tool input rewritten to run under Warden as `wrap` says.
fn rewrite_bash(
    args: &ClaudeCodeArgs,
    input: &HookInput,
    ctx: &Context,
    wrap: Wrap,
) -> Result<serde_json::Map<String, Value>, CliError> {
    let warden = warden_exe()?;
    let workspace = ctx
        .workspace
        .to_str()
        .ok_or_else(|| CliError::failure(miette::miette!("the workspace path is not UTF-8")))?;
    let policy = match &args.policy {
        Some(p) => Some(
            policy_load::absolute(p)?
                .to_str()
                .map(str::to_owned)
                .ok_or_else(|| {
                    CliError::failure(miette::miette!("the governance file path is not UTF-8"))
                })?,
        ),
        None => None,
    };
    Ok(protocol::rewrite_bash(
        input,
        &Rewrite {
            warden: &warden,
            workspace,
            policy: policy.as_deref(),
            bash: bash_path(),
        },
        wrap,
    ))
}

fn first_reason(d: &Decision) -> String {
    d.reasons.first().cloned().unwrap_or_else(|| d.rule.clone())
}

fn describe(d: &Decision) -> String {
    format!(
        "tier {} ({}, rule {}): {}",
        d.tier,
        d.category,
        d.rule,
        first_reason(d)
    )
}

fn pre_tool_use(args: &ClaudeCodeArgs, input: &HookInput) -> CmdResult {
    let payload = Value::Object(input.tool_input.clone());
    let action = protocol::tool_action(&input.tool_name, &payload, Some(&input.cwd))
        .map_err(|e| malformed(e.hook_message()))?;
    let is_bash = protocol::runs_sandboxed(&action);
    let s = setup(args, input, is_bash)?;
    let g = &s.governor;
    let _export = ExportOnExit(g.recorder().spawn_exporter());
    let rationale = input
        .tool_input
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let req = ActionRequest {
        meta: IntentMeta {
            rationale,
            agent: Some(AGENT.into()),
            session: Some(input.session_id.clone()),
            tool_call_id: input.tool_use_id.clone(),
            tool: Some(input.tool_name.clone()),
        },
        text: Some(protocol::action_text(
            &input.tool_name,
            &input.tool_input,
            &action,
        )),
        ..ActionRequest::new(action)
    };
    let sandboxed_bash = |wrap: Wrap| -> Result<Option<serde_json::Map<String, Value>>, CliError> {
        if is_bash {
            rewrite_bash(args, input, g.context(), wrap).map(Some)
        } else {
            Ok(None)
        }
    };
    // The intent is durable before Claude Code hears anything: no answer without its record.
    // A refusal's outcome notes what Claude was told.
    let note =
        |d: &Decision, v: &Verdict| format!("did not run: {}", refusal_reason(d, v, is_bash));
    let cleared = match g.clear_answering(&req, &note) {
        Ok(c) => c,
        Err(warden_govern::GovernError::Approval(e)) => {
            // Recorded as not run by the governor; the call is denied, never allowed.
            let decision = g.classify(&req.action, g.context());
            let answer = Answer::Deny {
                reason: format!(
                    "warden: {} — the approval server failed, so the call is denied: {}",
                    describe(&decision),
                    first_line(&e)
                ),
            };
            println!("{}", answer.to_json());
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(e.into()),
    };
    let (intent, answer, asked) = match cleared {
        Clearance::Cleared(running) => {
            let d = &running.decision;
            let answer = match &running.approval {
                None => Answer::Allow {
                    reason: if is_bash {
                        format!(
                            "warden: {} — runs sandboxed under `warden run`",
                            describe(d)
                        )
                    } else {
                        format!("warden: {}", describe(d))
                    },
                    updated: sandboxed_bash(Wrap::Run)?,
                },
                Some(granted) => {
                    let via = match (&granted.request, granted.earlier) {
                        (Some(id), true) => format!(" (request {id}, approved earlier)"),
                        _ => String::new(),
                    };
                    Answer::Allow {
                        reason: format!(
                            "warden: {} — approved by {}{via}",
                            describe(d),
                            granted.by
                        ),
                        updated: sandboxed_bash(Wrap::Sandbox)?,
                    }
                }
            };
            (running.intent, answer, false)
        }
        Clearance::Delegated { running, reason } => {
            let answer = Answer::Ask {
                reason: format!("warden: {} — {reason}", describe(&running.decision)),
                updated: sandboxed_bash(Wrap::Sandbox)?,
            };
            (running.intent, answer, true)
        }
        Clearance::Refused {
            intent,
            decision,
            verdict,
        } => {
            let reason = refusal_reason(&decision, &verdict, is_bash);
            (intent, Answer::Deny { reason }, false)
        }
    };
    if !matches!(answer, Answer::Deny { .. })
        && let Some(id) = &input.tool_use_id
    {
        let call = PendingCall {
            intent_seq: intent.seq,
            intent_hash: intent.hash.clone(),
            tool_name: input.tool_name.clone(),
            started_ms: now_ms(),
            asked,
        };
        save_pending(
            &pending_path(&g.context().workspace, &input.session_id, id),
            &call,
        )?;
    }
    println!("{}", answer.to_json());
    Ok(ExitCode::SUCCESS)
}

/// What Claude is told when Warden refuses a tool call.
fn refusal_reason(decision: &Decision, verdict: &Verdict, is_bash: bool) -> String {
    let d = describe(decision);
    match verdict {
        Verdict::Denied { by, reason } => match by {
            Refuser::Policy | Refuser::Guard => format!("warden: {}", verdict.line(decision)),
            Refuser::Person(b) => format!("warden: {d} — not approved by {b}: {reason}"),
            Refuser::Timeout => format!("warden: {d} — not approved: {reason}"),
        },
        Verdict::Unavailable { reason } => format!("warden: {d} — not approved: {reason}"),
        Verdict::Deferred { ticket, reason } => {
            let id = ticket.clone().unwrap_or_default();
            let how = if is_bash {
                "once approved, `warden approvals worker` runs it in the sandbox exactly once; its result: "
            } else {
                "once approved, make the same tool call again and Warden will let it through; its state: "
            };
            format!(
                "warden: deferred for asynchronous approval, ticket {id}: {d} — {reason}. Do not retry now; go on with other work. {how}`warden approvals status {id}`"
            )
        }
        Verdict::Ran(_) => format!("warden: {d}"),
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// An `async` request for this exact action approved since it was deferred: consume it (the
/// server lets only its requester do so, once) so that the agent's retry goes through.
fn consume_earlier_approval(approver: &ServerApprover) -> Option<(String, String)> {
    let client = Client::new(&approver.server, &approver.token);
    let digest = approver.digest();
    let list = client.get("/requests?status=approved").ok()?;
    for r in list.as_array()? {
        let str_of = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
        if str_of("action_digest") != digest || str_of("tier") != "async" {
            continue;
        }
        let id = str_of("id").to_owned();
        if client
            .post(
                &format!("/requests/{id}/consume"),
                &json!({ "action_digest": digest }),
            )
            .is_ok()
        {
            let by: Vec<&str> = r
                .get("votes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|v| v.get("verdict").and_then(Value::as_str) == Some("approve"))
                .filter_map(|v| v.get("approver").and_then(Value::as_str))
                .collect();
            return Some((id, by.join(",")));
        }
    }
    None
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The outcome as far as Claude Code reports it: Bash's stdout/stderr, any other tool's
/// response as one JSON text, a failure's error.
fn outcome_of(input: &HookInput, call: &PendingCall) -> Outcome {
    let mut out = Outcome {
        // Claude Code performed the call (it reports no exit status; a failure is in the notes).
        disposition: Some(warden_govern::Disposition::Ran),
        duration: Duration::from_millis(
            input
                .duration_ms
                .unwrap_or_else(|| now_ms().saturating_sub(call.started_ms)),
        ),
        ..Default::default()
    };
    let resp = input.tool_response.as_ref();
    match resp {
        Some(Value::Object(r)) if input.tool_name == "Bash" => {
            for (k, bytes, sha) in [
                ("stdout", &mut out.stdout_bytes, &mut out.stdout_sha256),
                ("stderr", &mut out.stderr_bytes, &mut out.stderr_sha256),
            ] {
                if let Some(Value::String(t)) = r.get(k) {
                    *bytes = t.len() as u64;
                    *sha = Some(sha256_hex(t.as_bytes()));
                }
            }
            if r.get("interrupted") == Some(&Value::Bool(true)) {
                out.notes.push("interrupted".into());
            }
            if let Some(Value::String(i)) = r.get("returnCodeInterpretation") {
                out.notes.push(format!("exit status: {i}"));
            }
            if let Some(Value::String(b)) = r.get("backgroundTaskId") {
                out.notes.push(format!("running in the background as {b}"));
            }
        }
        Some(v) => {
            let text = v.to_string();
            out.stdout_bytes = text.len() as u64;
            out.stdout_sha256 = Some(sha256_hex(text.as_bytes()));
        }
        None => {}
    }
    if input.hook_event_name == "PostToolUseFailure" {
        let err = match &input.error {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "no error text".into(),
        };
        // Error texts can be long (a failing command's output); the record keeps the start.
        let err: String = err.chars().take(500).collect();
        out.notes.push(format!("failed: {err}"));
        if input.is_interrupt == Some(true) {
            out.notes.push("interrupted".into());
        }
    }
    out
}

fn post_tool_use(args: &ClaudeCodeArgs, input: &HookInput) -> CmdResult {
    let id = input
        .tool_use_id
        .as_deref()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            malformed(format!(
                "{}: `tool_use_id` is missing",
                input.hook_event_name
            ))
        })?;
    let s = setup(args, input, false)?;
    let path = pending_path(&s.governor.context().workspace, &input.session_id, id);
    let call: PendingCall = match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| {
            CliError::failure(miette::miette!(
                "corrupt hook state {}: {e}",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Not seen by Warden's PreToolUse (e.g. hooks installed mid-session): nothing to
            // tie an outcome to, and nothing to block after the fact.
            stderr_line!(
                "warden: no intent recorded for tool call {}; outcome not recorded",
                redact(id)
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            return Err(CliError::failure(miette::miette!(
                "cannot read hook state {}: {e}",
                path.display()
            )));
        }
    };
    let g = &s.governor;
    let _export = ExportOnExit(g.recorder().spawn_exporter());
    let intent = IntentRef {
        seq: call.intent_seq,
        hash: call.intent_hash.clone(),
    };
    if call.asked {
        // Claude Code ran a call its prompt asked about: the person at the prompt allowed it.
        g.granted_by_agent(&intent, "claude-code prompt")?;
    }
    g.recorder().outcome(&intent, &outcome_of(input, &call))?;
    // The tool call's last record: seal the log's head.
    if let Err(e) = g.recorder().seal() {
        stderr_line!("warden: audit log: cannot seal the head: {e}");
    }
    std::fs::remove_file(&path)
        .map_err(|e| CliError::failure(miette::miette!("cannot remove {}: {e}", path.display())))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_paths_stay_in_their_directory() {
        let p = pending_path(Path::new("/ws"), "s", "../../../etc/passwd");
        assert!(p.starts_with("/ws/.warden/hooks/claude-code"));
        assert_eq!(p.components().count(), 6);
        assert_ne!(
            pending_path(Path::new("/ws"), "a", "bc"),
            pending_path(Path::new("/ws"), "ab", "c")
        );
    }
}
