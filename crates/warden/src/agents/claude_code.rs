//! Placeholder: `warden init --agent` for this agent (being written).

use crate::exit::{CliError, CmdResult};
use std::path::Path;

/// Write this agent's configuration for the repository at `root`.
pub fn init(_root: &Path, _force: bool) -> CmdResult {
    Err(CliError::failure(miette::miette!("not yet available")))
}
