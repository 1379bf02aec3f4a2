//! Placeholder: `warden mcp` (being written).

use crate::exit::{CliError, CmdResult};

/// Arguments of `warden mcp`.
#[derive(clap::Args, Debug)]
pub struct McpArgs {}

/// Run `warden mcp`.
pub fn run(_args: McpArgs) -> CmdResult {
    Err(CliError::failure(miette::miette!("not yet available")))
}
