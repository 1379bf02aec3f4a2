//! Gemini CLI: its hook protocol (BeforeTool / AfterTool in `settings.json`; the payload carries
//! `session_id`, `cwd`, `tool_name`, `tool_input`, and for AfterTool `tool_response`, but no tool
//! call id), the mapping of its tools onto actions, the answers it accepts, and `warden init
//! --agent gemini`, which installs the hook in the project's `.gemini/settings.json` and trusts the
//! folder (Gemini runs a project's hooks only in a trusted folder).
//!
//! What Gemini CLI 0.61 does with a BeforeTool answer (read from its bundle,
//! `executeToolWithHooks`): `decision` `deny`/`block` refuses the call with the reason shown to
//! the model; `hookSpecificOutput.tool_input` is merged into the call's parameters (so the shell
//! command can be rewritten); there is no `ask`. The hook runs after Gemini's own confirmation,
//! so with Gemini's approval mode `default` a person confirms first and Warden decides after.
//! AfterTool sees the parameters as run (rewritten), which is how its outcome is tied to the
//! intent (see `warden hook gemini`).

use super::claude_code::{self, Answer, InputError, redact};
use super::settings_file;
use crate::exit::{CliError, CmdResult};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden_policy::Action;

/// The agent name written into every record the hook makes.
pub const AGENT: &str = "gemini";

/// What marks a hook command as Warden's.
const MARK: &str = " hook gemini";

/// The events Warden answers, with their timeouts in milliseconds (Gemini's unit): a `sync`
/// BeforeTool waits for a person.
const EVENTS: [(&str, u64); 2] = [("BeforeTool", 3_600_000), ("AfterTool", 60_000)];

/// The hook event in Claude Code's words, which the shared hook path speaks.
pub fn event(name: &str) -> Option<&'static str> {
    match name {
        "BeforeTool" => Some("PreToolUse"),
        "AfterTool" => Some("PostToolUse"),
        _ => None,
    }
}

/// The action a Gemini tool call asks for: shell for `run_shell_command`, reads for the file and
/// directory readers, writes for `write_file` and `replace`, and a tool call (decided by the
/// governance file's tool rules) for everything else, MCP tools included.
pub fn tool_action(tool: &str, input: &Value, cwd: &Path) -> Result<Action, InputError> {
    let dir = |names: &[&str]| -> PathBuf {
        let p = names
            .iter()
            .find_map(|n| input.get(*n).and_then(Value::as_str))
            .filter(|p| !p.is_empty());
        warden_policy::normalise_path(&p.map_or_else(|| cwd.to_path_buf(), |p| cwd.join(p)))
    };
    let as_claude = |name: &str| claude_code::tool_action(name, input, Some(cwd));
    match tool {
        "run_shell_command" => as_claude("Bash"),
        "read_file" => as_claude("Read"),
        "write_file" => as_claude("Write"),
        "replace" => as_claude("Edit"),
        "list_directory" | "glob" => Ok(Action::Read {
            path: dir(&["dir_path", "path"]),
            recursive: false,
        }),
        // Content searches read every file below the directory.
        "search_file_content" | "grep_search" => Ok(Action::Read {
            path: dir(&["dir_path", "path"]),
            recursive: true,
        }),
        _ => Ok(Action::Tool {
            name: tool.to_owned(),
            arguments: input.clone(),
        }),
    }
}

/// The BeforeTool answer (secrets in the reason masked).
pub fn before_tool_json(answer: &Answer) -> Value {
    match answer {
        Answer::Allow { reason, updated } => {
            let mut out = json!({ "decision": "allow", "reason": redact(reason) });
            if let Some(u) = updated {
                out["hookSpecificOutput"] = json!({ "hookEventName": "BeforeTool", "tool_input": Value::Object(u.clone()) });
            }
            out
        }
        Answer::Ask { reason, .. } | Answer::Deny { reason } => {
            json!({ "decision": "deny", "reason": redact(reason) })
        }
    }
}

/// Merge Warden's hooks into a Gemini `settings.json` document; returns whether anything changed.
pub fn merge(doc: &mut Value, command: &str, force: bool) -> Result<bool, String> {
    settings_file::merge_grouped_hooks(doc, &EVENTS, command, force, MARK, |command, timeout| {
        json!({
            "matcher": ".*",
            "hooks": [{ "type": "command", "name": "warden", "command": command, "timeout": timeout }],
        })
    })
}

/// Gemini's user directory: `$GEMINI_CLI_HOME/.gemini` if set, else `~/.gemini`.
pub fn gemini_dir() -> PathBuf {
    std::env::var_os("GEMINI_CLI_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(crate::policy_load::home)
        .join(".gemini")
}

/// Write Gemini CLI's configuration for the repository at `root`.
pub fn init(root: &Path, force: bool) -> CmdResult {
    let root = std::fs::canonicalize(root).map_err(|e| {
        CliError::failure(miette::miette!("cannot resolve {}: {e}", root.display()))
    })?;
    let command = super::hook_command(MARK)?;

    let settings = root.join(".gemini").join("settings.json");
    let mut doc = settings_file::read(&settings, &settings_file::fix_and_rerun("gemini"), || {
        json!({})
    })?;
    let changed = merge(&mut doc, &command, force).map_err(|msg| {
        CliError::bad_input(miette::miette!(
            help = "Gemini's settings put hooks under {{\"hooks\": {{\"BeforeTool\": [{{\"matcher\": …, \"hooks\": [...]}}]}}}}; the file was not changed",
            "{}: {msg}",
            settings.display()
        ))
    })?;
    if changed {
        settings_file::write(&settings, &doc)?;
        println!("wrote {}", settings.display());
    } else {
        println!("unchanged {}", settings.display());
    }

    // Gemini runs a project's hooks only in a folder the user trusts.
    let trusted = gemini_dir().join("trustedFolders.json");
    let mut folders =
        settings_file::read(&trusted, &settings_file::fix_and_rerun("gemini"), || {
            json!({})
        })?;
    let map = folders.as_object_mut().ok_or_else(|| {
        CliError::bad_input(miette::miette!(
            "{}: the top level is not a JSON object",
            trusted.display()
        ))
    })?;
    let key = root.to_string_lossy().into_owned();
    match map.get(&key).and_then(Value::as_str) {
        Some("TRUST_FOLDER") | Some("TRUST_PARENT") => {
            println!("unchanged {}", trusted.display());
        }
        Some(other) if !force => {
            stderr_line!(
                "warden: Gemini marks {key} {other}, so it runs no project hooks there; \
                 trust it in Gemini or rerun with --force"
            );
        }
        _ => {
            map.insert(key, "TRUST_FOLDER".into());
            settings_file::write(&trusted, &folders)?;
            println!("wrote {}", trusted.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_map_onto_actions() {
        let cwd = Path::new("/w");
        assert!(matches!(
            tool_action("run_shell_command", &json!({"command": "ls"}), cwd),
            Ok(Action::Shell { .. })
        ));
        assert_eq!(
            tool_action(
                "write_file",
                &json!({"file_path": "a.txt", "content": "x"}),
                cwd
            ),
            Ok(Action::Write {
                path: "/w/a.txt".into()
            })
        );
        assert_eq!(
            tool_action("glob", &json!({"pattern": "*.rs"}), cwd),
            Ok(Action::Read {
                path: "/w".into(),
                recursive: false
            })
        );
        assert!(matches!(
            tool_action("mcp_x_y", &json!({}), cwd),
            Ok(Action::Tool { .. })
        ));
    }

    #[test]
    fn answers_are_in_the_shapes_gemini_reads() {
        let deny = before_tool_json(&Answer::Deny {
            reason: "no".into(),
        });
        assert_eq!(deny, json!({"decision": "deny", "reason": "no"}));
        let allow = before_tool_json(&Answer::Allow {
            reason: "ok".into(),
            updated: Some(serde_json::Map::from_iter([("command".into(), "x".into())])),
        });
        assert_eq!(allow["hookSpecificOutput"]["tool_input"]["command"], "x");
    }

    #[test]
    fn merge_is_idempotent() {
        let mut doc = json!({"theme": "x"});
        assert_eq!(merge(&mut doc, "'/w' hook gemini", false), Ok(true));
        let once = doc.clone();
        assert_eq!(merge(&mut doc, "'/w' hook gemini", false), Ok(false));
        assert_eq!(doc, once);
        assert_eq!(doc["theme"], "x");
        assert!(merge(&mut json!({"hooks": []}), "c", false).is_err());
    }
}
