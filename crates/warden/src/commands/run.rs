//! `warden run`: the whole path for one action — classify (as sandboxed), record the intent
//! durably, get the approval the tier asks for, run it in the sandbox behind the egress proxy,
//! stream its output through, and record the outcome.

use crate::approval::{ApprovalAnswer, ApprovalRequest, default_approver};
use crate::exit::{CliError, CmdResult, DEFERRED, DENIED};
use crate::policy_load;
use crate::record::{IntentMeta, IntentRef, Outcome, Recorder};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use warden_policy::{Action, Tier};

/// Arguments of `warden run`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: the command's own (128+N when killed by signal N); 77 when denied \
(by policy or an approver); 75 when deferred for asynchronous approval; 1 when Warden itself fails \
(e.g. the intent cannot be recorded, or the kernel cannot enforce the sandbox without \
--allow-degraded); 2 for bad input."
)]
pub struct RunArgs {
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Workspace root (default: the nearest directory with `.git` or `.warden`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Directory the action starts in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// The agent's stated reason for the action (recorded in the intent).
    #[arg(long, value_name = "TEXT")]
    pub rationale: Option<String>,
    /// Name of the agent asking (recorded in the intent).
    #[arg(long, value_name = "NAME")]
    pub agent: Option<String>,
    /// The agent's session id (recorded in the intent; e.g. Claude Code's `session_id`).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// The agent's id for this tool call (recorded in the intent; ties a hook's records to this run).
    #[arg(long, value_name = "ID")]
    pub tool_call_id: Option<String>,
    /// The agent's tool that asked (recorded in the intent; e.g. an MCP tool's name).
    #[arg(long, value_name = "NAME")]
    pub tool: Option<String>,
    /// Run even if this kernel cannot enforce everything the sandbox profile asks for.
    #[arg(long)]
    pub allow_degraded: bool,
    /// Run a shell string with `/bin/sh -c` instead of an argv.
    #[arg(long, value_name = "S", conflicts_with = "rest")]
    pub shell: Option<String>,
    /// The command to run, after `--`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGV"
    )]
    pub rest: Vec<String>,
}

/// Run `warden run`.
pub fn run(args: RunArgs) -> CmdResult {
    let ctx = policy_load::context(args.workspace.as_deref(), args.cwd.as_deref(), true)?;
    // Never freed: the process ends with this command, and freeing the compiled policy piece
    // by piece costs a measurable share of a short run.
    let policy =
        std::mem::ManuallyDrop::new(policy_load::load(args.policy.as_deref(), &ctx.workspace)?);
    let (action, argv) = match (&args.shell, args.rest.is_empty()) {
        (Some(s), _) => (
            Action::Shell {
                script: s.clone(),
                cwd: Some(ctx.cwd.clone()),
            },
            vec!["/bin/sh".to_owned(), "-c".to_owned(), s.clone()],
        ),
        (None, false) => (
            Action::Exec {
                argv: args.rest.clone(),
                cwd: Some(ctx.cwd.clone()),
            },
            args.rest.clone(),
        ),
        (None, true) => {
            return Err(CliError::bad_input(miette::miette!(
                help =
                    "e.g. `warden run -- cargo test` or `warden run --shell 'make && make check'`",
                "nothing to run: give a command after `--` or --shell"
            )));
        }
    };
    let decision = policy.classify(&action, &ctx);
    let recorder = Recorder::open(&ctx.workspace, &policy)?;
    // Ships this run's records (and any backlog) to the OTLP collector while the action runs,
    // with one last attempt on the way out, whichever way `run` returns.
    let _export = ExportOnExit(recorder.spawn_exporter());
    // Seals the log's head once this run's last record is written (dropped before `_export`).
    let _seal = recorder.seal_on_drop();
    let meta = IntentMeta {
        rationale: args.rationale.clone(),
        agent: args.agent.clone(),
        session: args.session.clone(),
        tool_call_id: args.tool_call_id.clone(),
        tool: args.tool.clone(),
    };
    let intent_failed = |e: CliError| {
        CliError::failure(miette::miette!(
            "refusing to run: the intent could not be recorded: {:?}",
            e.report
        ))
    };
    if decision.tier == Tier::Auto {
        // Prepare the sandbox (namespaces, mounts, Landlock, seccomp: gated, the command not
        // started) while the intent is being made durable; the command starts only once the
        // intent is on disk, and never if recording it failed. The sandbox is started from this
        // thread, which outlives it (its init dies with the thread that spawned it).
        let profile = super::sandbox::profile_for(&policy, &ctx, argv);
        let (intent, started) = std::thread::scope(|scope| {
            let intent = scope.spawn(|| recorder.intent(&action, &decision, &meta));
            let started = super::sandbox::start(&policy, profile, args.allow_degraded, true, true);
            let intent = intent.join().unwrap_or_else(|_| {
                Err(CliError::failure(miette::miette!(
                    "the intent recorder panicked"
                )))
            });
            (intent, started)
        });
        let intent = match intent {
            Ok(i) => i,
            Err(e) => {
                if let Ok(s) = started {
                    s.abort();
                }
                return Err(intent_failed(e));
            }
        };
        let exec = started.and_then(|mut s| {
            s.release()?;
            s.finish()
        });
        return finish(&recorder, &intent, exec);
    }
    let intent = recorder
        .intent(&action, &decision, &meta)
        .map_err(intent_failed)?;
    let refuse = |code: u8, why: String, recorder: &Recorder| -> CmdResult {
        stderr_line!("warden: {why}");
        let outcome = Outcome {
            notes: vec![why],
            ..Default::default()
        };
        recorder.outcome(&intent, &outcome)?;
        Ok(ExitCode::from(code))
    };
    match decision.tier {
        Tier::Auto => {}
        Tier::Deny => {
            let why = decision
                .reasons
                .first()
                .cloned()
                .unwrap_or_else(|| decision.rule.clone());
            return refuse(
                DENIED,
                format!("denied by policy (rule {}): {why}", decision.rule),
                &recorder,
            );
        }
        Tier::Async | Tier::Sync => {
            let timeout =
                Duration::from_secs(policy.config().sandbox.prompt_timeout_secs.unwrap_or(60));
            let approver = approver_for(&action, &ctx, &policy, timeout);
            recorder.approval(&intent, "requested", None)?;
            // What a person is asked about: rendered from the action, quoted and with
            // invisible characters escaped, so that it reads as exactly what will run.
            let text = action.display_text();
            let req = ApprovalRequest {
                action_text: &text,
                decision: &decision,
                rationale: args.rationale.as_deref(),
            };
            match approver.request(&req)? {
                ApprovalAnswer::Granted { by } => {
                    recorder.approval(&intent, "granted", Some(&by))?
                }
                ApprovalAnswer::Denied { by, reason } => {
                    let event = if by.is_some() { "denied" } else { "expired" };
                    recorder.approval(&intent, event, by.as_deref())?;
                    return refuse(
                        DENIED,
                        format!("denied: tier {}: {reason}", decision.tier),
                        &recorder,
                    );
                }
                ApprovalAnswer::Unavailable { reason } => {
                    recorder.approval(&intent, "unavailable", None)?;
                    return refuse(
                        DENIED,
                        format!("denied: tier {}: {reason}", decision.tier),
                        &recorder,
                    );
                }
                ApprovalAnswer::Deferred { ticket, reason } => {
                    let t = ticket.map(|t| format!(" (ticket {t})")).unwrap_or_default();
                    return refuse(
                        DEFERRED,
                        format!("deferred{t}: tier {}: {reason}", decision.tier),
                        &recorder,
                    );
                }
            }
        }
    }
    let profile = super::sandbox::profile_for(&policy, &ctx, argv);
    let exec = super::sandbox::execute(&policy, profile, args.allow_degraded, true);
    finish(&recorder, &intent, exec)
}

/// Record how the action went (or that it did not run) and give its exit status.
fn finish(
    recorder: &Recorder,
    intent: &IntentRef,
    exec: Result<super::sandbox::Execution, CliError>,
) -> CmdResult {
    let exec = match exec {
        Ok(e) => e,
        Err(err) => {
            let outcome = Outcome {
                notes: vec![format!("did not run: {:?}", err.report)],
                ..Default::default()
            };
            let _ = recorder.outcome(intent, &outcome);
            return Err(err);
        }
    };
    for n in &exec.network {
        recorder.network(intent, n)?;
    }
    exec.print_warnings();
    let outcome = Outcome {
        exit_code: exec.exit_code,
        signal: exec.signal,
        duration: exec.duration,
        stdout_bytes: exec.stdout_bytes,
        stdout_sha256: exec.stdout_sha256.clone(),
        stderr_bytes: exec.stderr_bytes,
        stderr_sha256: exec.stderr_sha256.clone(),
        notes: exec.notes.clone(),
    };
    recorder.outcome(intent, &outcome)?;
    Ok(ExitCode::from(exec.shell_code()))
}

/// Flushes the background OTLP exporter when `warden run` returns.
struct ExportOnExit(Option<warden_audit::ExporterHandle>);

impl Drop for ExportOnExit {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.shutdown();
        }
    }
}

/// The approval server when `WARDEN_SERVER` and `WARDEN_TOKEN` name one (the request is bound to
/// this exact action, cwd, workspace and policy digest), else the terminal prompt or, with no
/// terminal, the unattended answer.
fn approver_for(
    action: &warden_policy::Action,
    ctx: &warden_policy::Context,
    policy: &warden_policy::Policy,
    timeout: Duration,
) -> Box<dyn crate::approval::Approver> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    match (var("WARDEN_SERVER"), var("WARDEN_TOKEN")) {
        (Some(server), Some(token)) => Box::new(crate::approval_server::ServerApprover {
            server,
            token,
            workspace: ctx.workspace.display().to_string(),
            cwd: ctx.cwd.display().to_string(),
            action: serde_json::to_value(action).unwrap_or_default(),
            policy_digest: policy.digest().to_owned(),
        }),
        _ => default_approver(timeout),
    }
}
