//! Integration with specific coding agents: the configuration `warden init --agent` writes for each.

pub mod claude_code;
pub mod codex;
