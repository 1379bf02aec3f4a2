//! `warden sandbox` (to be built).

use crate::exit::{CliError, CmdResult};

/// Arguments of `warden sandbox`.
#[derive(clap::Args, Debug)]
pub struct SandboxArgs {
    /// Arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Run `warden sandbox`.
pub fn run(_args: SandboxArgs) -> CmdResult {
    Err(CliError::failure(miette::miette!("warden sandbox is not built yet")))
}
