//! `warden check`.

use crate::exit::{CliError, CmdResult};

/// Arguments of `warden check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {}

/// Run `warden check`.
pub fn run(_args: CheckArgs) -> CmdResult {
    Err(CliError::failure(miette::miette!("not built yet")))
}
