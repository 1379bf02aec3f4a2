//! `warden run`: the command line of the governed path — one action from flags, handed to the
//! `warden-govern` governor (classify, record, approve, isolate, outcome), its verdict turned
//! into the contract's exit status and a line on stderr.

use crate::approval;
use crate::exit::{CliError, CmdResult, DEFERRED, DENIED};
use crate::policy_load;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use warden_govern::{
    ActionRequest, Governed, Governor, IntentMeta, OutputMode, Recorder, Settings, Verdict,
};
use warden_policy::Action;

/// Arguments of `warden run`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: the command's own (128+N when killed by signal N), but 77 or 75 \
instead of 0 when a program it ran or a request it sent was refused (denied, or a re-run request \
filed); 77 when denied (by policy or an approver); 75 when deferred for asynchronous approval; 1 \
when Warden itself fails \
(e.g. the intent cannot be recorded, or the kernel cannot enforce the sandbox without \
--allow-degraded); 2 for bad input."
)]
pub struct RunArgs {
    #[command(flatten)]
    pub placement: super::flags::Placement,
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
    #[command(flatten)]
    pub degraded: super::flags::Degraded,
    #[command(flatten)]
    pub cwd_report: super::flags::CwdReport,
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
    let at = &args.placement;
    let ctx = policy_load::context(at.workspace.as_deref(), at.cwd.as_deref(), true)?;
    let policy = policy_load::load(at.policy.as_deref(), &ctx.workspace)?;
    let report_cwd = args.cwd_report.file()?;
    let workspace = ctx.workspace.clone();
    let action = match (&args.shell, args.rest.is_empty()) {
        (Some(s), _) => Action::Shell {
            script: s.clone(),
            cwd: Some(ctx.cwd.clone()),
        },
        (None, false) => Action::Exec {
            argv: args.rest.clone(),
            cwd: Some(ctx.cwd.clone()),
        },
        (None, true) => {
            return Err(CliError::bad_input(miette::miette!(
                help =
                    "e.g. `warden run -- cargo test` or `warden run --shell 'make && make check'`",
                "nothing to run: give a command after `--` or --shell"
            )));
        }
    };
    let recorder = Recorder::open(&ctx.workspace, &policy)?;
    // Ships this run's records (and any backlog) to the OTLP collector while the action runs,
    // with one last attempt on the way out, whichever way `run` returns.
    let _export = ExportOnExit(recorder.spawn_exporter());
    // Seals the log's head once this run's last record is written, whichever way `run`
    // returns (dropped before `_export`, so the seal is exported too).
    let sealer = recorder.clone();
    let _seal = sealer.seal_on_drop();
    let timeout = Duration::from_secs(policy.config().sandbox.prompt_timeout_secs.unwrap_or(60));
    let settings = Settings {
        allow_degraded: args.degraded.allow_degraded,
        output: OutputMode::Stream,
    };
    let governor = Governor::new(
        Arc::new(policy),
        ctx,
        recorder,
        approval::approver(approval::default_approver(timeout)),
        settings,
    );
    let req = ActionRequest {
        meta: IntentMeta {
            rationale: args.rationale,
            agent: args.agent,
            session: args.session,
            tool_call_id: args.tool_call_id,
            tool: args.tool,
        },
        report_cwd: report_cwd.clone(),
        ..ActionRequest::new(action)
    };
    let governed = governor.govern(&req);
    if let Some(f) = &report_cwd {
        super::flags::CwdReport::finish(f, &workspace);
    }
    // Never freed: the process ends with this command, and freeing the compiled policy piece
    // by piece costs a measurable share of a short run.
    std::mem::forget(governor);
    Ok(ExitCode::from(exit_status(&governed?)))
}

/// What `warden run` tells the person and exits with for a governed action.
pub(crate) fn exit_status(governed: &Governed) -> u8 {
    let line = governed.verdict.line(&governed.decision);
    match &governed.verdict {
        Verdict::Ran(exec) => {
            super::sandbox::print_warnings(exec);
            nested_status(exec)
        }
        Verdict::Denied { .. } | Verdict::Unavailable { .. } => {
            stderr_line!("warden: {line}");
            DENIED
        }
        Verdict::Deferred { .. } => {
            stderr_line!("warden: {line}");
            DEFERRED
        }
    }
}

/// The status of a command that ran: its own, but never 0 when a nested operation was refused
/// inside it (DESIGN.md's contract): 77 when one was denied (or a hold refused), else 75 (each
/// refusal filed a request to re-run the action at the higher tier). The refusals are listed on
/// stderr, after the command's own output.
pub(crate) fn nested_status(exec: &warden_govern::Execution) -> u8 {
    for n in &exec.nested {
        stderr_line!("warden: {}", n.line());
    }
    status_of(exec)
}

/// The status [`nested_status`] reports, printing nothing.
pub(crate) fn status_of(exec: &warden_govern::Execution) -> u8 {
    let code = exec.shell_code();
    if code != 0 || exec.nested.is_empty() {
        return code;
    }
    if exec
        .nested
        .iter()
        .any(|n| n.answer != warden_govern::NestedAnswer::Refuse)
    {
        DENIED
    } else {
        DEFERRED
    }
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
