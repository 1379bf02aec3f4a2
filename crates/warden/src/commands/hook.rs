//! `warden hook claude-code` and `warden hook codex`: the agents' PreToolUse / PostToolUse hooks
//! (and Codex's PermissionRequest), so that every tool call the agent makes is classified,
//! recorded before it happens, approved as its tier says, and (for shell commands) run inside
//! Warden's sandbox, without changing the agent.
//!
//! Codex's hook payloads are Claude Code's (`Bash` with `tool_input.command`, `tool_use_id`,
//! `cwd`), so one path serves both; what differs is the answer (Codex has no `ask` and takes
//! `allow` only with a rewritten input) and who asks a person when no approval server is
//! configured (Claude Code's own prompt; for Codex nobody: the call is refused, saying so).
//!
//! One command serves every event and dispatches on `hook_event_name`. Any failure answers exit
//! status 2, the protocols' blocking error (stderr is shown to the agent): a hook that cannot
//! decide must never let the tool run by default. The protocols themselves (payload → action, the
//! answer, the rewritten Bash command) are in `agents::`; the decision is `warden-govern`'s.

use crate::agents::claude_code::{self as protocol, Answer, HookInput, Rewrite, Wrap, redact};
use crate::agents::{codex, copilot, gemini};
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
    ClaudeCode(HookArgs),
    /// Codex CLI's PreToolUse / PermissionRequest / PostToolUse hook: JSON on stdin, JSON on stdout.
    #[command(
        after_help = "Configure it with `warden init --agent codex`. Exit status: 0 with the \
decision as JSON on stdout; 2 when the input is malformed or Warden cannot decide (Codex then blocks \
the tool call and shows the message). Without an approval server (WARDEN_SERVER, WARDEN_TOKEN) a call \
that needs a person's approval is refused: Codex's hooks cannot hand it to Codex's own prompt."
    )]
    Codex(HookArgs),
    /// Gemini CLI's BeforeTool / AfterTool hook: JSON on stdin, JSON on stdout.
    #[command(
        after_help = "Configure it with `warden init --agent gemini`. Exit status: 0 with the \
decision as JSON on stdout; 2 when the input is malformed or Warden cannot decide (Gemini then blocks \
the tool call). Without an approval server a call that needs a person's approval is refused."
    )]
    Gemini(HookArgs),
    /// GitHub Copilot CLI's preToolUse / postToolUse hook: JSON on stdin, JSON on stdout.
    #[command(
        after_help = "Configure it with `warden init --agent copilot`, which passes `--event` (Copilot's \
payload does not name its event). Exit status: 0 with the decision as JSON on stdout; 2 when the input \
is malformed or Warden cannot decide (Copilot then denies the tool call)."
    )]
    Copilot(HookArgs),
}

/// The agent whose hook protocol is spoken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agent {
    ClaudeCode,
    Codex,
    Gemini,
    Copilot,
}

impl Agent {
    /// The name in records, in `warden run --agent` and in the hook state directory.
    fn name(self) -> &'static str {
        match self {
            Agent::ClaudeCode => protocol::AGENT,
            Agent::Codex => codex::AGENT,
            Agent::Gemini => gemini::AGENT,
            Agent::Copilot => copilot::AGENT,
        }
    }

    /// The action a tool call asks for, in this agent's tool names.
    fn tool_action(self, input: &HookInput) -> Result<warden_policy::Action, protocol::InputError> {
        let payload = Value::Object(input.tool_input.clone());
        match self {
            Agent::Gemini => gemini::tool_action(&input.tool_name, &payload, &input.cwd),
            Agent::Copilot => copilot::tool_action(&input.tool_name, &payload, &input.cwd),
            _ => protocol::tool_action(&input.tool_name, &payload, Some(&input.cwd)),
        }
    }

    /// The answer to a PreToolUse call, in this agent's words.
    fn pre_tool_use_json(self, answer: &Answer) -> Value {
        match self {
            Agent::ClaudeCode => answer.to_json(),
            Agent::Codex => codex::pre_tool_use_json(answer),
            Agent::Gemini => gemini::before_tool_json(answer),
            Agent::Copilot => copilot::pre_tool_use_json(answer),
        }
    }
}

/// One hook invocation: the agent and the arguments.
struct Hook<'a> {
    agent: Agent,
    args: &'a HookArgs,
}

/// Arguments of `warden hook claude-code` and `warden hook codex`.
#[derive(clap::Args, Debug)]
pub struct HookArgs {
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Workspace root (default: the nearest directory with `.git` or `.warden` above the hook's `cwd`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The hook event, for agents whose payload does not name it (Copilot: preToolUse, postToolUse).
    #[arg(long, value_name = "EVENT")]
    pub event: Option<String>,
}

/// Run `warden hook`.
pub fn run(cmd: HookCommand) -> CmdResult {
    let (agent, args) = match &cmd {
        HookCommand::ClaudeCode(args) => (Agent::ClaudeCode, args),
        HookCommand::Codex(args) => (Agent::Codex, args),
        HookCommand::Gemini(args) => (Agent::Gemini, args),
        HookCommand::Copilot(args) => (Agent::Copilot, args),
    };
    answer(&Hook { agent, args }).map_err(|e| CliError {
        // Exit 1 would be a non-blocking error, i.e. the tool would run undecided.
        code: BAD_INPUT,
        report: e.report,
    })
}

fn malformed(msg: impl std::fmt::Display) -> CliError {
    CliError::bad_input(miette::miette!(
        help = "warden hook reads one hook payload (PreToolUse, PostToolUse; PermissionRequest for Codex) as JSON on standard input",
        "warden hook: {msg}"
    ))
}

fn answer(h: &Hook<'_>) -> CmdResult {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| malformed(format!("cannot read standard input: {e}")))?;
    let mut input = match h.agent {
        Agent::Copilot => parse_copilot(&text, h.args.event.as_deref())?,
        _ => parse_input(&text)?,
    };
    if h.agent == Agent::Gemini {
        // Gemini's events are Claude Code's under other names.
        match gemini::event(&input.hook_event_name) {
            Some(e) => input.hook_event_name = e.into(),
            None => {
                return Err(malformed(format!(
                    "unsupported hook event `{}`: configure this command for BeforeTool and AfterTool",
                    redact(&input.hook_event_name)
                )));
            }
        }
    }
    if matches!(h.agent, Agent::Codex | Agent::Copilot) && !governed_here(h, &input)? {
        // These agents' hooks are the user's, for every directory (see agents::codex and
        // agents::copilot): a workspace without `.warden/` is not under Warden, so its calls are
        // left to the agent as they were.
        if input.hook_event_name != "PostToolUse" {
            println!("{{}}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    match (h.agent, input.hook_event_name.as_str()) {
        (_, "PreToolUse") => pre_tool_use(h, &input),
        (_, "PostToolUse") | (Agent::ClaudeCode, "PostToolUseFailure") => post_tool_use(h, &input),
        (Agent::Codex, "PermissionRequest") => permission_request(h, &input),
        (_, other) => Err(malformed(format!(
            "unsupported hook event `{}`: configure this command for {}",
            redact(other),
            match h.agent {
                Agent::ClaudeCode => "PreToolUse, PostToolUse and PostToolUseFailure",
                Agent::Codex => "PreToolUse, PermissionRequest and PostToolUse",
                Agent::Gemini => "BeforeTool and AfterTool",
                Agent::Copilot => "preToolUse and postToolUse",
            }
        ))),
    }
}

/// The workspace a hook call is made in: `--workspace`, else the nearest directory with `.git`
/// or `.warden` above the payload's `cwd`.
fn workspace_of(h: &Hook<'_>, input: &HookInput) -> Result<PathBuf, CliError> {
    let cwd = warden_policy::normalise_path(&input.cwd);
    Ok(match &h.args.workspace {
        Some(w) => policy_load::absolute(w)?,
        None => policy_load::find_workspace(&cwd),
    })
}

/// Whether Warden governs this call's workspace: it has a `.warden/` directory (made by
/// `warden init`), or `--workspace` named it.
fn governed_here(h: &Hook<'_>, input: &HookInput) -> Result<bool, CliError> {
    Ok(h.args.workspace.is_some() || workspace_of(h, input)?.join(".warden").is_dir())
}

/// A Copilot payload, for the event the hook command names.
fn parse_copilot(text: &str, event: Option<&str>) -> Result<HookInput, CliError> {
    let event = event.ok_or_else(|| {
        malformed("`--event` is missing: Copilot's payload does not name its event (run `warden init --agent copilot`)")
    })?;
    let claude = copilot::event(event).ok_or_else(|| {
        malformed(format!(
            "unsupported hook event `{}`: configure this command for preToolUse and postToolUse",
            redact(event)
        ))
    })?;
    if text.trim().is_empty() {
        return Err(malformed("standard input is empty"));
    }
    let payload: copilot::Payload = serde_json::from_str(text).map_err(|e| {
        malformed(format!(
            "invalid hook payload (line {} column {}): {}",
            e.line(),
            e.column(),
            redact(&e.to_string())
        ))
    })?;
    let input = payload.into_hook_input(claude).map_err(malformed)?;
    check_input(input)
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
    check_input(input)
}

/// What every payload must hold, whichever agent sent it.
fn check_input(input: HookInput) -> Result<HookInput, CliError> {
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
    /// The session, and the digest of the tool input as the agent will run it (rewritten or
    /// not): Codex's PermissionRequest names no tool call id, so it is matched by these.
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    input_sha256: Option<String>,
}

/// The id a call's PreToolUse and PostToolUse share: the agent's tool call id; for Gemini, whose
/// payloads carry none, the digest of the input as it runs (its AfterTool reports the rewritten
/// input), so two identical calls in flight at once in one session share a state file.
fn call_id(
    agent: Agent,
    input: &HookInput,
    runs: &serde_json::Map<String, Value>,
) -> Option<String> {
    match (&input.tool_use_id, agent) {
        (Some(id), _) if !id.is_empty() => Some(id.clone()),
        (_, Agent::Gemini | Agent::Copilot) => Some(format!("input:{}", input_digest(runs))),
        _ => None,
    }
}

/// The digest a call's tool input is matched by (serde_json writes an object's keys sorted).
fn input_digest(input: &serde_json::Map<String, Value>) -> String {
    sha256_hex(Value::Object(input.clone()).to_string().as_bytes())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `<workspace>/.warden/hooks/<agent>/<sha256(session, tool_use_id)>.json`: hashed so that
/// no id can name a path outside the directory.
fn pending_path(agent: Agent, workspace: &Path, session: &str, tool_use_id: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(session.as_bytes());
    h.update([0]);
    h.update(tool_use_id.as_bytes());
    let name: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    workspace
        .join(".warden")
        .join("hooks")
        .join(agent.name())
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

fn setup(h: &Hook<'_>, input: &HookInput, sandboxed: bool) -> Result<Setup, CliError> {
    let args = h.args;
    let cwd = warden_policy::normalise_path(&input.cwd);
    let workspace = workspace_of(h, input)?;
    let ctx = Context {
        workspace: warden_policy::normalise_path(&workspace),
        cwd,
        home: policy_load::home(),
        sandboxed,
    };
    let policy = policy_load::load(args.policy.as_deref(), &ctx.workspace)?;
    let recorder = Recorder::open(&ctx.workspace, &policy)?;
    // With an approval server, it decides (an `async` request approved since it was deferred is
    // used for the retry); without, Claude Code's own prompt asks the person, and for Codex,
    // whose hooks cannot hand a call to its prompt, nobody can: the call is refused.
    let approver: Arc<dyn Approver> = match (crate::approval::server_from_env(), h.agent) {
        (Some(server), _) => Arc::new(HookServer(server)),
        // Copilot's preToolUse has `ask`: its own prompt asks the person, as Claude Code's does.
        (None, Agent::ClaudeCode | Agent::Copilot) => Arc::new(ClaudeCodePrompt),
        (None, Agent::Codex | Agent::Gemini) => Arc::new(NoApprover),
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

/// No approval server, and no prompt the agent could be handed the call to.
struct NoApprover;

impl Approver for NoApprover {
    fn request(&self, _: &ApprovalRequest<'_>) -> Result<Answered, String> {
        Ok(ApprovalAnswer::Unavailable {
            reason: "needs a person's approval, and no approval server is configured (set WARDEN_SERVER and WARDEN_TOKEN to route it)".into(),
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

/// The Bash tool input rewritten to run under Warden as `wrap` says.
fn rewrite_bash(
    h: &Hook<'_>,
    input: &HookInput,
    ctx: &Context,
    wrap: Wrap,
) -> Result<serde_json::Map<String, Value>, CliError> {
    let warden = crate::agents::own_exe()?;
    let workspace = ctx
        .workspace
        .to_str()
        .ok_or_else(|| CliError::failure(miette::miette!("the workspace path is not UTF-8")))?;
    let policy = match &h.args.policy {
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
            agent: h.agent.name(),
            // Claude Code's Bash tool keeps its working directory from one call to the next.
            report_cwd: matches!(h.agent, Agent::ClaudeCode),
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

fn pre_tool_use(h: &Hook<'_>, input: &HookInput) -> CmdResult {
    let action = h
        .agent
        .tool_action(input)
        .map_err(|e| malformed(e.hook_message()))?;
    let is_bash = protocol::runs_sandboxed(&action);
    let s = setup(h, input, is_bash)?;
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
            agent: Some(h.agent.name().into()),
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
            rewrite_bash(h, input, g.context(), wrap).map(Some)
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
            println!("{}", h.agent.pre_tool_use_json(&answer));
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
    let runs = match &answer {
        Answer::Allow {
            updated: Some(u), ..
        }
        | Answer::Ask {
            updated: Some(u), ..
        } => u,
        _ => &input.tool_input,
    };
    if !matches!(answer, Answer::Deny { .. })
        && let Some(id) = call_id(h.agent, input, runs)
    {
        let call = PendingCall {
            intent_seq: intent.seq,
            intent_hash: intent.hash.clone(),
            tool_name: input.tool_name.clone(),
            started_ms: now_ms(),
            asked,
            session: Some(input.session_id.clone()),
            input_sha256: Some(input_digest(runs)),
        };
        save_pending(
            &pending_path(h.agent, &g.context().workspace, &input.session_id, &id),
            &call,
        )?;
    }
    println!("{}", h.agent.pre_tool_use_json(&answer));
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
        // Codex reports a command's output as one string.
        Some(Value::String(text)) if input.tool_name == "Bash" => {
            out.stdout_bytes = text.len() as u64;
            out.stdout_sha256 = Some(sha256_hex(text.as_bytes()));
        }
        Some(v) => {
            let text = v.to_string();
            out.stdout_bytes = text.len() as u64;
            out.stdout_sha256 = Some(sha256_hex(text.as_bytes()));
            // Copilot's `resultType`, Gemini's `error`: a call that failed says so.
            if let Some(kind) = v.get("resultType").and_then(Value::as_str)
                && kind != "success"
            {
                out.notes.push(format!("result: {}", redact(kind)));
            }
            if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
                let err: String = err.to_string().chars().take(500).collect();
                out.notes.push(format!("failed: {}", redact(&err)));
            }
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

/// Codex's PermissionRequest: Codex is about to ask a person whether a call may run (e.g. with
/// more access than its sandbox gives). A call Warden's PreToolUse cleared is allowed (Warden
/// decided, recorded and, for a command, sandboxed it); any other call takes the governed path
/// now, so the approval server (or the policy) answers, never Codex's prompt alone.
fn permission_request(h: &Hook<'_>, input: &HookInput) -> CmdResult {
    let action = h
        .agent
        .tool_action(input)
        .map_err(|e| malformed(e.hook_message()))?;
    let s = setup(h, input, false)?;
    let g = &s.governor;
    let digest = input_digest(&input.tool_input);
    let dir = pending_path(h.agent, &g.context().workspace, "", "");
    let dir = dir.parent().unwrap_or(Path::new("."));
    let cleared = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<PendingCall>(&t).ok())
        .find(|c| {
            c.session.as_deref() == Some(input.session_id.as_str())
                && c.input_sha256.as_deref() == Some(digest.as_str())
        });
    if let Some(call) = cleared {
        println!("{}", codex::permission_json(Ok(())));
        stderr_line!(
            "warden: allowed: cleared by Warden's PreToolUse (intent {})",
            call.intent_seq
        );
        return Ok(ExitCode::SUCCESS);
    }
    let _export = ExportOnExit(g.recorder().spawn_exporter());
    let is_bash = protocol::runs_sandboxed(&action);
    let req = ActionRequest {
        meta: IntentMeta {
            rationale: None,
            agent: Some(h.agent.name().into()),
            session: Some(input.session_id.clone()),
            tool_call_id: None,
            tool: Some(input.tool_name.clone()),
        },
        text: Some(protocol::action_text(
            &input.tool_name,
            &input.tool_input,
            &action,
        )),
        ..ActionRequest::new(action)
    };
    let note =
        |d: &Decision, v: &Verdict| format!("did not run: {}", refusal_reason(d, v, is_bash));
    let answer = match g.clear_answering(&req, &note) {
        Ok(Clearance::Cleared(running)) => {
            g.finish(
                &running,
                &Outcome {
                    disposition: Some(warden_govern::Disposition::Ran),
                    notes: vec![
                        "allowed at Codex's permission request; Codex performs the call and reports no result for it"
                            .into(),
                    ],
                    ..Default::default()
                },
            )?;
            Ok(())
        }
        Ok(Clearance::Refused {
            decision, verdict, ..
        }) => Err(refusal_reason(&decision, &verdict, is_bash)),
        Ok(Clearance::Delegated { running, reason }) => Err(format!(
            "warden: {} — {reason}",
            describe(&running.decision)
        )),
        Err(warden_govern::GovernError::Approval(e)) => Err(format!(
            "warden: the approval server failed, so the call is denied: {}",
            first_line(&e)
        )),
        Err(e) => return Err(e.into()),
    };
    println!("{}", codex::permission_json(answer));
    Ok(ExitCode::SUCCESS)
}

fn post_tool_use(h: &Hook<'_>, input: &HookInput) -> CmdResult {
    let id = call_id(h.agent, input, &input.tool_input).ok_or_else(|| {
        malformed(format!(
            "{}: `tool_use_id` is missing",
            input.hook_event_name
        ))
    })?;
    let s = setup(h, input, false)?;
    let path = pending_path(
        h.agent,
        &s.governor.context().workspace,
        &input.session_id,
        &id,
    );
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
                redact(&id)
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
        g.granted_by_agent(&intent, &format!("{} prompt", h.agent.name()))?;
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
        let p = pending_path(
            Agent::ClaudeCode,
            Path::new("/ws"),
            "s",
            "../../../etc/passwd",
        );
        assert!(p.starts_with("/ws/.warden/hooks/claude-code"));
        assert_eq!(p.components().count(), 6);
        assert_ne!(
            pending_path(Agent::ClaudeCode, Path::new("/ws"), "a", "bc"),
            pending_path(Agent::ClaudeCode, Path::new("/ws"), "ab", "c")
        );
    }
}
