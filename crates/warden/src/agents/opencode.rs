//! OpenCode: `warden init --agent opencode` puts it under Warden through MCP, merging into the
//! project's `opencode.json` Warden's MCP server (`mcp.warden`, a local server running `warden
//! mcp`, whose tools take the governed path) and OpenCode's own shell and file-writing tools
//! switched off (`tools`: `bash`, `edit`, `write`, `patch` false), so commands and writes go
//! through Warden's tools.
//!
//! Why MCP and not a hook: OpenCode 1.18 has no command hooks and no permission callback to an
//! external program; its extension point is JavaScript plugins (`tool.execute.before`) loaded
//! into its own process, and its `permission` settings only choose allow / ask / deny per tool
//! pattern. What MCP does not cover is stated in docs/opencode.md.

use crate::exit::{CliError, CmdResult};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

/// OpenCode's own tools that act (run commands, write files): off, Warden's tools instead.
const OWN_TOOLS_OFF: [&str; 4] = ["bash", "edit", "write", "patch"];

/// Merge Warden's MCP server and the tool switches into an `opencode.json` document; returns
/// the changes made (empty: nothing to do).
pub fn merge(doc: &mut Value, exe: &str, workspace: &str) -> Result<Vec<String>, String> {
    let root = doc
        .as_object_mut()
        .ok_or("the top level is not a JSON object")?;
    let mut notes = Vec::new();
    let server = json!({
        "type": "local",
        "command": [exe, "mcp", "--workspace", workspace],
        "enabled": true,
    });
    let mcp = root
        .entry("mcp")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("`mcp` is not a JSON object")?;
    if mcp.get("warden") != Some(&server) {
        mcp.insert("warden".into(), server);
        notes.push("mcp.warden: `warden mcp` for this workspace".into());
    }
    let tools = root
        .entry("tools")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("`tools` is not a JSON object")?;
    for t in OWN_TOOLS_OFF {
        if tools.get(t) != Some(&Value::Bool(false)) {
            tools.insert(t.into(), false.into());
            notes.push(format!("tools.{t} = false"));
        }
    }
    Ok(notes)
}

/// Write OpenCode's configuration for the repository at `root`.
pub fn init(root: &Path, _force: bool) -> CmdResult {
    let root = std::fs::canonicalize(root).map_err(|e| {
        CliError::failure(miette::miette!("cannot resolve {}: {e}", root.display()))
    })?;
    let exe = super::own_exe()?;
    let Some(workspace) = root.to_str() else {
        return Err(CliError::failure(miette::miette!(
            "the workspace path is not UTF-8: {}",
            root.display()
        )));
    };
    let path = root.join("opencode.json");
    let mut doc = super::settings_file::read(
        &path,
        "opencode.json with comments (JSONC) is not merged: fix or move it, then run `warden init \
         --agent opencode` again; it was not changed",
        || json!({ "$schema": "https://opencode.ai/config.json" }),
    )?;
    let notes = merge(&mut doc, &exe, workspace).map_err(|msg| {
        CliError::bad_input(miette::miette!(
            help = "the file was not changed",
            "{}: {msg}",
            path.display()
        ))
    })?;
    if notes.is_empty() {
        println!("unchanged {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    super::settings_file::write(&path, &doc)?;
    println!("wrote {}", path.display());
    for n in &notes {
        println!("  {n}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_other_settings_and_is_idempotent() {
        let mut doc =
            json!({"model": "x", "mcp": {"docs": {"type": "remote", "url": "http://h.invalid"}}});
        assert!(!merge(&mut doc, "/w", "/r").unwrap().is_empty());
        assert!(merge(&mut doc, "/w", "/r").unwrap().is_empty());
        assert_eq!(doc["model"], "x");
        assert_eq!(doc["mcp"]["docs"]["type"], "remote");
        assert_eq!(doc["tools"]["bash"], false);
        assert!(merge(&mut json!({"mcp": []}), "/w", "/r").is_err());
    }
}
