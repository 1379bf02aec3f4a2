//! Placeholder: `warden report` (being written).

use crate::exit::{CliError, CmdResult};

/// Arguments of `warden report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {}

/// Run `warden report`.
pub fn run(_args: ReportArgs) -> CmdResult {
    Err(CliError::failure(miette::miette!("not yet available")))
}
