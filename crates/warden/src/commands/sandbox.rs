//! `warden sandbox`: run a command in the sandbox with no classification (e.g. to wrap a whole
//! agent), through the same isolation `warden-govern` gives every governed action. With
//! `--govern` (whole-agent mode, for agents without a hook) the command is one governed action
//! at granted tier `auto`, and every program it runs is judged by the governance file.

use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use std::process::ExitCode;
use warden_govern::execute::{self, Execution, OutputMode};

/// Arguments of `warden sandbox`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: the command's own (128+N when killed by signal N); with --govern, 77 \
or 75 instead of 0 when a program it ran was refused (denied, or a re-run request filed); 1 when \
the sandbox cannot be set up or the kernel cannot enforce the profile (see --allow-degraded); 2 \
for bad input."
)]
pub struct SandboxArgs {
    #[command(flatten)]
    pub placement: super::flags::Placement,
    /// Whole-agent mode: record the command as one action (granted tier `auto`) and judge every
    /// program it runs with the governance file (refused ones fail with EACCES and a reason).
    #[arg(long)]
    pub govern: bool,
    /// The agent's name (recorded in the intent, with --govern).
    #[arg(long, value_name = "NAME", requires = "govern")]
    pub agent: Option<String>,
    #[command(flatten)]
    pub degraded: super::flags::Degraded,
    #[command(flatten)]
    pub cwd_report: super::flags::CwdReport,
    /// The command to run, after `--`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "ARGV"
    )]
    pub rest: Vec<String>,
}

/// Tells the person at the terminal what the outcome record also keeps: what this kernel did
/// not enforce, and warnings (e.g. a repository the command created with hooks).
pub(crate) fn print_warnings(exec: &Execution) {
    for n in exec.warnings() {
        if n.starts_with("not enforced") {
            stderr_line!("warden: degraded sandbox: {n}");
        } else {
            stderr_line!("warden: {n}");
        }
    }
}

/// Run `warden sandbox`.
pub fn run(args: SandboxArgs) -> CmdResult {
    let at = &args.placement;
    let ctx = policy_load::context(at.workspace.as_deref(), at.cwd.as_deref(), true)?;
    // Never freed: the process ends with this command, and freeing the compiled policy piece
    // by piece costs a measurable share of a short run.
    let policy =
        std::mem::ManuallyDrop::new(policy_load::load(at.policy.as_deref(), &ctx.workspace)?);
    if args.govern {
        if args.cwd_report.cwd_report.is_some() {
            return Err(CliError::bad_input(miette::miette!(
                "--cwd-report reports where a shell command ended; a whole agent (--govern) is not one"
            )));
        }
        return run_governed(args, ctx, std::mem::ManuallyDrop::into_inner(policy));
    }
    // Isolation alone: the caller cleared the command (a person, or the agent hook after an
    // approval), so its sandbox opens up what the command names (the secret files it reads,
    // the outside files it writes) and nothing else.
    let action = warden_policy::Action::Exec {
        argv: args.rest.clone(),
        cwd: Some(ctx.cwd.clone()),
    };
    let decision = policy.classify(&action, &ctx);
    let report_cwd = args.cwd_report.file()?;
    let mut profile = execute::profile_for(&policy, &ctx, args.rest);
    execute::grant(&mut profile, &decision, decision.tier);
    if let Some(f) = &report_cwd {
        execute::report_cwd(&mut profile, f);
    }
    let exec = execute::execute(
        &policy,
        profile,
        args.degraded.allow_degraded,
        OutputMode::Inherit,
        None,
        None,
    );
    if let Some(f) = &report_cwd {
        super::flags::CwdReport::finish(f, &ctx.workspace);
    }
    let exec = exec?;
    print_warnings(&exec);
    Ok(ExitCode::from(exec.shell_code()))
}

/// `warden sandbox --govern`: the agent as one governed action at granted tier `auto`.
fn run_governed(
    args: SandboxArgs,
    ctx: warden_policy::Context,
    policy: warden_policy::Policy,
) -> CmdResult {
    use warden_govern::{ActionRequest, Governor, IntentMeta, Recorder, Settings, Verdict};
    let recorder = Recorder::open(&ctx.workspace, &policy)?;
    let sealer = recorder.clone();
    let _seal = sealer.seal_on_drop();
    let timeout =
        std::time::Duration::from_secs(policy.config().sandbox.prompt_timeout_secs.unwrap_or(60));
    let governor = Governor::new(
        std::sync::Arc::new(policy),
        ctx.clone(),
        recorder,
        crate::approval::approver(crate::approval::default_approver(timeout)),
        Settings {
            allow_degraded: args.degraded.allow_degraded,
            output: OutputMode::Inherit,
        },
    );
    let req = ActionRequest {
        meta: IntentMeta {
            agent: args.agent,
            tool: Some("sandbox --govern".into()),
            ..IntentMeta::default()
        },
        ..ActionRequest::new(warden_policy::Action::Exec {
            argv: args.rest,
            cwd: Some(ctx.cwd),
        })
    };
    let governed = governor.govern_agent(&req)?;
    std::mem::forget(governor);
    match &governed.verdict {
        Verdict::Ran(exec) => {
            print_warnings(exec);
            Ok(ExitCode::from(super::run::nested_status(exec)))
        }
        // govern_agent only runs the agent or fails.
        _ => Ok(ExitCode::from(1)),
    }
}
