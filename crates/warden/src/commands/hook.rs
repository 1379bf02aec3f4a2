//! `warden hook claude-code`: Claude Code's PreToolUse / PostToolUse hook, so that every tool call
//! the agent makes is classified, recorded before it happens, approved as its tier says, and (for
//! shell commands) run inside Warden's sandbox, without changing the agent.
//!
//! One command serves both events and dispatches on `hook_event_name`. Any failure answers exit
//! status 2, the protocol's blocking error (stderr is shown to Claude): a hook that cannot decide
//! must never let the tool run by default.

use crate::approval::{ApprovalAnswer, ApprovalRequest, Approver};
use crate::approval_server::{Client, ServerApprover};
use crate::exit::{BAD_INPUT, CliError, CmdResult};
use crate::policy_load;
use crate::record::{IntentMeta, IntentRef, Outcome, Recorder};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use warden_policy::{Action, Context, Decision, Policy, Tier};

/// The agent name written into every record this hook makes.
pub const AGENT: &str = "claude-code";

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

/// The fields of a hook payload Warden reads (others are ignored: the protocol grows).
#[derive(Debug, Deserialize)]
struct HookInput {
    session_id: String,
    cwd: PathBuf,
    hook_event_name: String,
    tool_name: String,
    tool_input: Map<String, Value>,
    #[serde(default)]
    tool_use_id: Option<String>,
    #[serde(default)]
    tool_response: Option<Value>,
    /// PostToolUseFailure: what went wrong.
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    is_interrupt: Option<bool>,
    #[serde(default)]
    duration_ms: Option<u64>,
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

/// Mask secrets in text shown to Claude or the user.
fn redact(s: &str) -> String {
    let mut found = warden_audit::redact::Redactions::new();
    warden_audit::redact::redact_str(s, &mut found)
}

/// A string field of the tool's input.
fn field<'a>(input: &'a HookInput, name: &str) -> Result<&'a str, CliError> {
    match input.tool_input.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(malformed(format!(
            "{}: `tool_input.{name}` is empty",
            input.tool_name
        ))),
        Some(_) => Err(malformed(format!(
            "{}: `tool_input.{name}` must be a string",
            input.tool_name
        ))),
        None => Err(malformed(format!(
            "{}: `tool_input.{name}` is missing",
            input.tool_name
        ))),
    }
}

/// A file path of the tool's input, made absolute against the hook's `cwd`.
fn path_field(input: &HookInput, name: &str) -> Result<PathBuf, CliError> {
    let p = Path::new(field(input, name)?);
    Ok(warden_policy::normalise_path(&input.cwd.join(p)))
}

/// The action a tool call amounts to, and whether it will run inside Warden's sandbox (only
/// shell commands do: Claude Code performs its file and web tools itself).
fn action_of(input: &HookInput) -> Result<(Action, bool), CliError> {
    let tool = input.tool_name.as_str();
    Ok(match tool {
        "Bash" => {
            let script = field(input, "command")?;
            if script.contains('\0') {
                return Err(malformed("Bash: the command contains a NUL byte"));
            }
            (
                Action::Shell {
                    script: script.to_owned(),
                    cwd: Some(input.cwd.clone()),
                },
                true,
            )
        }
        "Read" => (
            Action::Read {
                path: path_field(input, "file_path")?,
            },
            false,
        ),
        "NotebookRead" => (
            Action::Read {
                path: path_field(input, "notebook_path")?,
            },
            false,
        ),
        "Edit" | "Write" | "MultiEdit" => (
            Action::Write {
                path: path_field(input, "file_path")?,
            },
            false,
        ),
        "NotebookEdit" => (
            Action::Write {
                path: path_field(input, "notebook_path")?,
            },
            false,
        ),
        "WebFetch" => (net_action(input, field(input, "url")?)?, false),
        _ => (
            // MCP tools (`mcp__server__tool`), WebSearch (run by the model provider, not here)
            // and any tool Warden does not know: the governance file's tool rules decide.
            Action::Tool {
                name: tool.to_owned(),
                arguments: Value::Object(input.tool_input.clone()),
            },
            false,
        ),
    })
}

/// A GET to the URL's host.
fn net_action(input: &HookInput, url: &str) -> Result<Action, CliError> {
    let bad = || {
        malformed(format!(
            "{}: `tool_input.url` is not an absolute http(s) URL",
            input.tool_name
        ))
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad())?;
    let scheme = uri.scheme_str().ok_or_else(bad)?.to_ascii_lowercase();
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(bad)?;
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return Err(bad()),
    };
    Ok(Action::Net {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase(),
        port: Some(uri.port_u16().unwrap_or(default_port)),
        method: Some("GET".into()),
        path: uri.path_and_query().map(|p| p.path().to_owned()),
        service: None,
    })
}

/// The decision sent back to Claude Code.
#[derive(Debug)]
enum Answer {
    Allow {
        reason: String,
        updated: Option<Map<String, Value>>,
    },
    Ask {
        reason: String,
        updated: Option<Map<String, Value>>,
    },
    Deny {
        reason: String,
    },
}

impl Answer {
    fn to_json(&self) -> Value {
        let (decision, reason, updated) = match self {
            Answer::Allow { reason, updated } => ("allow", reason, updated.as_ref()),
            Answer::Ask { reason, updated } => ("ask", reason, updated.as_ref()),
            Answer::Deny { reason } => ("deny", reason, None),
        };
        let mut out = json!({
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": redact(reason),
        });
        if let Some(u) = updated {
            out["updatedInput"] = Value::Object(u.clone());
        }
        json!({ "hookSpecificOutput": out })
    }
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

/// Everything a hook call needs about where it runs.
struct Setup {
    ctx: Context,
    policy: std::mem::ManuallyDrop<Policy>,
    recorder: Recorder,
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
    // Never freed: the process ends with this hook call.
    let policy =
        std::mem::ManuallyDrop::new(policy_load::load(args.policy.as_deref(), &ctx.workspace)?);
    let recorder = Recorder::open(&ctx.workspace, &policy)?;
    Ok(Setup {
        ctx,
        policy,
        recorder,
    })
}

/// Quote `s` for a POSIX shell (and bash/zsh): single quotes, each `'` written as `'\''`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The shell Claude Code's Bash tool would have used: bash where there is one.
fn bash_path() -> Option<&'static str> {
    ["/bin/bash", "/usr/bin/bash"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
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

/// How a Bash command is wrapped so that it runs sandboxed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wrap {
    /// `warden run`: classified again, recorded, sandboxed (for `auto`: nothing to approve).
    Run,
    /// `warden sandbox`: already approved by a person, so only isolated (running it through
    /// `warden run` would ask for the same approval a second time).
    Sandbox,
}

/// The Bash tool input with `command` replaced by the same command under Warden.
fn rewrite_bash(
    args: &ClaudeCodeArgs,
    input: &HookInput,
    ctx: &Context,
    wrap: Wrap,
) -> Result<Map<String, Value>, CliError> {
    let command = field(input, "command")?;
    let q = |s: &str| sh_quote(s);
    let mut parts = vec![q(&warden_exe()?)];
    match wrap {
        Wrap::Run => {
            parts.extend(["run".into(), "--agent".into(), AGENT.into()]);
            parts.extend(["--session".into(), q(&input.session_id)]);
            if let Some(id) = &input.tool_use_id {
                parts.extend(["--tool-call-id".into(), q(id)]);
            }
            if let Some(Value::String(d)) = input.tool_input.get("description") {
                parts.extend(["--rationale".into(), q(d)]);
            }
        }
        Wrap::Sandbox => parts.push("sandbox".into()),
    }
    let ws = ctx
        .workspace
        .to_str()
        .ok_or_else(|| CliError::failure(miette::miette!("the workspace path is not UTF-8")))?;
    parts.extend(["--workspace".into(), q(ws)]);
    if let Some(p) = &args.policy {
        let p = policy_load::absolute(p)?;
        let p = p.to_str().ok_or_else(|| {
            CliError::failure(miette::miette!("the governance file path is not UTF-8"))
        })?;
        parts.extend(["--policy".into(), q(p)]);
    }
    match bash_path() {
        Some(bash) => parts.extend(["--".into(), bash.into(), "-c".into(), q(command)]),
        None if wrap == Wrap::Run => parts.extend(["--shell".into(), q(command)]),
        None => parts.extend(["--".into(), "/bin/sh".into(), "-c".into(), q(command)]),
    }
    let mut updated = input.tool_input.clone();
    updated.insert("command".into(), Value::String(parts.join(" ")));
    Ok(updated)
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

/// The text a person reads for the action (the Bash command, the path, the URL, the tool).
fn action_text(input: &HookInput, action: &Action) -> String {
    match action {
        Action::Shell { script, .. } => script.clone(),
        Action::Read { path } => format!("{} {}", input.tool_name, path.display()),
        Action::Write { path } => format!("{} {}", input.tool_name, path.display()),
        Action::Net { .. } | Action::Exec { .. } => {
            let url = input
                .tool_input
                .get("url")
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!("{} {url}", input.tool_name)
        }
        Action::Tool { name, .. } => name.clone(),
    }
}

fn pre_tool_use(args: &ClaudeCodeArgs, input: &HookInput) -> CmdResult {
    let (action, sandboxed) = action_of(input)?;
    let s = setup(args, input, sandboxed)?;
    let _export = ExportOnExit(s.recorder.spawn_exporter());
    let decision = s.policy.classify(&action, &s.ctx);
    let rationale = input
        .tool_input
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let meta = IntentMeta {
        rationale: rationale.clone(),
        agent: Some(AGENT.into()),
        session: Some(input.session_id.clone()),
        tool_call_id: input.tool_use_id.clone(),
        tool: Some(input.tool_name.clone()),
    };
    // Durable before Claude Code hears anything: no answer without its record.
    let intent = s.recorder.intent(&action, &decision, &meta)?;
    let is_bash = matches!(action, Action::Shell { .. });
    let sandboxed_bash = |wrap: Wrap| -> Result<Option<Map<String, Value>>, CliError> {
        if is_bash {
            rewrite_bash(args, input, &s.ctx, wrap).map(Some)
        } else {
            Ok(None)
        }
    };
    let refuse = |reason: String| -> Result<Answer, CliError> {
        s.recorder.outcome(
            &intent,
            &Outcome {
                notes: vec![format!("did not run: {reason}")],
                ..Default::default()
            },
        )?;
        Ok(Answer::Deny { reason })
    };
    let mut asked = false;
    let answer = match decision.tier {
        Tier::Auto => Answer::Allow {
            reason: if is_bash {
                format!(
                    "warden: {} — runs sandboxed under `warden run`",
                    describe(&decision)
                )
            } else {
                format!("warden: {}", describe(&decision))
            },
            updated: sandboxed_bash(Wrap::Run)?,
        },
        Tier::Deny => refuse(format!(
            "warden: denied by policy (rule {}): {}",
            decision.rule,
            first_reason(&decision)
        ))?,
        Tier::Async | Tier::Sync => match server_approver(&s, &action) {
            None => {
                s.recorder.approval(&intent, "requested", None)?;
                asked = true;
                Answer::Ask {
                    reason: format!(
                        "warden: {} — needs a person's approval (no approval server is configured: set WARDEN_SERVER and WARDEN_TOKEN to route it)",
                        describe(&decision)
                    ),
                    updated: sandboxed_bash(Wrap::Sandbox)?,
                }
            }
            Some(approver) => {
                let text = action_text(input, &action);
                let req = ApprovalRequest {
                    action_text: &text,
                    decision: &decision,
                    rationale: rationale.as_deref(),
                };
                let reused = if decision.tier == Tier::Async {
                    consume_earlier_approval(&approver)
                } else {
                    None
                };
                s.recorder.approval(&intent, "requested", None)?;
                let result = match reused {
                    Some((id, by)) => Ok((ApprovalAnswer::Granted { by }, Some(id))),
                    None => approver.request(&req).map(|a| (a, None)),
                };
                match result {
                    Ok((ApprovalAnswer::Granted { by }, reused)) => {
                        s.recorder.approval(&intent, "granted", Some(&by))?;
                        let via = reused
                            .map(|id| format!(" (request {id}, approved earlier)"))
                            .unwrap_or_default();
                        Answer::Allow {
                            reason: format!(
                                "warden: {} — approved by {by}{via}",
                                describe(&decision)
                            ),
                            updated: sandboxed_bash(Wrap::Sandbox)?,
                        }
                    }
                    Ok((ApprovalAnswer::Denied { by, reason }, _)) => {
                        let event = if by.is_some() { "denied" } else { "expired" };
                        s.recorder.approval(&intent, event, by.as_deref())?;
                        let who = by.map(|b| format!(" by {b}")).unwrap_or_default();
                        refuse(format!(
                            "warden: {} — not approved{who}: {reason}",
                            describe(&decision)
                        ))?
                    }
                    Ok((ApprovalAnswer::Unavailable { reason }, _)) => {
                        s.recorder.approval(&intent, "unavailable", None)?;
                        refuse(format!(
                            "warden: {} — not approved: {reason}",
                            describe(&decision)
                        ))?
                    }
                    Ok((ApprovalAnswer::Deferred { ticket, reason }, _)) => {
                        let id = ticket.unwrap_or_default();
                        let how = if is_bash {
                            "once approved, `warden approvals worker` runs it in the sandbox exactly once; its result: "
                        } else {
                            "once approved, make the same tool call again and Warden will let it through; its state: "
                        };
                        refuse(format!(
                            "warden: deferred for asynchronous approval, ticket {id}: {} — {reason}. Do not retry now; go on with other work. {how}`warden approvals status {id}`",
                            describe(&decision)
                        ))?
                    }
                    Err(e) => refuse(format!(
                        "warden: {} — the approval server failed, so the call is denied: {}",
                        describe(&decision),
                        first_line(&format!("{:?}", e.report))
                    ))?,
                }
            }
        },
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
            &pending_path(&s.ctx.workspace, &input.session_id, id),
            &call,
        )?;
    }
    println!("{}", answer.to_json());
    Ok(ExitCode::SUCCESS)
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// The approval server from `WARDEN_SERVER` and `WARDEN_TOKEN`, bound to this exact action.
fn server_approver(s: &Setup, action: &Action) -> Option<ServerApprover> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let (server, token) = (var("WARDEN_SERVER")?, var("WARDEN_TOKEN")?);
    Some(ServerApprover {
        server,
        token,
        workspace: s.ctx.workspace.display().to_string(),
        cwd: s.ctx.cwd.display().to_string(),
        action: serde_json::to_value(action).unwrap_or_default(),
        policy_digest: s.policy.digest().to_owned(),
    })
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
    let path = pending_path(&s.ctx.workspace, &input.session_id, id);
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
    let _export = ExportOnExit(s.recorder.spawn_exporter());
    let intent = IntentRef {
        seq: call.intent_seq,
        hash: call.intent_hash.clone(),
    };
    if call.asked {
        // Claude Code ran a call its prompt asked about: the person at the prompt allowed it.
        s.recorder
            .approval(&intent, "granted", Some("claude-code prompt"))?;
    }
    s.recorder.outcome(&intent, &outcome_of(input, &call))?;
    // The tool call's last record: seal the log's head.
    s.recorder.seal();
    std::fs::remove_file(&path)
        .map_err(|e| CliError::failure(miette::miette!("cannot remove {}: {e}", path.display())))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        for s in [
            "plain",
            "it's",
            "''",
            "a'b'c",
            "$HOME `id` $(id) \\n \" ! *",
            "line1\nline2",
            "",
        ] {
            let o = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", sh_quote(s)))
                .output()
                .expect("sh");
            assert_eq!(String::from_utf8_lossy(&o.stdout), s);
        }
    }

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
