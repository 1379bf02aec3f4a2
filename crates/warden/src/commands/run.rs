//! `warden run` (to be built).

use crate::exit::{CliError, CmdResult};

/// Arguments of `warden run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Run `warden run`.
pub fn run(_args: RunArgs) -> CmdResult {
    Err(CliError::failure(miette::miette!("warden run is not built yet")))
}
