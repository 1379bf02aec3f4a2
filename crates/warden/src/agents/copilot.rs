//! GitHub Copilot CLI: its hook protocol (`preToolUse` / `postToolUse` in `.github/hooks/*.json`;
//! the payload carries `sessionId`, `cwd`, `toolName`, `toolArgs`, and for postToolUse
//! `toolResult`, but neither the event name nor a tool call id), the mapping of its tools onto
//! actions, the answers it accepts, and `warden init --agent copilot`, which puts Warden's hooks
//! into the user's `~/.copilot/settings.json` (`hooks`, the same schema as a repository's
//! `.github/hooks/*.json`, which Copilot runs only in folders trusted in its own state).
//!
//! What Copilot CLI 1.0.102 accepts from a preToolUse hook (its SDK's `PreToolUseHookOutput`,
//! checked against the real CLI): `permissionDecision` `allow` / `deny` / `ask` with
//! `permissionDecisionReason`, and `modifiedArgs`, which replaces the tool's arguments (so the
//! shell command can be rewritten). Its postToolUse payload carries the arguments as run
//! (rewritten), which is how an outcome is tied to its intent (see `warden hook copilot`).

use super::claude_code::{self, Answer, InputError, redact, sh_quote};
use super::settings_file;
use crate::exit::{CliError, CmdResult};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden_policy::Action;

/// The agent name written into every record the hook makes.
pub const AGENT: &str = "copilot";

/// The events Warden answers, in Claude Code's words for the shared hook path, with the
/// timeout (seconds) Copilot gives the hook: a `sync` preToolUse waits for a person.
const EVENTS: [(&str, &str, u64); 2] = [
    ("preToolUse", "PreToolUse", 3600),
    ("postToolUse", "PostToolUse", 60),
];

/// The hook event in Claude Code's words (Copilot's payload does not name it: the hook command
/// does, with `--event`).
pub fn event(name: &str) -> Option<&'static str> {
    EVENTS
        .iter()
        .find(|(ours, _, _)| *ours == name)
        .map(|(_, claude, _)| *claude)
}

/// A Copilot hook payload (other fields are ignored: the protocol grows).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub session_id: String,
    pub cwd: PathBuf,
    pub tool_name: String,
    #[serde(default)]
    pub tool_args: Value,
    #[serde(default)]
    pub tool_result: Option<Value>,
}

impl Payload {
    /// The payload in the shape the shared hook path reads. Copilot may send `toolArgs` as a
    /// JSON text; it is parsed. Anything but an object is refused by the caller.
    pub fn into_hook_input(self, event: &str) -> Result<claude_code::HookInput, String> {
        let args = match self.tool_args {
            Value::String(text) => serde_json::from_str(&text)
                .map_err(|e| format!("`toolArgs` is a text that is not JSON: {e}"))?,
            Value::Null => Value::Object(Map::new()),
            other => other,
        };
        let Value::Object(tool_input) = args else {
            return Err("`toolArgs` is not a JSON object".into());
        };
        Ok(claude_code::HookInput {
            session_id: self.session_id,
            cwd: self.cwd,
            hook_event_name: event.into(),
            tool_name: self.tool_name,
            tool_input,
            tool_use_id: None,
            tool_response: self.tool_result,
            error: None,
            is_interrupt: None,
            duration_ms: None,
        })
    }
}

/// The action a Copilot tool call asks for: shell for `bash`, reads for `view`, writes for
/// `create` and `edit`, and a tool call (decided by the governance file's tool rules) for
/// everything else, MCP tools included.
pub fn tool_action(tool: &str, input: &Value, cwd: &Path) -> Result<Action, InputError> {
    let path = |claude: &str| {
        let mut renamed = input.clone();
        if let Some(p) = input.get("path") {
            renamed["file_path"] = p.clone();
        }
        claude_code::tool_action(claude, &renamed, Some(cwd))
    };
    match tool {
        "bash" => claude_code::tool_action("Bash", input, Some(cwd)),
        "view" => path("Read"),
        "create" | "edit" => path("Write"),
        _ => Ok(Action::Tool {
            name: tool.to_owned(),
            arguments: input.clone(),
        }),
    }
}

/// The preToolUse answer (secrets in the reason masked).
pub fn pre_tool_use_json(answer: &Answer) -> Value {
    let (decision, reason, updated) = match answer {
        Answer::Allow { reason, updated } => ("allow", reason, updated.as_ref()),
        Answer::Ask { reason, updated } => ("ask", reason, updated.as_ref()),
        Answer::Deny { reason } => ("deny", reason, None),
    };
    let mut out =
        json!({ "permissionDecision": decision, "permissionDecisionReason": redact(reason) });
    if let Some(u) = updated {
        out["modifiedArgs"] = Value::Object(u.clone());
    }
    out
}

/// Copilot's user directory: `$COPILOT_HOME` if set, else `~/.copilot`.
pub fn copilot_dir() -> PathBuf {
    std::env::var_os("COPILOT_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::policy_load::home().join(".copilot"))
}

/// The hook command for the warden binary at `exe` and one event.
fn hook_command(exe: &str, event: &str) -> String {
    format!("{} hook copilot --event {event}", sh_quote(exe))
}

/// Merge Warden's hooks into Copilot's user `settings.json` document (`hooks`, keyed by event,
/// the schema of `.github/hooks/*.json`); returns whether anything changed. With `force` an
/// existing Warden hook is pointed at this binary.
pub fn merge(doc: &mut Value, exe: &str, force: bool) -> Result<bool, String> {
    let root = doc
        .as_object_mut()
        .ok_or("the top level is not a JSON object")?;
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or("`hooks` is not a JSON object")?;
    let mut changed = false;
    for (event, _, timeout) in EVENTS {
        let command = hook_command(exe, event);
        let mark = format!(" hook copilot --event {event}");
        let list = hooks
            .entry(event)
            .or_insert_with(|| Value::Array(vec![]))
            .as_array_mut()
            .ok_or_else(|| format!("`hooks.{event}` is not a JSON array"))?;
        let mut found = false;
        for h in list.iter_mut() {
            let ours = h
                .get("bash")
                .and_then(Value::as_str)
                .is_some_and(|c| c.trim_end().ends_with(&mark));
            if ours {
                found = true;
                if force && h.get("bash").and_then(Value::as_str) != Some(command.as_str()) {
                    h["bash"] = command.clone().into();
                    changed = true;
                }
            }
        }
        if !found {
            list.push(json!({ "type": "command", "bash": command, "timeoutSec": timeout }));
            changed = true;
        }
    }
    Ok(changed)
}

/// Write GitHub Copilot CLI's configuration for the repository at `root`: Warden's hooks among
/// the user's (Copilot runs a repository's own `.github/hooks/` only in a folder the user
/// trusted, a state kept inside Copilot; user-level hooks run everywhere, and `warden hook
/// copilot` governs the calls made in workspaces with a `.warden/` directory and stays out of
/// the way elsewhere).
pub fn init(root: &Path, force: bool) -> CmdResult {
    let _ = std::fs::canonicalize(root).map_err(|e| {
        CliError::failure(miette::miette!("cannot resolve {}: {e}", root.display()))
    })?;
    let exe = super::own_exe()?;
    let settings = copilot_dir().join("settings.json");
    let mut doc = settings_file::read(&settings, &settings_file::fix_and_rerun("copilot"), || {
        json!({})
    })?;
    merge(&mut doc, &exe, force).map_err(|msg| {
        CliError::bad_input(miette::miette!(
            help = "Copilot's settings put hooks under {{\"hooks\": {{\"preToolUse\": [{{\"type\": \"command\", \"bash\": …}}]}}}}; the file was not changed",
            "{}: {msg}",
            settings.display()
        ))
    })?;
    if settings_file::write(&settings, &doc)? {
        println!("wrote {}", settings.display());
    } else {
        println!("unchanged {}", settings.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_and_answers() {
        let p: Payload = serde_json::from_value(json!({
            "sessionId": "s", "timestamp": 1, "cwd": "/w", "toolName": "bash",
            "toolArgs": "{\"command\": \"ls\"}"
        }))
        .unwrap();
        let input = p.into_hook_input("PreToolUse").unwrap();
        assert_eq!(input.tool_input["command"], "ls");
        assert_eq!(
            tool_action("view", &json!({"path": "a.txt"}), Path::new("/w")),
            Ok(Action::Read {
                path: "/w/a.txt".into(),
                recursive: false,
            })
        );
        let a = pre_tool_use_json(&Answer::Allow {
            reason: "ok".into(),
            updated: Some(Map::from_iter([("command".into(), "x".into())])),
        });
        assert_eq!(a["permissionDecision"], "allow");
        assert_eq!(a["modifiedArgs"]["command"], "x");
        assert_eq!(event("preToolUse"), Some("PreToolUse"));
        let mut doc = json!({"model": "x"});
        assert_eq!(merge(&mut doc, "/w", false), Ok(true));
        assert_eq!(merge(&mut doc, "/w", false), Ok(false));
        assert_eq!(
            doc["hooks"]["postToolUse"][0]["bash"],
            "'/w' hook copilot --event postToolUse"
        );
        assert_eq!(event("sessionStart"), None);
    }
}
