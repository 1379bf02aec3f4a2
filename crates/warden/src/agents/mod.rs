//! The agents' own protocols, one module each: how a payload becomes an action, how an answer
//! is written and quoted, and the configuration `warden init --agent` writes. The live entry
//! points (`warden hook`, `warden mcp`) and `warden replay` both use these; the decisions are
//! `warden-govern`'s.

pub mod claude_code;
pub mod codex;
pub mod copilot;
pub mod gemini;
pub mod installed;
pub mod mcp;
pub mod opencode;
pub mod settings_file;

use crate::exit::CliError;

/// Warden's own executable as the agents' configuration files and rewritten commands name it:
/// resolved through symlinks, and UTF-8, since those files are JSON or TOML text.
pub fn own_exe() -> Result<String, CliError> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| {
            CliError::failure(miette::miette!("cannot find Warden's own executable: {e}"))
        })?;
    exe.to_str().map(str::to_owned).ok_or_else(|| {
        CliError::failure(miette::miette!(
            "Warden's own path is not UTF-8: {}",
            exe.display()
        ))
    })
}

/// The command an agent runs as its hook: [`own_exe`] quoted for a shell, then `args`
/// (` hook gemini`). `args` is also how a hook already in a file is known as Warden's
/// ([`settings_file::merge_grouped_hooks`]), whatever path the binary had when it was written.
pub fn hook_command(args: &str) -> Result<String, CliError> {
    Ok(format!("{}{args}", claude_code::sh_quote(&own_exe()?)))
}
