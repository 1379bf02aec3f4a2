//! `warden policy`.

use crate::exit::{CliError, CmdResult};

/// Subcommands of `warden policy`.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check a governance file.
    Lint,
}

/// Run `warden policy`.
pub fn run(_cmd: PolicyCommand) -> CmdResult {
    Err(CliError::failure(miette::miette!("not built yet")))
}
