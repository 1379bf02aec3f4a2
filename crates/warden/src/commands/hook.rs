//! Placeholder: `warden hook` (being written).

use crate::exit::{CliError, CmdResult};

/// Subcommands of `warden hook`.
#[derive(clap::Subcommand, Debug)]
pub enum HookCommand {
    /// Claude Code's PreToolUse / PostToolUse hook: JSON on stdin, JSON on stdout.
    ClaudeCode,
}

/// Run `warden hook`.
pub fn run(_cmd: HookCommand) -> CmdResult {
    Err(CliError::failure(miette::miette!("not yet available")))
}
