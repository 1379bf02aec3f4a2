//! Placeholder: `warden replay` (being written).

use crate::exit::{CliError, CmdResult};

/// Arguments of `warden replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {}

/// Run `warden replay`.
pub fn run(_args: ReplayArgs) -> CmdResult {
    Err(CliError::failure(miette::miette!("not yet available")))
}
