//! `warden sandbox`: run a command in the sandbox with no classification (e.g. to wrap a whole
//! agent), through the same isolation `warden-govern` gives every governed action.

use crate::exit::CmdResult;
use crate::policy_load;
use std::process::ExitCode;
use warden_govern::execute::{self, Execution, OutputMode};

/// Arguments of `warden sandbox`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: the command's own (128+N when killed by signal N); 1 when the sandbox \
cannot be set up or the kernel cannot enforce the profile (see --allow-degraded); 2 for bad input."
)]
pub struct SandboxArgs {
    #[command(flatten)]
    pub placement: super::flags::Placement,
    #[command(flatten)]
    pub degraded: super::flags::Degraded,
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
    let profile = execute::profile_for(&policy, &ctx, args.rest);
    let exec = execute::execute(
        &policy,
        profile,
        args.degraded.allow_degraded,
        OutputMode::Inherit,
        None,
    )?;
    print_warnings(&exec);
    Ok(ExitCode::from(exec.shell_code()))
}
