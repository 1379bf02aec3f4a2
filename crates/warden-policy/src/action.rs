//! What an agent asks to do, and the facts about where it would happen.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A planned action, as an agent or a hook describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Action {
    /// Execute an argv directly (no shell in between).
    Exec {
        argv: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<PathBuf>,
    },
    /// Run a shell string.
    Shell {
        script: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<PathBuf>,
    },
    /// Read a file; with `recursive`, the content of every file below `path` (a search tool
    /// over a directory: Claude Code's `Grep`), so a rule for a path below it applies.
    Read {
        path: PathBuf,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        recursive: bool,
    },
    /// Write (create, modify or delete) a file.
    Write { path: PathBuf },
    /// A network request.
    Net {
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<String>,
        /// The URL path without its query (`/o/r.git/info/refs`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        /// Git smart-HTTP service (`git-upload-pack`, `git-receive-pack`) when the request is
        /// one; see [`crate::http_request_facts`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
    /// A tool call (e.g. an MCP tool) with JSON arguments.
    Tool {
        name: String,
        #[serde(default)]
        arguments: serde_json::Value,
    },
}

/// Where and how the action would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Root of the workspace (the repository the agent works in); absolute.
    pub workspace: PathBuf,
    /// Directory the action starts in; absolute.
    pub cwd: PathBuf,
    /// The user's home directory, for `~` in paths and globs.
    pub home: PathBuf,
    /// Whether the action will run inside Warden's sandbox.
    pub sandboxed: bool,
}
