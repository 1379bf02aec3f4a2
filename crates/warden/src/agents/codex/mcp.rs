//! `warden init --agent codex --mode mcp`: puts Codex CLI under Warden by merging into the project's
//! `.codex/config.toml` Warden's MCP server (`[mcp_servers.warden]`, whose tools take the governed
//! path), Codex's own shell tool switched off (`[features] shell_tool = false`) and Codex's
//! sandbox read-only with no escalation prompts, so work goes through Warden's tools. Codex reads
//! a project's `.codex/config.toml` only for trusted projects, so the project is also marked
//! trusted in `$CODEX_HOME/config.toml` (default `~/.codex`). Both files are edited with
//! `toml_edit`: comments, ordering and unrelated keys survive, and a second run changes nothing.

use super::config::{codex_home, fail, load, set, store, strings, table, trust_project};
use crate::exit::CmdResult;
use std::path::Path;
use std::process::ExitCode;

/// Environment variables Codex passes through to `warden mcp` (approval server and org policy).
const PASSED_ENV: &[&str] = &["WARDEN_SERVER", "WARDEN_TOKEN", "WARDEN_ORG_POLICY"];

/// Write Codex's configuration for the repository at `root`.
pub fn init(root: &Path, force: bool) -> CmdResult {
    let root = std::fs::canonicalize(root).map_err(|e| fail(root, e))?;
    let exe = crate::agents::own_exe()?;
    let root_text = root.to_string_lossy().into_owned();

    // 1. The project layer: Warden's MCP server in, Codex's shell tool out.
    let project = root.join(".codex").join("config.toml");
    let (before, mut doc) = load(&project)?;
    let mut notes = Vec::new();
    let top = doc.as_table_mut();
    // Codex's own sandbox stays read-only and never asks to escalate: writes and commands go
    // through Warden's tools, which classify, record, approve and sandbox them.
    set(top, "sandbox_mode", "read-only", &mut notes);
    set(top, "approval_policy", "never", &mut notes);
    let features = table(top, "features", false, &project)?;
    set(features, "shell_tool", false, &mut notes);
    set(features, "unified_exec", false, &mut notes);
    let servers = table(doc.as_table_mut(), "mcp_servers", true, &project)?;
    let fresh = !servers.contains_key("warden");
    let warden = table(servers, "warden", false, &project)?;
    if fresh {
        warden.decor_mut().set_prefix(
            "\n# Warden's governed tools (exec, read_file, write_file, edit_file, list_dir,\n\
             # http_request, approval_status); written by `warden init --agent codex --mode mcp`.\n",
        );
    }
    set(warden, "command", exe, &mut notes);
    set(
        warden,
        "args",
        strings(&["mcp", "--workspace", &root_text]),
        &mut notes,
    );
    set(warden, "env_vars", strings(PASSED_ENV), &mut notes);
    set(warden, "startup_timeout_sec", 30, &mut notes);
    // A `sync` action waits for a person; give the call as long as Warden's approval routes.
    set(warden, "tool_timeout_sec", 3600, &mut notes);
    // Warden decides; Codex should not ask a second time.
    set(warden, "default_tools_approval_mode", "approve", &mut notes);
    store(&project, &before, &doc)?;
    for n in &notes {
        println!("  {n}");
    }

    // 2. Trust, so Codex loads the project layer at all.
    let user = codex_home().join("config.toml");
    let (before, mut doc) = load(&user)?;
    let mut notes = Vec::new();
    if !trust_project(&mut doc, &user, &root_text, force, &mut notes)? {
        println!("unchanged {}", user.display());
        return Ok(ExitCode::SUCCESS);
    }
    store(&user, &before, &doc)?;
    for n in &notes {
        println!("  {n}");
    }
    Ok(ExitCode::SUCCESS)
}
