//! `warden init --agent codex` (the hook route): makes `warden hook codex` Codex's PreToolUse,
//! PermissionRequest and PostToolUse hook, so Codex keeps its own tools and Warden classifies,
//! records and approves each call before it runs and rewrites shell commands to run under
//! `warden run`.
//!
//! Three files, each merged, never replaced (other hooks, settings and comments are kept; a
//! second run changes nothing; a file that does not parse is reported and left untouched):
//! - `$CODEX_HOME/hooks.json` (default `~/.codex`): the hooks, one matcher group per event with
//!   no matcher (every tool). Codex 0.169 runs no hooks from a project's `.codex/` (its loader
//!   drops `hooks` from project layers as an unsupported project-local key, and does not read a
//!   project `hooks.json`), so they are the user's; `warden hook codex` governs the calls made
//!   in workspaces that have a `.warden/` directory and stays out of the way elsewhere;
//! - `<repo>/.codex/config.toml`: `sandbox_mode = "danger-full-access"`, because each shell
//!   command now runs inside Warden's sandbox, which cannot start inside Codex's (it may not
//!   create namespaces or sockets there); and the MCP route's switches that turn Codex's shell
//!   off are removed;
//! - `$CODEX_HOME/config.toml`: the project trusted (Codex ignores `.codex/` otherwise) and each
//!   Warden hook trusted (`[hooks.state."<file>:<event>:<group>:<handler>"] trusted_hash`):
//!   Codex runs a non-managed hook only once its current hash is recorded as trusted, and the
//!   user installing Warden's hook with this command is that review. The hash is Codex's own:
//!   SHA-256 over the sorted, compact JSON of the hook's normalized identity.

use super::config::{bad, codex_home, fail, load, set, store, table, trust_project};
use crate::exit::CmdResult;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::ExitCode;

/// The events Warden answers: the name in hooks.json, Codex's key label for it, and the timeout
/// (seconds) Codex gives the hook (a `sync` call waits for a person, as long as a route may take).
pub const EVENTS: [(&str, &str, u64); 3] = [
    ("PreToolUse", "pre_tool_use", 3600),
    ("PermissionRequest", "permission_request", 3600),
    ("PostToolUse", "post_tool_use", 60),
];

/// What marks a hook command as Warden's (whatever path the binary had when it was written).
const MARK: &str = " hook codex";

/// One of Warden's handlers in hooks.json, where Codex's trust record names it.
#[derive(Debug, PartialEq, Eq)]
pub struct Placed {
    pub label: &'static str,
    pub group: usize,
    pub handler: usize,
    pub hash: String,
}

/// Merge Warden's hooks into `doc` (hooks.json); returns whether anything changed. With `force`
/// an existing Warden hook is pointed at `command` (e.g. after moving the binary).
pub fn merge(doc: &mut Value, command: &str, force: bool) -> Result<bool, String> {
    let events = EVENTS.map(|(event, _, timeout)| (event, timeout));
    crate::agents::settings_file::merge_grouped_hooks(
        doc,
        &events,
        command,
        force,
        MARK,
        |command, timeout| {
            json!({
                "hooks": [{ "type": "command", "command": command, "timeout": timeout }],
            })
        },
    )
}

/// Warden's handlers running `command` in hooks.json, with the hash Codex trusts them by.
pub fn placed(doc: &Value, command: &str) -> Vec<Placed> {
    let mut out = Vec::new();
    for (event, label, _) in EVENTS {
        let groups = doc["hooks"][event].as_array().into_iter().flatten();
        for (g, group) in groups.enumerate() {
            let matcher = group.get("matcher").and_then(Value::as_str);
            let list = group.get("hooks").and_then(Value::as_array);
            for (i, h) in list.into_iter().flatten().enumerate() {
                if h.get("command").and_then(Value::as_str) != Some(command) {
                    continue;
                }
                let timeout = h
                    .get("timeout")
                    .and_then(Value::as_u64)
                    .unwrap_or(600)
                    .max(1);
                let is_async = h.get("async").and_then(Value::as_bool).unwrap_or(false);
                out.push(Placed {
                    label,
                    group: g,
                    handler: i,
                    hash: trust_hash(label, matcher, command, timeout, is_async),
                });
            }
        }
    }
    out
}

/// Codex's trust hash of a command hook: `sha256:` + hex SHA-256 of the compact JSON, keys
/// sorted, of `{event_name, matcher?, hooks: [{type, command, timeout, async}]}`.
pub fn trust_hash(
    label: &str,
    matcher: Option<&str>,
    command: &str,
    timeout: u64,
    is_async: bool,
) -> String {
    let mut identity = json!({
        "event_name": label,
        "hooks": [{ "type": "command", "command": command, "timeout": timeout, "async": is_async }],
    });
    if let Some(m) = matcher {
        identity["matcher"] = m.into();
    }
    let text = serde_json::to_string(&sorted(&identity)).unwrap_or_default();
    let digest: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{digest}")
}

/// `v` with every object's keys in sorted order (whatever map order serde_json was built with).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Write Codex's hook configuration for the repository at `root`.
pub fn init(root: &Path, force: bool) -> CmdResult {
    let root = std::fs::canonicalize(root).map_err(|e| fail(root, e))?;
    let root_text = root.to_string_lossy().into_owned();
    let command = crate::agents::hook_command(MARK)?;

    // 1. The hooks (the user's: Codex reads none from the project).
    let hooks_path = codex_home().join("hooks.json");
    let mut doc = match std::fs::read_to_string(&hooks_path) {
        Ok(text) if text.trim().is_empty() => json!({}),
        Ok(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
            bad(
                &hooks_path,
                format!(
                    "not valid JSON (line {} column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => json!({}),
        Err(e) => return Err(fail(&hooks_path, e)),
    };
    let changed = merge(&mut doc, &command, force).map_err(|msg| bad(&hooks_path, msg))?;
    if changed {
        let dir = hooks_path.parent().unwrap_or(&root);
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
        let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        text.push('\n');
        let tmp = dir.join(".hooks.json.warden-tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &hooks_path))
            .map_err(|e| fail(&hooks_path, e))?;
        println!(
            "wrote {}: Codex now asks `warden hook codex` before, during and after every tool call",
            hooks_path.display()
        );
    } else {
        println!("unchanged {}", hooks_path.display());
    }
    let ours = placed(&doc, &command);
    if ours.len() < EVENTS.len() {
        stderr_line!(
            "warden: {} names another warden binary; rerun with --force to point it at this one",
            hooks_path.display()
        );
    }

    // 2. The project layer: Codex's sandbox off, Warden's sandbox around each command.
    let project = root.join(".codex").join("config.toml");
    let (before, mut pdoc) = load(&project)?;
    let mut notes = Vec::new();
    set(
        pdoc.as_table_mut(),
        "sandbox_mode",
        "danger-full-access",
        &mut notes,
    );
    if let Some(features) = pdoc.get_mut("features").and_then(|f| f.as_table_mut()) {
        for key in ["shell_tool", "unified_exec"] {
            if features.get(key).and_then(|v| v.as_bool()) == Some(false) {
                features.remove(key);
                notes.push(format!(
                    "features.{key} = false removed (Codex's shell is governed by the hook)"
                ));
            }
        }
    }
    store(&project, &before, &pdoc)?;
    for n in &notes {
        println!("  {n}");
    }

    // 3. Trust: the project, and each of Warden's hooks at its current hash.
    let user = codex_home().join("config.toml");
    let (before, mut udoc) = load(&user)?;
    let mut notes = Vec::new();
    if !trust_project(&mut udoc, &user, &root_text, force, &mut notes)? {
        println!("unchanged {}", user.display());
        return Ok(ExitCode::SUCCESS);
    }
    let hooks = table(udoc.as_table_mut(), "hooks", true, &user)?;
    let state = table(hooks, "state", true, &user)?;
    for p in &ours {
        let key = format!(
            "{}:{}:{}:{}",
            hooks_path.display(),
            p.label,
            p.group,
            p.handler
        );
        let entry = table(state, &key, false, &user)?;
        set(entry, "trusted_hash", p.hash.as_str(), &mut notes);
    }
    store(&user, &before, &udoc)?;
    for n in &notes {
        println!("  {n}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_hash_is_codexs() {
        // What Codex 0.169's `hooks/list` reported as `currentHash` for a PreToolUse hook
        // `{"type": "command", "command": "/work/wt/h-codex/target/tmp/cx/hook.py"}` (no matcher,
        // default timeout 600).
        assert_eq!(
            trust_hash(
                "pre_tool_use",
                None,
                "/work/wt/h-codex/target/tmp/cx/hook.py",
                600,
                false
            ),
            "sha256:2309d4cc6258cae2b3d85121b4b614770e1b8b34b4a9d800611efbe236809054"
        );
    }

    #[test]
    fn merge_keeps_other_hooks_and_is_idempotent() {
        let mut doc = json!({
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "lint.sh"}]}]}
        });
        let cmd = "'/w/warden' hook codex";
        assert_eq!(merge(&mut doc, cmd, false), Ok(true));
        let once = doc.clone();
        assert_eq!(merge(&mut doc, cmd, false), Ok(false));
        assert_eq!(doc, once);
        assert_eq!(doc["hooks"]["PreToolUse"].as_array().map(Vec::len), Some(2));
        let p = placed(&doc, cmd);
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].label, p[0].group, p[0].handler),
            ("pre_tool_use", 1, 0)
        );
        assert_eq!(merge(&mut doc, "'/v/warden' hook codex", true), Ok(true));
        assert!(placed(&doc, cmd).is_empty());
        assert!(merge(&mut json!({"hooks": []}), cmd, false).is_err());
    }
}
