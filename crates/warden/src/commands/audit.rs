//! `warden audit` (to be built).

use crate::exit::{CliError, CmdResult};

/// Arguments of `warden audit`.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// Arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Run `warden audit`.
pub fn run(_args: AuditArgs) -> CmdResult {
    Err(CliError::failure(miette::miette!("warden audit is not built yet")))
}
