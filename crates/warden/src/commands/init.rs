//! `warden init`.

use crate::exit::{CliError, CmdResult};

/// Arguments of `warden init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {}

/// Run `warden init`.
pub fn run(_args: InitArgs) -> CmdResult {
    Err(CliError::failure(miette::miette!("not built yet")))
}
