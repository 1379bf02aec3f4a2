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
